"""Liveness and readiness: /healthz says the process runs, /readyz that its dependencies answer
and the database schema is at the version this code needs."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signup_api import metrics
from signup_core import db
from signup_core.migrations import discover

CHECK_TIMEOUT = 1.0

# What PostgreSQL answers when this code's queries meet a schema older than they need.
SCHEMA_BEHIND = (
    asyncpg.UndefinedTableError,
    asyncpg.UndefinedColumnError,
    asyncpg.UndefinedObjectError,
    asyncpg.UndefinedFunctionError,
)
MIGRATE_HINT = "the database schema is behind this code; run `signupctl migrate`"


@functools.cache
def _shipped() -> frozenset[str]:
    """The migration versions this code ships, read from disk once per process."""
    return frozenset(m.version for m in discover())


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _postgres(request: Request) -> None:
    async with request.app.state.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
        await db.queries().ping(conn)


async def _redis(request: Request) -> None:
    await request.app.state.redis.ping()


# Probes given up on, still cleaning up (kept referenced so the loop does not drop them).
_ABANDONED: set[asyncio.Task] = set()


def _forget(task: asyncio.Task) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: its failure was already answered as "down"


async def _within(coro: Any) -> Any:
    """`coro`'s result, or TimeoutError after CHECK_TIMEOUT without waiting for its cleanup:
    asyncio.wait_for waits for the cancelled call to unwind, and asyncpg, cancelling a query
    on a server that hangs, waits on that server again (a probe took twice its timeout)."""
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=CHECK_TIMEOUT)
    if not done:
        task.cancel()
        _ABANDONED.add(task)
        task.add_done_callback(_forget)
        raise TimeoutError
    return task.result()


async def _check(probe, request: Request) -> str:
    try:
        await _within(probe(request))
    except Exception:  # any failure at all means "not ready"; the kind is not the probe's business
        return "down"
    return "up"


async def _applied(request: Request) -> set[str]:
    async with request.app.state.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
        return {r["version"] async for r in db.queries().applied_migrations(conn)}


async def _schema(request: Request) -> str:
    """ "current" once every shipped migration is applied; remembered from then on, since a
    schema never goes back. "unknown" when PostgreSQL does not answer (its own check says so)."""
    state = request.app.state
    if state.schema_current:
        return "current"
    try:
        applied = await _within(_applied(request))
    except asyncpg.UndefinedTableError:  # not even the migrations table: never migrated
        return "behind"
    except Exception:
        return "unknown"
    if not _shipped() <= applied:
        return "behind"
    state.schema_current = True
    return "current"


def _record(checks: dict[str, str], ready: bool) -> None:
    """What the probe found, for the readiness alert (the kubelet asks every few seconds)."""
    metrics.READY.set(1 if ready else 0)
    for name, state in checks.items():
        metrics.DEPENDENCY_UP.labels(name).set(1 if state in ("up", "current") else 0)


async def readyz(request: Request) -> Response:
    postgres, redis, schema = await asyncio.gather(
        _check(_postgres, request), _check(_redis, request), _schema(request)
    )
    checks = {"postgres": postgres, "redis": redis, "schema": schema}
    ready = postgres == redis == "up" and schema == "current"
    _record(checks, ready)
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    reasons = [f"{k} unreachable" for k in ("postgres", "redis") if checks[k] != "up"]
    if schema == "behind":
        reasons.append(MIGRATE_HINT)
    elif schema == "unknown" and postgres == "up":
        reasons.append("the schema version could not be read")
    return JSONResponse(
        {
            "type": "urn:signet-signup:problem:unavailable",
            "title": "Service unavailable",
            "status": 503,
            "detail": f"Not ready: {'; '.join(reasons)}.",
            "checks": checks,
        },
        status_code=503,
        headers={"Retry-After": "5"},
        media_type="application/problem+json",
    )
