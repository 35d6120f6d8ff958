"""The worker's entry point: Dramatiq calls setup() before it imports signup_worker.actors.

It builds the Redis broker from settings and hands the middleware that opens the resources the
two loops to run beside the actors: the relay and the purge. The actors declare themselves on
the broker set here, when Dramatiq imports them next."""

from __future__ import annotations

import asyncio
import functools

import dramatiq
import uvloop
from dramatiq.middleware.asyncio import AsyncIO

from signup_core import logs, redis_client, tracing
from signup_core.settings import load_settings
from signup_worker import purge, relay
from signup_worker.readiness import Consuming
from signup_worker.resources import Resources
from signup_worker.scrape import Metrics
from signup_worker.signals import GroupStop
from signup_worker.wakeable import WakeableBroker


def setup() -> None:
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format, "worker")
    # Dramatiq's event-loop thread calls asyncio.new_event_loop(): with this policy it is
    # uvloop's, which cut the worker's CPU per mail (asyncio's selector loop was a quarter).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # A worker silent for the heartbeat timeout is dead: its unfinished messages go back to
    # their queues for the others. Idle consumers wait to be woken rather than poll.
    broker = WakeableBroker(
        client=redis_client.sync_client(settings.redis_url.value),
        heartbeat_timeout=settings.worker_heartbeat_timeout * 1000,
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(Metrics())
    if tracing.configure(settings, "worker"):
        from signup_worker.tracing import Tracing

        broker.add_middleware(Tracing())
    # The relay finds the actors on this broker by name, once the worker has booted.
    loops = {"relay": functools.partial(relay.run, broker), "purge": purge.run}
    broker.add_middleware(Resources(settings, loops))
    broker.add_middleware(Consuming())  # after Resources: marks a process ready once they open
    broker.add_middleware(GroupStop())
    dramatiq.set_broker(broker)
