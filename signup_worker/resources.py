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
_configured: Settings | None = None


class WorkerNotReady(RuntimeError):
    """The worker's resources are not open (yet, or any more): a reason to retry, not to fail."""


def configured() -> Settings:
    """The worker's settings, known from setup on, before and after its resources are open."""
    assert _configured is not None, "the Resources middleware is not installed"
    return _configured


def current() -> Opened:
    if _current is None:
        raise WorkerNotReady("worker resources are not open")
    return _current


class Resources(Middleware):
    """Must come after dramatiq's AsyncIO middleware, whose loop it uses.

    The resources open before the worker boots, so no message is consumed before they can
    serve it, and close after its threads have finished their messages, so a graceful stop
    fails nothing in flight. The relay runs in between.
    """

    def __init__(self, settings: Settings) -> None:
        global _configured
        self.settings = _configured = settings
        self._relay: asyncio.Future[None] | None = None
        self._purge: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None

    def before_worker_boot(self, broker, worker) -> None:
        global _current
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        _current = loop_thread.run_coroutine(self._open())

    def after_worker_boot(self, broker, worker) -> None:
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None and _current is not None
        from signup_worker import relay  # actors must be declared on the broker first

        self._stop = asyncio.Event()  # binds to the loop that first waits on it
        self._relay = asyncio.run_coroutine_threadsafe(
            relay.run(_current, self._stop), loop_thread.loop
        )
        from signup_worker import purge

        self._purge = asyncio.run_coroutine_threadsafe(
            purge.run(_current, self._stop), loop_thread.loop
        )

    async def _open(self) -> Opened:
        # One connection per worker thread, one for the relay. The pool opens connections
        # lazily, so a database that is down at start does not stop the worker booting.
        pool = await db.create_pool(self.settings, max_size=self.settings.worker_threads + 3)
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        return Opened(self.settings, pool, make_transport(self.settings, http), http)

    def before_worker_shutdown(self, broker, worker) -> None:
        """Stop relaying first: nothing new is queued while the threads finish their work."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None or self._relay is None or self._stop is None:
            return
        loop_thread.loop.call_soon_threadsafe(self._stop.set)
        try:
            self._relay.result(timeout=10)
        except Exception as e:
            log.warning("relay did not stop cleanly", extra={"error": type(e).__name__})
        if self._purge is not None:
            try:
                self._purge.result(timeout=10)
            except Exception as e:
                log.warning("purge did not stop cleanly", extra={"error": type(e).__name__})

    def after_worker_shutdown(self, broker, worker) -> None:
        global _current
        loop_thread = get_event_loop_thread()
        if loop_thread is None or _current is None:
            return
        opened, _current = _current, None
        loop_thread.run_coroutine(_close(opened))


async def _close(opened: Opened) -> None:
    await opened.transport.close()
    await opened.http.aclose()
    await opened.pool.close()
