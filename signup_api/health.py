"""Liveness and readiness: /healthz says the process runs, /readyz that its dependencies answer."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signup_core import db

CHECK_TIMEOUT = 1.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _postgres(request: Request) -> None:
    async with request.app.state.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
        await db.queries().ping(conn)


async def _redis(request: Request) -> None:
    await request.app.state.redis.ping()


async def _check(probe, request: Request) -> str:
    try:
        await asyncio.wait_for(probe(request), CHECK_TIMEOUT)
    except Exception:  # any failure at all means "not ready"; the kind is not the probe's business
        return "down"
    return "up"


async def readyz(request: Request) -> Response:
    postgres, redis = await asyncio.gather(_check(_postgres, request), _check(_redis, request))
    checks = {"postgres": postgres, "redis": redis}
    if all(v == "up" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    down = ", ".join(k for k, v in checks.items() if v != "up")
    return JSONResponse(
        {
            "type": "urn:signet-signup:problem:unavailable",
            "title": "Service unavailable",
            "status": 503,
            "detail": f"Not ready: {down} unreachable.",
            "checks": checks,
        },
        status_code=503,
        headers={"Retry-After": "5"},
        media_type="application/problem+json",
    )
