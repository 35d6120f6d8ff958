"""Resend's emails API as a transport. Each message carries its Message-ID as Resend's
idempotency key, so a retry after a lost answer cannot send it twice."""

from __future__ import annotations

from typing import Any

import httpx

from signup_core.clock import Clock
from signup_core.mail.http_api import (
    HttpTransport,
    Refusal,
    error_body,
    extra_headers,
    recipient,
)
from signup_core.mail.mime import mailbox as header_mailbox
from signup_core.mail.render import Rendered, one_line
from signup_core.settings import Settings

API = "https://api.resend.com/emails"
# Error names (Resend's documented list) that are our account's or configuration's to fix.
_OURS = {
    "missing_api_key",
    "invalid_api_key",
    "restricted_api_key",
    "invalid_from_address",
    "invalid_access",
}


def to_api(mail: Rendered) -> dict[str, Any]:
    address, name = recipient(mail)
    body: dict[str, Any] = {
        "from": one_line(mail.envelope.sender),
        "to": [header_mailbox(name, address)],
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "headers": extra_headers(mail),
    }
    if mail.envelope.reply_to:
        body["reply_to"] = one_line(mail.envelope.reply_to)
    return body


class ResendTransport(HttpTransport):
    provider = "resend"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, clock: Clock | None = None):
        if settings.resend_api_key is None:
            raise ValueError("SIGNUP_RESEND_API_KEY is required for the resend transport")
        super().__init__(http, clock)
        self._auth = f"Bearer {settings.resend_api_key.value}"

    def request(self, mail: Rendered) -> dict[str, Any]:
        headers = {"Authorization": self._auth, "Idempotency-Key": mail.message_id.strip("<>")}
        return {"url": API, "json": to_api(mail), "headers": headers}

    def refusal(self, response: httpx.Response) -> Refusal:
        error = error_body(response)
        name, message = error.get("name"), error.get("message")
        if name in _OURS:
            return "ours"
        # "Invalid `to` field. The email address needs to follow the `email@example.com` ..."
        if name == "validation_error" and isinstance(message, str) and "`to`" in message:
            return "recipient"
        return "message"
