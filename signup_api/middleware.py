"""The one pure-ASGI layer around the app: a request id, CORS for the allowed origins, the
headers every JSON answer carries, a read timeout for request bodies, and an access log line
without query strings (a client that went away is logged as such, status 499).

CORS is here rather than in Starlette's CORSMiddleware: a second layer cost a signup about 5%
of its CPU (its own pass over the headers, a wrapped send, header objects built twice), and
what this service needs of CORS is small: a fixed list of origins, POST with a JSON or form
body from the landing page, and no credentials.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signup_api import metrics
from signup_api.problems import Problem, problem_response
from signup_core.logs import log_access, request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# What a cross-origin page may send: the methods of /signup and /altcha/challenge, and the
# header a JSON body needs. Browsers never ask for the CORS-safelisted ones.
ALLOW_METHODS = frozenset({"GET", "POST"})
ALLOW_HEADERS = frozenset({"content-type", "accept", "accept-language", "content-language"})
MAX_AGE = b"600"
# Pages set their own; a JSON answer must not be sniffed into something else, nor cached.
JSON_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))
# Seconds a request body may pause between two chunks before the request is answered 408;
# uvicorn has no such timeout, and a stalled body would hold its connection and task forever.
BODY_TIMEOUT = 15.0
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
DISCONNECTED = 499  # nginx's number for a client that closed before the answer


def _route(scope: Scope, preflight: bool) -> str:
    """The matched route's template (the router leaves it in the scope), never the raw path."""
    if preflight:
        return "preflight"
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class Edge:
    """Adopts a sane incoming X-Request-ID or makes one; answers CORS preflights and marks
    answers to allowed origins; logs method, path, status and time."""

    def __init__(self, app: ASGIApp, cors_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.cors_origins = cors_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = origin = wanted_method = wanted_headers = None
        for name, value in scope["headers"]:  # one pass, no header objects
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"access-control-request-method":
                wanted_method = value.decode("latin-1")
            elif name == b"access-control-request-headers":
                wanted_headers = value.decode("latin-1")
        # os.urandom is what secrets.token_hex calls, through three Python layers (~3 µs).
        rid = incoming if incoming and _SAFE_ID.match(incoming) else os.urandom(16).hex()
        extra = [(b"x-request-id", rid.encode())]
        if self.cors_origins:
            extra.append((b"vary", b"Origin"))
            if origin is not None and origin.lower() in self.cors_origins:
                extra.append((b"access-control-allow-origin", origin.encode("latin-1")))
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        preflight = False
        metrics.IN_FLIGHT.inc()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _finished(message.get("headers", ()), extra, status)
            await send(message)

        if scope["method"] in BODY_METHODS:
            receive = _timed(receive)
        try:
            if self.cors_origins and scope["method"] == "OPTIONS" and origin and wanted_method:
                preflight = True
                await self._preflight(
                    origin, wanted_method, wanted_headers, scope, receive, send_with_headers
                )
            else:
                await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            # Nobody to answer: not an error of ours, and no traceback for it.
            status = DISCONNECTED
        finally:
            elapsed = time.perf_counter() - started
            metrics.IN_FLIGHT.dec()
            metrics.observe(scope["method"], _route(scope, preflight), status, elapsed)
            # The path only: query strings carry confirmation tokens.
            log_access(scope["method"], scope["path"], status, round(elapsed * 1000, 2))
            request_id.reset(token)

    async def _preflight(
        self,
        origin: str,
        method: str,
        headers: str | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        asked = {h.strip().lower() for h in (headers or "").split(",") if h.strip()}
        if not (
            origin.lower() in self.cors_origins
            and method in ALLOW_METHODS
            and asked <= ALLOW_HEADERS
        ):
            refused = Problem(400, "This cross-origin request is not allowed.", slug="cors-refused")
            await problem_response(refused)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", b"2"),
                    (b"access-control-allow-methods", ", ".join(sorted(ALLOW_METHODS)).encode()),
                    (b"access-control-allow-headers", ", ".join(sorted(ALLOW_HEADERS)).encode()),
                    (b"access-control-max-age", MAX_AGE),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"OK"})


def _finished(
    headers: Iterable[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]], status: int
) -> list[tuple[bytes, bytes]]:
    done = [*headers, *extra]
    kind = next((v for n, v in done if n == b"content-type"), b"")
    if kind.startswith((b"application/json", b"application/problem+json")):
        done.extend(JSON_HEADERS)
    if status == 408:
        done.append((b"connection", b"close"))  # the rest of the body is not waited for
    return done


def _timed(receive: Receive) -> Receive:
    """`receive`, with BODY_TIMEOUT for each chunk of the body; after the body, as it was.

    What `async with asyncio.timeout(BODY_TIMEOUT)` does, with its public parts (a timer that
    cancels the task; Task.uncancel to tell our cancellation from anyone else's): the
    context manager's two coroutines and state cost ~13 µs a signup, a timer handle ~1."""
    done = False

    async def timed_receive() -> Message:
        nonlocal done
        if done:
            return await receive()
        task = asyncio.current_task()
        assert task is not None  # uvicorn calls the app in a task
        cancelling = task.cancelling()
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = asyncio.get_running_loop().call_later(BODY_TIMEOUT, expire)
        try:
            message = await receive()
        except asyncio.CancelledError:
            # Ours if no other cancellation came since: then the chunk is late, answered 408;
            # any other (the server's, at shutdown or disconnect) goes on as it came.
            if expired and task.uncancel() <= cancelling:
                raise _late() from None
            raise
        except TimeoutError:
            raise _late() from None  # as asyncio.timeout's block let it through
        else:
            if expired:  # (expired as receive returned: its cancellation is withdrawn)
                task.uncancel()
        finally:
            timer.cancel()
        done = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return timed_receive


def _late() -> Problem:
    return Problem(408, "The request body stopped arriving.", slug="body-timeout")
