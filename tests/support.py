"""Helpers shared by the tests: environments for the app, queries for inspection, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosql
import httpx

from devstack.processes import free_port

BLIND_INDEX_KEY = "test-blind-index-key-0123456789abcdef"
SIGNING_KEY = "test-signing-key-0123456789abcdef0123"


@functools.cache
def inspect() -> Any:
    return aiosql.from_path(Path(__file__).parent / "fixtures" / "inspect.sql", "asyncpg")


def app_env(database_url: str, redis_url: str, smtp_port: int, **overrides: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "PUBLIC_BASE_URL": "http://signup.test",
        "SIGNUP_BLIND_INDEX_KEY": BLIND_INDEX_KEY,
        "SIGNUP_SIGNING_KEY": SIGNING_KEY,
        "SIGNUP_RELAY_INTERVAL": "0.1",
        "SIGNUP_MAIL_MIN_BACKOFF_MS": "100",
        "SIGNUP_MAIL_MAX_BACKOFF_MS": "400",
        "SIGNUP_MAIL_MAX_RETRIES": "3",
        "SIGNUP_WORKER_THREADS": "4",
        "SIGNUP_SOFT_BOUNCE_LIMIT": "2",
        # On, so every test goes through the limiter, but out of the way of all but its own.
        "SIGNUP_RATE_LIMIT_IP": "1000/minute",
        "SIGNUP_RATE_LIMIT_NETWORK": "1000/minute",
        "SIGNUP_RATE_LIMIT_ADDRESS": "1000/minute",
        "SIGNUP_RATE_LIMIT_GLOBAL": "10000/minute",
        # Never the default ports: two checkouts' test runs may share the machine.
        "SIGNUP_METRICS_PORT": str(free_port()),
        "SIGNUP_WORKER_METRICS_PORT": str(free_port()),
    }
    env.update(overrides)
    return env


async def eventually(check: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Await check() until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def app_client(env: dict[str, str], clock: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app built from `env`, its lifespan running (and its clock set)."""
    from signup_api.app import create_app
    from signup_core.settings import load_settings

    app = create_app(load_settings(env))
    async with app.router.lifespan_context(app):
        if clock is not None:
            app.state.clock = clock
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://signup.test") as c:
            yield c
