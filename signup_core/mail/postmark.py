"""Postmark's email API as a transport, through the worker's shared client. Sends made by
concurrent rows in the same moment go out in one call to Postmark's batch endpoint, each row
keeping its own answer (see Coalescer)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

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
        self._coalescer = Coalescer(self._post)

    async def _post(self, url: str, body: Any) -> httpx.Response:
        try:
            return await self._http.post(
                url,
                json=body,
                headers={"X-Postmark-Server-Token": self._token, "Accept": "application/json"},
            )
        except httpx.HTTPError as e:
            raise TransientMailError(type(e).__name__) from None

    async def send(self, message: Rendered) -> None:
        try:
            body = to_api(message, self._stream)
        except ValueError:
            # Signup refuses such addresses; only older rows get here. Fails this mail only.
            raise PermanentMailError("unencodable address") from None
        answer = await self._coalescer(body)
        if isinstance(answer, int):
            # One message's result in a batch's answer: what /email answers with 422.
            verdict(200 if answer == 0 else 422, answer)
        elif answer.status_code != 200:
            verdict(answer.status_code, _error_code(answer))

    async def close(self) -> None:
        """The HTTP client belongs to the worker's resources, which close it."""


def verdict(status: int, code: int) -> None:
    """Returns for a sent message; raises what any other answer means."""
    if status == 200:
        return
    # 401/403 is our own misconfiguration: retrying after it is fixed delivers the mail.
    if status in (401, 403, 429) or status >= 500:
        raise TransientMailError(f"postmark http {status}")
    if code in _ACCOUNT_CODES:
        reason = f"postmark account {status}/{code}"
        log.warning("postmark refused our account; retrying", extra={"failure": reason})
        raise TransientMailError(reason)
    raise PermanentMailError(f"postmark {status}/{code}", recipient=code in _RECIPIENT_CODES)


def _error_code(response: httpx.Response) -> int:
    try:
        return int(response.json().get("ErrorCode", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


# How long the first send waits for others, in turns of the event loop (no clock time: an
# idle loop's turn takes microseconds). The worker's rows run on one loop; under load a turn
# runs every row that is ready, so more turns let rows now on their way from the database reach
# their send. In the worker's benchmark, at 1 turn a call held 1.3 messages on average; at 8,
# 3.5, and the worker's CPU a mail to the mock fell from 2.70 to 1.21 ms (16 turns: 1.46, no
# better). See docs/performance.md.
TURNS = 8
MOST = 500  # Postmark's documented most messages in one batch call


class Coalescer:
    """Gathers the sends of rows being delivered at the same moment into one batch call.

    The first send waits for the event loop's other ready work (TURNS turns, no clock time),
    so an idle worker's send goes out at once; then it sends what gathered, in its own
    context (its row's trace holds the call). One message goes to /email as before; several
    go to /email/batch, whose 200 answer holds each message's own result, in order. Any other
    answer to a batch is one about the account or the service (401, 403, 429, 5xx: the same
    for each message) or one /email would have given per message: then each is sent alone.
    """

    def __init__(self, post: Callable[[str, Any], Awaitable[httpx.Response]]) -> None:
        self._post = post
        self._pending: list[tuple[dict, asyncio.Future]] = []

    async def __call__(self, body: dict) -> httpx.Response | int:
        """The answer to the message: the HTTP response to it alone, or its ErrorCode."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((body, future))
        if len(self._pending) == 1:
            batch: list[tuple[dict, asyncio.Future]] = []
            try:
                for _ in range(TURNS):
                    await asyncio.sleep(0)
                batch, self._pending = self._pending, []
                for start in range(0, len(batch), MOST):
                    await self._send(batch[start : start + MOST])
            except BaseException:
                # Cancelled (a time limit) or broken: no row may wait for a sender gone.
                _fail(batch or self._take(), TransientMailError("postmark batch abandoned"))
                if not future.cancelled():
                    future.exception()  # this caller leaves with its own exception
                raise
        return await future

    def _take(self) -> list[tuple[dict, asyncio.Future]]:
        batch, self._pending = self._pending, []
        return batch

    async def _send(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        if len(batch) == 1:
            await _settle(batch[0][1], self._post(API, batch[0][0]))
            return
        try:
            response = await self._post(f"{API}/batch", [body for body, _ in batch])
        except TransientMailError as e:
            _fail(batch, e)
            return
        codes = _batch_codes(response, len(batch))
        if codes is not None:
            for (_, future), code in zip(batch, codes, strict=True):
                if not future.done():
                    future.set_result(code)
        elif response.status_code in (401, 403, 429) or response.status_code >= 500:
            for _, future in batch:
                if not future.done():
                    future.set_result(response)
        else:
            await asyncio.gather(
                *(_settle(future, self._post(API, body)) for body, future in batch)
            )


def _batch_codes(response: httpx.Response, count: int) -> list[int] | None:
    """Each message's ErrorCode from a batch's 200 answer; None for any other answer."""
    if response.status_code != 200:
        return None
    try:
        codes = [int(r["ErrorCode"]) for r in response.json()]
    except (ValueError, TypeError, KeyError):
        codes = []
    if len(codes) != count:
        # Accepted, but unreadable: sending again could send it all twice, so, as /email's 200
        # without a body we can read, it counts as sent.
        log.warning("postmark batch answer unreadable; counted as sent", extra={"count": count})
        return [0] * count
    return codes


async def _settle(future: asyncio.Future, answer) -> None:
    try:
        result = await answer
    except TransientMailError as e:
        if not future.done():
            future.set_exception(e)
        return
    if not future.done():
        future.set_result(result)


def _fail(batch: list[tuple[dict, asyncio.Future]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
