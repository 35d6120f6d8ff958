"""Signing outbound events as the Standard Webhooks specification says: the secret in its
"whsec_" form, HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>", sent base64 as
"v1,<signature>" in webhook-signature. The id stays the same on every retry; the timestamp
is the attempt's own, so a receiver's replay window holds for a late retry too."""

from __future__ import annotations

import base64
import hashlib
import hmac


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "content-type": "application/json",
    }
