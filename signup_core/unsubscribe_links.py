"""Signed one-click unsubscribe links (RFC 8058): they name a subscription by its random
unsubscribe id, never by its row number, and never expire."""

from __future__ import annotations

import functools
import uuid

from itsdangerous import BadData, URLSafeSerializer

from signup_core.settings import Settings

SALT = "signet-signup.unsubscribe"

# A link names a subscription's unsubscribe id; an int is the row number that links mailed
# before migration 0004 carry, and they keep working.
LinkId = uuid.UUID | int


def _serializer(settings: Settings) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts all: the previous key keeps old mails'
    # links working through a rotation.
    previous = settings.signing_key_previous
    return _keyed(settings.signing_key.value, previous.value if previous is not None else None)


@functools.lru_cache(maxsize=8)  # made once a key pair: ~2 % of a mail's CPU in the worker
def _keyed(current: str, previous: str | None) -> URLSafeSerializer:
    return URLSafeSerializer([current] if previous is None else [previous, current], salt=SALT)


def sign(settings: Settings, unsubscribe_id: uuid.UUID) -> str:
    return str(_serializer(settings).dumps(unsubscribe_id.hex))


def verify(settings: Settings, token: str) -> LinkId | None:
    try:
        value = _serializer(settings).loads(token)
    except BadData:  # a bad signature, or a signed payload that is not JSON
        return None
    if isinstance(value, str):
        try:
            return uuid.UUID(hex=value)
        except ValueError:
            return None
    # A row number is a bigint: one that does not fit names no row (and would fail the query).
    is_row = isinstance(value, int) and not isinstance(value, bool)
    return value if is_row and 0 < value < 2**63 else None


def url(settings: Settings, unsubscribe_id: uuid.UUID) -> str:
    return f"{settings.public_base_url}/unsubscribe?token={sign(settings, unsubscribe_id)}"
