"""Signed one-click unsubscribe links (RFC 8058): they name a subscription by its random
unsubscribe id, never by its row number, and never expire."""

from __future__ import annotations

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
    keys = [settings.signing_key.value]
    if settings.signing_key_previous is not None:
        keys.insert(0, settings.signing_key_previous.value)
    return URLSafeSerializer(keys, salt=SALT)


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
