"""`signup-api`: serve the API with uvicorn, after the settings have been checked, with the
limits uvicorn leaves open: a cap on a request's header bytes, a deadline for its headers."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from signup_api import metrics
from signup_api.admin.app import ByPort, create_admin_app
from signup_api.app import create_app
from signup_api.one_write import OneWrite
from signup_api.problems import TITLES
from signup_core import logs, tracing
from signup_core.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

# httptools has no limit on header size (it took 2 MB), and h11's applies only to what is
# still unparsed after a read. 16 KiB holds any browser's or provider's request.
MAX_HEADER_BYTES = 16 * 1024
# Seconds from a connection (or a request's first byte) to the end of its headers: uvicorn
# waits forever for a client that sends them a byte at a time (slow loris).
HEADER_TIMEOUT = 10.0
# Open connections plus running requests; beyond, uvicorn answers 503 at once.
MAX_CONCURRENCY = 1000
# After refusing a head, how long the rest of what the client sends is read and dropped before
# the socket closes: closing with unread bytes makes TCP reset, which can destroy the answer.
LINGER_SECONDS = 2.0


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the cap."""


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the header size cap and the header deadline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head, self._head_bytes = True, 0
        self._parsed_head, self._oversize, self._lingering = 0, False, False
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer has gone; what still arrives is dropped
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still in the headers after this read (a read that ends them may carry a body).
        if self._in_head and self._head_bytes > MAX_HEADER_BYTES:
            self._refuse(431, "The request's headers are too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_head = 0
        self._arm()

    # Counting what the parser has read as well: a whole oversized head can arrive, end and
    # all, in the one read (a single write, or a pipelined request), where the count of raw
    # bytes still unparsed after a read never sees it.
    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def _count_head(self, n: int) -> None:
        self._parsed_head += n
        if self._parsed_head > MAX_HEADER_BYTES:
            self._oversize = True
            raise _HeadTooLarge  # uvicorn turns a callback's error into send_400_response

    def send_400_response(self, msg: str) -> None:
        if self._oversize:
            self._refuse(431, "The request's headers are too large.")
        else:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_head, self._head_bytes = False, 0
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not before:  # (an upgrade request makes none)
            # Made just now: its task starts in the next turn, so nothing has written yet.
            self.cycle.transport = OneWrite(self.transport, self.loop)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # what follows is the next request's head

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        self._refuse(408, "The request's headers did not arrive in time.")

    def _refuse(self, status: int, detail: str) -> None:
        if self.transport.is_closing() or self._lingering:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an answer is being written: nothing can go in between
            return
        log.warning("request head refused", extra={"status": status})
        body = json.dumps(
            {"type": "urn:signet-signup:problem:head", "title": TITLES[status], "status": status}
            | {"detail": detail}
        ).encode()
        head = (
            f"HTTP/1.1 {status} {TITLES[status]}\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        # Half-close: the client reads the answer, then EOF; what it still sends is dropped
        # until it closes (asyncio then closes the transport) or the linger time is up.
        self._lingering = True
        self.transport.write_eof()
        self._disarm()  # the header deadline, if armed: the linger time replaces it
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=GuardedHttp,
        limit_concurrency=MAX_CONCURRENCY,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=20,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


HELP = """usage: signup-api [-h]

Serve the signup API (uvicorn) on HOST:PORT. All configuration comes from the environment
(DATABASE_URL, REDIS_URL, PUBLIC_BASE_URL, SIGNUP_BLIND_INDEX_KEY, SIGNUP_SIGNING_KEY,
SIGNUP_SEAL_KEYS, ...; any secret also as NAME_FILE); see docs/configuration.md."""


def _flush_logs_on_the_way_out() -> None:
    """uvicorn, once shut down by SIGTERM or SIGINT, raises that signal again on itself so the
    exit says why. For SIGTERM that ended the process at once, before the lines of that last
    turn of the event loop ("Application shutdown complete", "Finished server process"), still
    held by the per-turn log handler, were written, and before the last seconds' spans were
    exported (the SDK exports at exit, which a signal skips); for SIGINT it printed a
    KeyboardInterrupt traceback. uvicorn puts these handlers back before raising: they write
    the lines, give the spans a bounded moment, then end the process by the signal itself. A
    second signal meanwhile ends it at once (a second Ctrl-C forces, as uvicorn's does)."""

    def flush_then_end(signum: int, frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        try:
            for handler in logging.getLogger().handlers:
                handler.flush()
            tracing.flush()
        finally:
            signal.raise_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, flush_then_end)


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(HELP)
        return
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.exit(f"signup-api: configuration error: {e}")
    logs.configure(settings.log_level, settings.log_format, "api", per_turn=True)
    _flush_logs_on_the_way_out()
    metrics.start(settings)
    tracing.configure(settings, "api")
    if settings.admin_port is None:
        uvicorn.Server(config(create_app(settings), settings)).run()
        return
    # One server on two sockets: the admin app answers only what arrives on the admin one.
    app = ByPort(create_app(settings), create_admin_app(settings), settings.admin_port)
    public = config(app, settings)
    admin = config(app, settings)
    admin.host, admin.port = settings.admin_host or settings.host, settings.admin_port
    uvicorn.Server(public).run(sockets=[public.bind_socket(), admin.bind_socket()])
