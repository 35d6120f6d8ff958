"""Email address validation, normalisation and the keyed blind index used for look-ups."""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254


class InvalidAddress(ValueError):
    """The address cannot be accepted; the message is safe to show the person who typed it."""


def normalise(raw: str, *, check_deliverability: bool = False) -> str:
    """The address as we store and mail it: IDN and Unicode normalised, domain lower-cased."""
    if len(raw) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("The email address is too long.")
    try:
        result = validate_email(raw, check_deliverability=check_deliverability)
    except EmailNotValidError as e:
        raise InvalidAddress(str(e)) from None
    return result.normalized


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


def hash_ip(key: bytes, ip: str | None) -> bytes | None:
    """A keyed hash of the client IP for the consent record; the IP itself is never stored."""
    if not ip:
        return None
    return keyed_hash(key, "consent-ip", ip.encode())
