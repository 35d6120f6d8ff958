"""Which address is the client's: forwarded headers count only from trusted proxies, and only
the one header the operator's proxy writes."""

from __future__ import annotations

import ipaddress

import pytest

from signup_api.client_address import resolve
from signup_api.ratelimit import network
from signup_core.settings import ConfigError, load_settings

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


@pytest.mark.parametrize(
    ("peer", "given", "expected"),
    [
        ("198.51.100.1", headers(x_forwarded_for="1.2.3.4"), "198.51.100.1"),  # untrusted peer
        ("10.0.0.5", headers(x_forwarded_for="1.2.3.4"), "1.2.3.4"),
        ("10.0.0.5", headers(x_forwarded_for="6.6.6.6, 1.2.3.4, 10.1.1.1"), "1.2.3.4"),
        ("10.0.0.5", headers(x_forwarded_for="not-an-ip, 1.2.3.4"), "1.2.3.4"),
        ("10.0.0.5", headers(x_forwarded_for="1.2.3.4, garbage"), "10.0.0.5"),
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", headers(x_forwarded_for="10.0.0.9"), "10.0.0.5"),  # all hops trusted
        ("10.0.0.5", headers(x_forwarded_for="1.2.3.4:5678"), "1.2.3.4"),
        ("fd00::1", headers(x_forwarded_for="2001:db8::7"), "2001:db8::7"),
        # a client's own line first, the proxy's appended line after: read as one list
        (
            "10.0.0.5",
            [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"1.2.3.4")],
            "1.2.3.4",
        ),
    ],
)
def test_resolve_x_forwarded_for(peer, given, expected):
    assert resolve(peer, given, TRUSTED, "x-forwarded-for") == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (headers(forwarded='for=192.0.2.60;proto=http, for="[2001:db8::1]"'), "2001:db8::1"),
        (headers(forwarded='for="192.0.2.60:4711"'), "192.0.2.60"),
        (headers(forwarded="for=6.6.6.6, for=192.0.2.60, for=10.0.0.9"), "192.0.2.60"),
        (headers(forwarded="for=unknown"), "10.0.0.5"),
    ],
)
def test_resolve_forwarded(given, expected):
    assert resolve("10.0.0.5", given, TRUSTED, "forwarded") == expected


def test_with_x_forwarded_for_chosen_a_client_sent_forwarded_is_ignored():
    forged = headers(forwarded="for=6.6.6.6")
    assert resolve("10.0.0.5", forged, TRUSTED, "x-forwarded-for") == "10.0.0.5"
    both = headers(forwarded="for=6.6.6.6", x_forwarded_for="1.2.3.4")
    assert resolve("10.0.0.5", both, TRUSTED, "x-forwarded-for") == "1.2.3.4"


def test_with_forwarded_chosen_a_client_sent_x_forwarded_for_is_ignored():
    forged = headers(x_forwarded_for="6.6.6.6")
    assert resolve("10.0.0.5", forged, TRUSTED, "forwarded") == "10.0.0.5"
    both = headers(x_forwarded_for="6.6.6.6", forwarded="for=1.2.3.4")
    assert resolve("10.0.0.5", both, TRUSTED, "forwarded") == "1.2.3.4"


def test_nothing_is_trusted_by_default():
    assert resolve("10.0.0.5", headers(x_forwarded_for="1.2.3.4"), (), "x-forwarded-for") == (
        "10.0.0.5"
    )


REQUIRED = {
    "DATABASE_URL": "postgresql://x@localhost/x",
    "REDIS_URL": "redis://localhost/0",
    "PUBLIC_BASE_URL": "https://news.example.com",
    "SIGNUP_BLIND_INDEX_KEY": "k" * 32,
    "SIGNUP_SIGNING_KEY": "s" * 32,
    "SIGNUP_SEAL_KEYS": "k1:" + "A" * 43,
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "x-forwarded-for"), ("forwarded", "forwarded"), ("X-Forwarded-For", "x-forwarded-for")],
)
def test_forwarded_header_setting(value, expected):
    env = REQUIRED if value is None else {**REQUIRED, "SIGNUP_FORWARDED_HEADER": value}
    assert load_settings(env).forwarded_header == expected


def test_an_unknown_forwarded_header_stops_start_up():
    with pytest.raises(ConfigError, match="SIGNUP_FORWARDED_HEADER"):
        load_settings({**REQUIRED, "SIGNUP_FORWARDED_HEADER": "x-real-ip"})


@pytest.mark.parametrize(
    ("ip", "net"),
    [("198.51.100.77", "198.51.100.0/24"), ("2001:db8:1:2:3::9", "2001:db8:1:2::/64")],
)
def test_network_of_an_address(ip, net):
    assert network(ip) == net
