"""Brevo's transactional email API as a transport: 201 is accepted; a 400 names in words
the parameter it refuses, and an invalid address "in to" is the recipient's."""

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

API = "https://api.brevo.com/v3/smtp/email"
# "email is not valid in to", "Invalid email address in to"
_RECIPIENT = re.compile(r"\bin to\b|\bto\[\d*\]\.email\b", re.IGNORECASE)
# Codes (Brevo's documented list) that are our account's or configuration's to fix.
_OURS = {"unauthorized", "not_enough_credits", "account_under_validation", "permission_denied"}


def to_api(mail: Rendered) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sender": party(*mailbox(mail.envelope.sender)),
        "to": [party(*recipient(mail))],
        "subject": mail.subject,
        "textContent": mail.text,
        "htmlContent": mail.html,
        "headers": extra_headers(mail),
    }
    if mail.envelope.reply_to:
        body["replyTo"] = party(*mailbox(mail.envelope.reply_to))
    return body


class BrevoTransport(HttpTransport):
    provider = "brevo"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, clock: Clock | None = None):
        if settings.brevo_api_key is None:
            raise ValueError("SIGNUP_BREVO_API_KEY is required for the brevo transport")
        super().__init__(http, clock)
        self._key = settings.brevo_api_key.value

    def request(self, mail: Rendered) -> dict[str, Any]:
        headers = {"api-key": self._key, "accept": "application/json"}
        return {"url": API, "json": to_api(mail), "headers": headers}

    def refusal(self, response: httpx.Response) -> Refusal:
        error = error_body(response)
        code, message = error.get("code"), error.get("message")
        if code in _OURS:
            return "ours"
        if code == "invalid_parameter" and isinstance(message, str) and _RECIPIENT.search(message):
            return "recipient"
        return "message"
