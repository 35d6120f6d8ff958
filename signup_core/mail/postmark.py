"""Postmark's email API as a transport: one HTTPS call per message through a shared client."""

from __future__ import annotations

import httpx

from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.mime import ascii_address
from signup_core.mail.render import Rendered, one_line
from signup_core.settings import Settings

API = "https://api.postmarkapp.com/email"
# Postmark error codes that mean the recipient will never take mail from us.
_RECIPIENT_CODES = {300, 406}


def _mailbox(name: str | None, address: str) -> str:
    # Postmark takes RFC 5322 mailboxes and encodes them itself; quotes keep names intact.
    name = one_line(name or "").replace("\\", "").replace('"', "")
    return f'"{name}" <{ascii_address(address)}>' if name else ascii_address(address)


def to_api(mail: Rendered, stream: str) -> dict:
    e = mail.envelope
    body = {
        "From": one_line(e.sender),
        "To": _mailbox(e.to_name, e.to_address),
        "Subject": mail.subject,
        "TextBody": mail.text,
        "HtmlBody": mail.html,
        "MessageStream": stream,
        "Headers": [{"Name": n, "Value": v} for n, v in mail.headers() if n != "Date"],
    }
    if e.reply_to:
        body["ReplyTo"] = one_line(e.reply_to)
    return body


class PostmarkTransport:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        if settings.postmark_server_token is None:
            raise ValueError("SIGNUP_POSTMARK_SERVER_TOKEN is required for the postmark transport")
        self._token = settings.postmark_server_token.value
        self._stream = settings.postmark_stream
        self._http = http

    async def send(self, message: Rendered) -> None:
        try:
            response = await self._http.post(
                API,
                json=to_api(message, self._stream),
                headers={"X-Postmark-Server-Token": self._token, "Accept": "application/json"},
            )
        except httpx.HTTPError as e:
            raise TransientMailError(type(e).__name__) from None
        if response.status_code == 200:
            return
        # 401/403 is our own misconfiguration: retrying after it is fixed delivers the mail.
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            raise TransientMailError(f"postmark http {response.status_code}")
        try:
            code = int(response.json().get("ErrorCode", 0))
        except (ValueError, AttributeError, TypeError):
            code = 0
        raise PermanentMailError(
            f"postmark {response.status_code}/{code}", recipient=code in _RECIPIENT_CODES
        )

    async def close(self) -> None:
        """The HTTP client belongs to the worker's resources, which close it."""
