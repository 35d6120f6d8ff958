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
    if _about_the_account_or_service(status):
        raise TransientMailError(f"postmark http {status}")
    if code in _ACCOUNT_CODES:
        reason = f"postmark account {status}/{code}"
        log.warning("postmark refused our account; retrying", extra={"failure": reason})
        raise TransientMailError(reason)
    raise PermanentMailError(f"postmark {status}/{code}", recipient=code in _RECIPIENT_CODES)


def _about_the_account_or_service(status: int) -> bool:
    """An answer that is not about the message: retried. 401/403 is our own misconfiguration,
    which a fix makes deliverable; 429 and 5xx pass."""
    return status in (401, 403, 429) or status >= 500


def _error_code(response: httpx.Response) -> int:
    try:
        return int(response.json().get("ErrorCode", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


# How long the first send waits for others, in turns of the event loop (no clock time: an
# idle loop's turn takes microseconds). The worker's rows run on one loop; under load a turn
# runs every row that is ready, so more turns let rows now on their way from the database reach
# their send. In the worker's benchmark, at 1 turn a call held 1.3 messages on average and a
# mail cost the worker 2.53 ms of CPU; at 8 turns, 3.5 and 1.21 ms (16 turns: 4.1 and 1.46, no
# better). See docs/performance.md.
TURNS = 8
MOST = 500  # Postmark's documented most messages in one batch call


class Coalescer:
    """Gathers the sends of rows being delivered at the same moment into one batch call.

    The first send starts a task that waits for the event loop's other ready work (TURNS
    turns, no clock time), so an idle worker's send goes out at once; then it sends what
    gathered. The task runs in the first row's context (that row's trace holds the call) and
    apart from every row: a row cancelled while waiting ends only its own wait, and its mail is
    left out if the call has not started. One message goes to /email as before; several go to
    /email/batch, whose 200 answer holds each message's own result, in order. Any other answer
    to a batch is about the account or the service (401, 403, 429, 5xx: each row's answer, as
    /email's would be), or a refusal of the call (another 4xx): then each mail is sent alone.
    """

    def __init__(self, post: Callable[[str, Any], Awaitable[httpx.Response]]) -> None:
        self._post = post
        self._pending: list[Call] = []
        self._tasks: set[asyncio.Task] = set()

    async def __call__(self, body: dict) -> httpx.Response | int:
        """The answer to the message: the HTTP response to it alone, or its ErrorCode."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((body, future))
        if len(self._pending) == 1:
            task = loop.create_task(self._gather_and_send())
            # Held until done: the loop keeps only weak references to tasks.
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _gather_and_send(self) -> None:
        batch: list[Call] = []
        try:
            for _ in range(TURNS):
                await asyncio.sleep(0)
            batch, self._pending = _waiting(self._pending), []
            for start in range(0, len(batch), MOST):
                await self._send(batch[start : start + MOST])
        except asyncio.CancelledError:
            # The loop is closing: no row may wait for a sender gone.
            if not batch:
                batch, self._pending = self._pending, []
            _fail(batch, lambda: TransientMailError("postmark batch abandoned"))
            raise
        except Exception as e:  # a fault of ours: each row waiting fails alone with it
            fault = e
            _fail(batch, lambda: fault)

    async def _send(self, batch: list[Call]) -> None:
        if len(batch) == 1:
            await _settle(batch[0][1], self._post(API, batch[0][0]))
            return
        try:
            response = await self._post(f"{API}/batch", [body for body, _ in batch])
        except TransientMailError as e:
            reason = str(e)
            _fail(batch, lambda: TransientMailError(reason))
            return
        status = response.status_code
        if status == 200:
            for (_, future), code in zip(batch, _batch_codes(response, len(batch)), strict=True):
                _resolve(future, code)
        elif status >= 400 and not _about_the_account_or_service(status):
            # The call was refused whole, so no mail in it went out: each is sent on its own,
            # for /email's verdict on it.
            await asyncio.gather(
                *(_settle(future, self._post(API, body)) for body, future in _waiting(batch))
            )
        else:
            for _, future in batch:
                _resolve(future, response)


Call = tuple[dict, asyncio.Future]


def _waiting(batch: list[Call]) -> list[Call]:
    """The calls whose row still waits (a cancelled row's mail is not sent)."""
    return [call for call in batch if not call[1].done()]


def _batch_codes(response: httpx.Response, count: int) -> list[int]:
    """Each message's ErrorCode from a batch's 200 answer."""
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


async def _settle(future: asyncio.Future, answer: Awaitable[httpx.Response]) -> None:
    """The future gets the answer, or what sending raised, its row's alone."""
    try:
        result = await answer
    except Exception as e:
        if not future.done():
            future.set_exception(e)
        return
    _resolve(future, result)


def _resolve(future: asyncio.Future, result: object) -> None:
    if not future.done():  # its row gave up waiting meanwhile
        future.set_result(result)


def _fail(batch: list[Call], error: Callable[[], BaseException]) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error())
