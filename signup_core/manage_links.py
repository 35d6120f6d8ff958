"""Signed, expiring links for the subscriber's own controls: the preference page (in every mail
but the confirmation) and the download of their data (mailed on request). A link names the
person by one of their subscriptions' random unsubscribe ids, never by the address or a row
number, and carries the time it was made; each purpose has its own salt, so one kind of link
never opens the other's door."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from signup_core.clock import Clock
from signup_core.settings import Settings

SALTS = {"manage": "signet-signup.manage", "data": "signet-signup.data"}


@dataclass(frozen=True)
class Verdict:
    """What a link says: the subscription it names, or why it names none."""

    unsubscribe_id: uuid.UUID | None
    expired: bool = False


def _ttl(settings: Settings, purpose: str) -> int:
    return settings.manage_link_ttl if purpose == "manage" else settings.data_link_ttl


def _serializer(settings: Settings, purpose: str, clock: Clock) -> URLSafeTimedSerializer:
    class Signer(TimestampSigner):
        # itsdangerous reads time.time(); ours is the injected clock, so tests set the time.
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    # Signed with the newest key; the previous one still opens links made before a rotation.
    keys = [settings.signing_key.value]
    if settings.signing_key_previous is not None:
        keys.insert(0, settings.signing_key_previous.value)
    return URLSafeTimedSerializer(keys, salt=SALTS[purpose], signer=Signer)


def sign(settings: Settings, purpose: str, unsubscribe_id: uuid.UUID, clock: Clock) -> str:
    return str(_serializer(settings, purpose, clock).dumps(unsubscribe_id.hex))


def verify(settings: Settings, purpose: str, token: str, clock: Clock) -> Verdict:
    serializer = _serializer(settings, purpose, clock)
    try:
        value = serializer.loads(token, max_age=_ttl(settings, purpose))
    except SignatureExpired:
        return Verdict(None, expired=True)
    except BadSignature:
        return Verdict(None)
    try:
        return Verdict(uuid.UUID(hex=value) if isinstance(value, str) else None)
    except ValueError:
        return Verdict(None)


def url(settings: Settings, purpose: str, unsubscribe_id: uuid.UUID, clock: Clock) -> str:
    path = "/manage" if purpose == "manage" else "/manage/data"
    return (
        f"{settings.public_base_url}{path}?token={sign(settings, purpose, unsubscribe_id, clock)}"
    )
