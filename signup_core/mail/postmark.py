"""Postmark's email API as a transport: one HTTPS call per message through a shared client."""

from __future__ import annotations

import logging

import httpx

from signup_core.addresses import wire_address
from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.mime import phrase
from signup_core.mail.render import Rendered, one_line
from signup_core.settings import Settings

API = "https://api.postmarkapp.com/email"
# Postmark error codes that mean the recipient will never take mail from us.
_RECIPIENT_CODES = {300, 406}
# Codes that mean our account or sender cannot send (bad token, sender signature missing or
# unconfirmed, account out of credits, pending or barred): our configuration, which a fix
# makes deliverable, so the mail is kept and retried like SMTP's refusal of our sender.
_ACCOUNT_CODES = {10, 400, 401, 405, 412, 413}

log = logging.getLogger(__name__)


def _mailbox(name: str | None, address: str) -> str:
    # Postmark takes RFC 5322 mailboxes and encodes them itself; quotes keep names intact.
    # A name holding "=?" is encoded by us, so it cannot pass as an encoded word of its own.
    address = wire_address(address)
    if not address.isascii():
        # Postmark's API accepts ASCII local parts only (its documented address check).
        raise ValueError("postmark cannot send to a non-ASCII local part")
    name = one_line(name or "").replace("\\", "").replace('"', "")
    if "=?" in name:
        return f"{phrase(name)} <{address}>"
    return f'"{name}" <{address}>' if name else address


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
            body = to_api(message, self._stream)
        except ValueError:
            # Signup refuses such addresses; only older rows get here. Fails this mail only.
            raise PermanentMailError("unencodable address") from None
        try:
            response = await self._http.post(
                API,
                json=body,
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
        if code in _ACCOUNT_CODES:
            reason = f"postmark account {response.status_code}/{code}"
            log.warning("postmark refused our account; retrying", extra={"failure": reason})
            raise TransientMailError(reason)
        raise PermanentMailError(
            f"postmark {response.status_code}/{code}", recipient=code in _RECIPIENT_CODES
        )

    async def close(self) -> None:
        """The HTTP client belongs to the worker's resources, which close it."""
