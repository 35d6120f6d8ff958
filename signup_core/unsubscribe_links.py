"""Signed one-click unsubscribe links (RFC 8058): they name a subscription and never expire."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from signup_core.settings import Settings

SALT = "signet-signup.unsubscribe"


def _serializer(settings: Settings) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts all: the previous key keeps old mails'
    # links working through a rotation.
    keys = [settings.signing_key.value]
    if settings.signing_key_previous is not None:
        keys.insert(0, settings.signing_key_previous.value)
    return URLSafeSerializer(keys, salt=SALT)


def sign(settings: Settings, subscription_id: int) -> str:
    return str(_serializer(settings).dumps(subscription_id))


def verify(settings: Settings, token: str) -> int | None:
    try:
        value = _serializer(settings).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def url(settings: Settings, subscription_id: int) -> str:
    return f"{settings.public_base_url}/unsubscribe?token={sign(settings, subscription_id)}"
