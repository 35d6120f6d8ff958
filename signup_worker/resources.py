"""Worker middleware: the pool, the SMTP connection and the background loops (the relay, the
purge) live on the actors' event loop.

The loops are handed in by the worker's entry point (signup_worker.broker), so this module
imports none of them: the actors, the relay and the purge all import it, and it imports none of
them back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import asyncpg
import httpx
from dramatiq import Middleware
from dramatiq.asyncio import get_event_loop_thread

from signup_core import db, heap, tls
from signup_core.mail.transports import Transport, make_transport
from signup_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Opened:
    settings: Settings
    pool: asyncpg.Pool
    transport: Transport
    http: httpx.AsyncClient


# A background loop: runs on the open resources until the event is set.
Loop = Callable[[Opened, asyncio.Event], Awaitable[None]]

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
    fails nothing in flight. The loops (by name: the relay, the purge) run in between; they
    start after the boot, once the actors they enqueue for are declared on the broker.
    """

    def __init__(self, settings: Settings, loops: Mapping[str, Loop] | None = None) -> None:
        global _configured
        self.settings = _configured = settings
        self.loops = dict(loops or {})
        self._running: dict[str, asyncio.Future[None]] = {}
        self._stop: asyncio.Event | None = None

    def before_worker_boot(self, broker, worker) -> None:
        global _current
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        _current = loop_thread.run_coroutine(self._open())
        heap.settle()

    def after_worker_boot(self, broker, worker) -> None:
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None and _current is not None
        self._stop = asyncio.Event()  # binds to the loop that first waits on it
        self._running = {
            name: asyncio.run_coroutine_threadsafe(loop(_current, self._stop), loop_thread.loop)
            for name, loop in self.loops.items()
        }

    async def _open(self) -> Opened:
        # One connection per worker thread, one for the relay. The pool opens connections
        # lazily, so a database that is down at start does not stop the worker booting.
        pool = await db.create_pool(self.settings, max_size=self.settings.worker_threads + 3)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), verify=tls.client_context()
        )
        return Opened(self.settings, pool, make_transport(self.settings, http), http)

    def before_worker_shutdown(self, broker, worker) -> None:
        """Stop the loops first: nothing new is queued while the threads finish their work."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None or self._stop is None:
            return
        loop_thread.loop.call_soon_threadsafe(self._stop.set)
        for name, running in self._running.items():
            try:
                running.result(timeout=10)
            except Exception as e:
                log.warning(
                    "loop did not stop cleanly", extra={"loop": name, "error": type(e).__name__}
                )

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
