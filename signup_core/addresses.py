"""Email address validation, normalisation and the keyed blind index used for look-ups."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable

import idna  # email_validator's own IDNA library, so the wire form matches what it accepted
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

MAX_ADDRESS_LENGTH = 254

# Most addresses are plain ASCII: a dot-atom local part (RFC 5322 atext, as email_validator's)
# and a domain of letters, digits, hyphens and dots. For those, normalise() can answer without
# validate_email, whose checks of the domain (IDNA, UTS 46) were ~2/3 of its ~66 µs.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@([A-Za-z0-9.-]+)")
# Role mailboxes that validate_email lower-cases (RFC 2142 says they are case-insensitive).
ROLE_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


class InvalidAddress(ValueError):
    """The address cannot be accepted; the message is safe to show the person who typed it."""


NEEDS_SMTPUTF8 = (
    "We cannot send mail to an address with characters such as ü or é before the @. "
    "Please use another address."
)


def normalise(raw: str, *, check_deliverability: bool = False, smtputf8: bool = True) -> str:
    """The address as we store it: IDN and Unicode normalised, domain lower-cased. A non-ASCII
    local part is refused when `smtputf8` is false: signup passes whether the relay can deliver
    it; a provider's event about an address must still find it."""
    if not check_deliverability:
        plain = _plain(raw)
        if plain is not None:
            return plain
    return validated(raw, check_deliverability=check_deliverability, smtputf8=smtputf8)


def validated(raw: str, *, check_deliverability: bool = False, smtputf8: bool = True) -> str:
    """normalise() without its fast path: validate_email's answer for every address (and the
    reference the fast path is tested against)."""
    if len(raw) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("The email address is too long.")
    try:
        result = validate_email(raw, check_deliverability=check_deliverability)
    except EmailNotValidError as e:
        raise InvalidAddress(str(e)) from None
    if not smtputf8 and not result.local_part.isascii():
        raise InvalidAddress(NEEDS_SMTPUTF8)
    return result.normalized


def _plain(raw: str) -> str | None:
    """What validate_email makes of a plain ASCII address it accepts, or None when the address
    is not plain or its domain is not accepted as it is (the caller then asks validate_email,
    whose refusal says why). Exact, not an approximation: for such an address validate_email
    keeps the local part (lower-casing only the role names), checks the domain on its own, and
    the lengths it checks are all len(raw). tests/unit/test_addresses.py holds the two to
    agreeing on generated addresses."""
    found = _PLAIN.fullmatch(raw) if len(raw) <= MAX_ADDRESS_LENGTH else None
    if found is None:
        return None
    local, domain = found.groups()
    domain = _plain_domain(domain)
    if domain is None:
        return None
    if local.lower() in ROLE_NAMES:
        local = local.lower()
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | None:
    """The domain lower-cased if validate_email accepts it and writes it so, else None. Its
    verdict on a domain does not depend on the local part, and most signups share a few
    domains: cached, bounded so that a stream of made-up domains cannot grow it."""
    try:
        checked = validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None
    # An xn-- domain comes back in Unicode: left to validate_email, which also checks the
    # address's length in that form.
    return checked if checked == domain.lower() else None


def wire_address(address: str) -> str:
    """The address as it goes into the envelope and To: its domain in IDNA ASCII form
    (UTS 46, as email_validator, so `straße.de` stays itself, not `strasse.de`). The local
    part is unchanged: if it is not ASCII, only SMTPUTF8 can carry it."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise InvalidAddress("not an address")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        raise InvalidAddress("the domain has no IDNA form") from None


def keyed_hash(key: bytes, purpose: str, data: bytes, size: int = 32) -> bytes:
    """Keyed BLAKE2b (RFC 7693's MAC mode), one `purpose` per use so no two uses can collide.
    Not HMAC-SHA256: OpenSSL 3 looks the digest up on every HMAC call, which made these
    hashes, several per signup, a visible share of the request's CPU."""
    if len(key) > hashlib.blake2b.MAX_KEY_SIZE:
        key = hashlib.blake2b(key).digest()  # as HMAC does with keys longer than a block
    return hashlib.blake2b(data, key=key, person=purpose.encode(), digest_size=size).digest()


def blind_index(key: bytes, address: str) -> bytes:
    """Keyed hash of the case-folded address: equal for every spelling of one mailbox."""
    return keyed_hash(key, "email", address.casefold().encode())


def blind_indexes(key: bytes, addresses: Iterable[str]) -> list[bytes]:
    """blind_index() of each address, for an import's batch: the keyed state is made once and
    copied per address (keying BLAKE2b costs a compression of its own)."""
    if len(key) > hashlib.blake2b.MAX_KEY_SIZE:
        key = hashlib.blake2b(key).digest()  # as keyed_hash does
    keyed = hashlib.blake2b(key=key, person=b"email", digest_size=32)
    found = []
    for address in addresses:
        h = keyed.copy()
        h.update(address.casefold().encode())
        found.append(h.digest())
    return found


def derived_ip_key(base: bytes) -> bytes:
    """The consent IP key made from a longer-lived key under its own purpose, so a consent
    hash never equals any other hash made with that key."""
    return keyed_hash(base, "consent-ip-key", b"")


def hash_ip(key: bytes, ip: str | None) -> bytes | None:
    """A keyed hash of the client IP for the consent record; the IP itself is never stored."""
    if not ip:
        return None
    return keyed_hash(key, "consent-ip", ip.encode())
