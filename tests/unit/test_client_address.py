"""Which address is the client's: forwarded headers count only from trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from signup_api.client_address import resolve
from signup_api.ratelimit import network

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("198.51.100.1", {b"x-forwarded-for": b"1.2.3.4"}, "198.51.100.1"),  # untrusted peer
        ("10.0.0.5", {b"x-forwarded-for": b"1.2.3.4"}, "1.2.3.4"),
        ("10.0.0.5", {b"x-forwarded-for": b"6.6.6.6, 1.2.3.4, 10.1.1.1"}, "1.2.3.4"),
        ("10.0.0.5", {b"x-forwarded-for": b"not-an-ip, 1.2.3.4"}, "1.2.3.4"),
        ("10.0.0.5", {b"x-forwarded-for": b"1.2.3.4, garbage"}, "10.0.0.5"),
        ("10.0.0.5", {}, "10.0.0.5"),
        ("10.0.0.5", {b"x-forwarded-for": b"10.0.0.9"}, "10.0.0.5"),  # all hops trusted
        (
            "10.0.0.5",
            {b"forwarded": b'for=192.0.2.60;proto=http, for="[2001:db8::1]"'},
            "2001:db8::1",
        ),
        ("10.0.0.5", {b"x-forwarded-for": b"1.2.3.4:5678"}, "1.2.3.4"),
        ("fd00::1", {b"x-forwarded-for": b"2001:db8::7"}, "2001:db8::7"),
    ],
)
def test_resolve(peer, headers, expected):
    assert resolve(peer, headers, TRUSTED) == expected


def test_nothing_is_trusted_by_default():
    assert resolve("10.0.0.5", {b"x-forwarded-for": b"1.2.3.4"}, ()) == "10.0.0.5"


@pytest.mark.parametrize(
    ("ip", "net"),
    [("198.51.100.77", "198.51.100.0/24"), ("2001:db8:1:2:3::9", "2001:db8:1:2::/64")],
)
def test_network_of_an_address(ip, net):
    assert network(ip) == net
