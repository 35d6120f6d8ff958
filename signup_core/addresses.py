"""Email address validation, normalisation and the keyed blind index used for look-ups."""

from __future__ import annotations

import hmac

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


def blind_index(key: bytes, address: str) -> bytes:
    """HMAC-SHA256 of the case-folded address: equal for every spelling of one mailbox."""
    return hmac.digest(key, b"email:" + address.casefold().encode(), "sha256")


def hash_ip(key: bytes, ip: str | None) -> bytes | None:
    """A keyed hash of the client IP for the consent record; the IP itself is never stored."""
    if not ip:
        return None
    return hmac.digest(key, b"ip:" + ip.encode(), "sha256")
