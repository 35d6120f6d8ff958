"""Worker middleware: the pool, the SMTP connection and the relay live on the actors' event loop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
import httpx
from dramatiq import Middleware
from dramatiq.asyncio import get_event_loop_thread

from signup_core import db
from signup_core.mail.transports import Transport, make_transport
from signup_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Opened:
    settings: Settings
    pool: asyncpg.Pool
    transport: Transport
    http: httpx.AsyncClient


_current: Opened | None = None


def current() -> Opened:
    if _current is None:
        raise RuntimeError("worker resources are not open; is the Resources middleware installed?")
    return _current


class Resources(Middleware):
    """Must come after dramatiq's AsyncIO middleware, whose loop it uses."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._relay: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None

    def after_worker_boot(self, broker, worker) -> None:
        global _current
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        _current = loop_thread.run_coroutine(self._open())
        from signup_worker import relay  # actors must be declared on the broker first

        self._stop = asyncio.Event()  # binds to the loop that first waits on it
        self._relay = asyncio.run_coroutine_threadsafe(
            relay.run(_current, self._stop), loop_thread.loop
        )

    async def _open(self) -> Opened:
        # One connection per worker thread, one for the relay.
        pool = await db.create_pool(self.settings, max_size=self.settings.worker_threads + 2)
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        return Opened(self.settings, pool, make_transport(self.settings, http), http)

    def before_worker_shutdown(self, broker, worker) -> None:
        global _current
        loop_thread = get_event_loop_thread()
        if loop_thread is None or _current is None:
            return
        if self._stop is not None:
            loop_thread.loop.call_soon_threadsafe(self._stop.set)
        if self._relay is not None:
            try:
                self._relay.result(timeout=10)
            except Exception as e:
                log.warning("relay did not stop cleanly", extra={"error": type(e).__name__})
        opened, _current = _current, None
        loop_thread.run_coroutine(_close(opened))


async def _close(opened: Opened) -> None:
    await opened.transport.close()
    await opened.http.aclose()
    await opened.pool.close()
