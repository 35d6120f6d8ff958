"""Email address validation, normalisation and the keyed blind index used for look-ups."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import idna  # email_validator's own IDNA library, so the wire form matches what it accepted
from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254


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
    if len(raw) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("The email address is too long.")
    try:
        result = validate_email(raw, check_deliverability=check_deliverability)
    except EmailNotValidError as e:
        raise InvalidAddress(str(e)) from None
    if not smtputf8 and not result.local_part.isascii():
        raise InvalidAddress(NEEDS_SMTPUTF8)
    return result.normalized


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
