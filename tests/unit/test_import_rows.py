"""Import rows without I/O: the list-speed address check agrees with normalise() everywhere."""

from __future__ import annotations

import pytest

from signup_core.addresses import InvalidAddress, normalise
from signup_core.import_rows import address_of

ADDRESSES = [
    "Ada@Example.COM", "a.b-c+tag@sub.example.co.uk", '"john doe"@example.com',
    '"a@b"@example.com', "user@xn--bcher-kva.example", "user@bücher.example", "üser@example.com",
    "x@localhost", "x@example", "x@-bad-.com", "no-at-sign", "@example.com", "a@",
    "a..b@example.com", "a@example..com", "\uff41@example.com", "a@EXAMPLE.com",
    "a@123.123.123.123", "a@[192.0.2.1]",
    ("l" * 64) + "@example.com", ("l" * 65) + "@example.com", "a@" + "d" * 250 + ".com",
    ("l" * 64) + "@" + ("d" * 63 + ".") * 3 + "com", "a b@example.com", "a@exam ple.com",
]  # fmt: skip


def _outcome(check, address: str, smtputf8: bool) -> str:
    try:
        return check(address, smtputf8)
    except InvalidAddress:
        return "invalid"


@pytest.mark.parametrize("smtputf8", [True, False])
@pytest.mark.parametrize("address", ADDRESSES)
def test_address_of_agrees_with_normalise(address, smtputf8):
    full = _outcome(lambda a, u: normalise(a, smtputf8=u), address, smtputf8)
    assert _outcome(address_of, address, smtputf8) == full


def test_address_of_agrees_with_normalise_on_generated_local_parts():
    import random

    rng = random.Random(7)
    alphabet = "abcXYZ019!#$%&'*+/=?^_`{|}~-.\"\\ @()[]<>,;:üé\t"
    for _ in range(3000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 70)))
        for domain in ("example.com", "Example.ORG", "bücher.example"):
            address = f"{local}@{domain}"
            full = _outcome(lambda a, u: normalise(a, smtputf8=u), address, True)
            assert _outcome(address_of, address, True) == full, address
