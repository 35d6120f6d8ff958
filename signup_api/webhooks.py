"""POST /webhooks/{provider}: verify first, store each event once, answer fast; the worker
applies them."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signup_api import metrics
from signup_api.bodies import read_limited
from signup_api.problems import Problem, unavailable
from signup_api.ratelimit import REDIS_TIMEOUT
from signup_core import db, tracing
from signup_core.addresses import InvalidAddress, blind_index, normalise
from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    mailgun,
    postmark,
    sendgrid,
    ses,
)

log = logging.getLogger(__name__)

PROVIDERS = {
    "ses": ses.receive,
    "postmark": postmark.receive,
    "sendgrid": sendgrid.receive,
    "mailgun": mailgun.receive,
}


async def receive(request: Request) -> Response:
    provider = request.path_params["provider"]
    handler = PROVIDERS.get(provider)
    if handler is None:
        raise Problem(404, "No such provider.", slug="not-found")
    state = request.app.state
    body = await read_limited(request, state.settings.webhook_max_body_bytes)
    inbound = Inbound(
        body, {k.lower(): v for k, v in request.headers.items()}, dict(request.query_params)
    )
    context = Context(
        state.settings,
        state.clock.now(),
        state.http,
        lambda key, ttl: _claim_once(state.redis, key, ttl),
        state.certificates,
    )
    try:
        events = await handler(inbound, context)
    except Rejected as r:
        metrics.WEBHOOK_REJECTED.labels(provider, r.reason).inc()
        log.warning("webhook refused", extra={"provider": provider, "reason": r.reason})
        raise Problem(r.status, "The request was not accepted.", slug="webhook-refused") from None
    except (redis.RedisError, OSError) as e:
        log.warning("webhook replay check unavailable", extra={"error": type(e).__name__})
        raise unavailable("Redis") from None
    stored = await _store(request, provider, events)
    for event in events:
        metrics.WEBHOOK_EVENTS.labels(provider, event.kind).inc()
    log.info(
        "webhook accepted",
        extra={"provider": provider, "events": len(events), "stored": len(stored)},
    )
    return JSONResponse({"received": len(events), "stored": len(stored)})


async def _claim_once(client: redis.Redis, key: str, ttl: int) -> bool:
    async with asyncio.timeout(REDIS_TIMEOUT):
        return bool(await client.set(f"signup:once:{key}", "1", nx=True, ex=ttl))


def _index(key: bytes, address: str) -> bytes:
    try:
        address = normalise(address.strip())
    except InvalidAddress:
        address = address.strip()
    return blind_index(key, address)


async def _store(request: Request, provider: str, events: list[Event]) -> list[int]:
    if not events:
        return []
    key = request.app.state.settings.blind_index_key.bytes()
    indexes = [_index(key, e.address) for e in events]
    try:
        async with request.app.state.pool.acquire() as conn:
            rows = db.queries().insert_events(
                conn,
                providers=[provider] * len(events),
                # One event per recipient: the provider's id plus (a prefix of) the blind index.
                event_ids=[
                    f"{e.event_id}:{i.hex()[:16]}" for e, i in zip(events, indexes, strict=True)
                ],
                kinds=[e.kind for e in events],
                email_indexes=indexes,
                occurred=[e.occurred_at for e in events],
                details=[(e.detail or "")[:200] or None for e in events],
                traceparent=tracing.traceparent(),
            )
            return [r["id"] async for r in rows]
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on webhook", extra={"error": type(e).__name__})
        raise unavailable("The database") from None
