"""Mailgun's messages API as a transport, on its US or EU base URL: a form post per message;
a 400 says in words which parameter it refuses, and "to" is the recipient's address."""

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
    recipient,
)
from signup_core.mail.mime import mailbox as header_mailbox
from signup_core.mail.render import Rendered, one_line
from signup_core.settings import Settings

BASE_URLS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
# "'to' parameter is not a valid address. please check documentation"
_RECIPIENT = re.compile(r"^'?to'? parameter", re.IGNORECASE)
_OURS = re.compile(r"domain .* not (found|allowed)|not allowed to send|sandbox", re.IGNORECASE)


def to_form(mail: Rendered) -> dict[str, str]:
    address, name = recipient(mail)
    form = {
        "from": one_line(mail.envelope.sender),
        "to": header_mailbox(name, address),
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
    }
    if mail.envelope.reply_to:
        form["h:Reply-To"] = one_line(mail.envelope.reply_to)
    form.update({f"h:{k}": v for k, v in extra_headers(mail).items()})
    return form


class MailgunTransport(HttpTransport):
    provider = "mailgun"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, clock: Clock | None = None):
        if settings.mailgun_api_key is None or not settings.mailgun_domain:
            raise ValueError(
                "SIGNUP_MAILGUN_API_KEY and SIGNUP_MAILGUN_DOMAIN are required for mailgun"
            )
        super().__init__(http, clock)
        self.url = f"{BASE_URLS[settings.mailgun_region]}/v3/{settings.mailgun_domain}/messages"
        self._auth = httpx.BasicAuth("api", settings.mailgun_api_key.value)

    def request(self, mail: Rendered) -> dict[str, Any]:
        return {"url": self.url, "data": to_form(mail), "auth": self._auth}

    def refusal(self, response: httpx.Response) -> Refusal:
        message = error_body(response).get("message")
        if not isinstance(message, str):
            return "message"
        if response.status_code == 400 and _RECIPIENT.search(message.strip()):
            return "recipient"
        if response.status_code == 404 or _OURS.search(message):
            return "ours"  # an unknown or unverified sending domain
        return "message"
