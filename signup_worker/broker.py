"""Builds the Redis broker from settings; the worker calls setup() before importing actors."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO

from signup_core import logs
from signup_core.settings import load_settings
from signup_worker.resources import Resources


def setup() -> None:
    settings = load_settings()
    logs.configure(settings.log_level)
    broker = RedisBroker(url=settings.redis_url.value)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(Resources(settings))
    dramatiq.set_broker(broker)
