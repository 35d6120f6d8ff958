"""SendGrid's v3 mail send API as a transport: 202 is accepted; a 400 names the field it
refuses, and one under personalizations[].to[] is the recipient's address."""

from __future__ import annotations

import re
from typing import Any

import httpx

from signup_core.clock import Clock
from signup_core.mail.http_api import (
    HttpTransport,
    Refusal,
    error_body,
    extra_headers,
    mailbox,
    party,
    recipient,
)
from signup_core.mail.render import Rendered
from signup_core.settings import Settings

API = "https://api.sendgrid.com/v3/mail/send"
_RECIPIENT_FIELD = re.compile(r"^personalizations\.\d+\.to\.\d+\.email$")


def to_api(mail: Rendered) -> dict[str, Any]:
    to = party(*recipient(mail))
    body: dict[str, Any] = {
        "personalizations": [{"to": [to]}],
        "from": party(*mailbox(mail.envelope.sender)),
        "subject": mail.subject,
        "content": [
            {"type": "text/plain", "value": mail.text},
            {"type": "text/html", "value": mail.html},
        ],
        "headers": extra_headers(mail),
    }
    if mail.envelope.reply_to:
        body["reply_to"] = party(*mailbox(mail.envelope.reply_to))
    return body


class SendGridTransport(HttpTransport):
    provider = "sendgrid"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, clock: Clock | None = None):
        if settings.sendgrid_api_key is None:
            raise ValueError("SIGNUP_SENDGRID_API_KEY is required for the sendgrid transport")
        super().__init__(http, clock)
        self._auth = f"Bearer {settings.sendgrid_api_key.value}"

    def request(self, mail: Rendered) -> dict[str, Any]:
        return {"url": API, "json": to_api(mail), "headers": {"Authorization": self._auth}}

    def refusal(self, response: httpx.Response) -> Refusal:
        errors = error_body(response).get("errors")
        fields = (
            [e.get("field") for e in errors if isinstance(e, dict)]
            if isinstance(errors, list)
            else []
        )
        if any(isinstance(f, str) and _RECIPIENT_FIELD.match(f) for f in fields):
            return "recipient"
        # "from" not a verified sender identity, or the key lacks mail.send: ours to fix.
        if any(f in ("from", "from.email") for f in fields):
            return "ours"
        return "message"
