"""Postmark's email API as a transport: one HTTPS call per message through a shared client."""

from __future__ import annotations

from email.message import EmailMessage

import httpx

from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.settings import Settings

API = "https://api.postmarkapp.com/email"
# Postmark error codes that mean the recipient will never take mail from us.
_RECIPIENT_CODES = {300, 406}
_PASSED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID")


def _body(message: EmailMessage, kind: str) -> str | None:
    part = message.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else None


def to_api(message: EmailMessage, stream: str) -> dict:
    body = {
        "From": str(message["From"]),
        "To": str(message["To"]),
        "Subject": str(message["Subject"]),
        "TextBody": _body(message, "plain"),
        "HtmlBody": _body(message, "html"),
        "MessageStream": stream,
        "Headers": [{"Name": h, "Value": str(message[h])} for h in _PASSED_HEADERS if message[h]],
    }
    if message["Reply-To"]:
        body["ReplyTo"] = str(message["Reply-To"])
    return body


class PostmarkTransport:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        if settings.postmark_server_token is None:
            raise ValueError("SIGNUP_POSTMARK_SERVER_TOKEN is required for the postmark transport")
        self._token = settings.postmark_server_token.value
        self._stream = settings.postmark_stream
        self._http = http

    async def send(self, message: EmailMessage) -> None:
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
