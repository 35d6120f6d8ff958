"""POST /webhooks/{provider}: verify first, store each event once, answer fast; the worker
applies them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signup_api import metrics
from signup_api.bodies import read_limited
from signup_api.problems import Problem, unavailable
from signup_api.ratelimit import REDIS_TIMEOUT
from signup_api.stale_keys import stale_key
from signup_core import db, tracing
from signup_core.addresses import InvalidAddress, normalise
from signup_core.index_keys import IndexKeys, StaleIndexKey, index_keys, refile, rotating
from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Malformed,
    Rejected,
    brevo,
    mailgun,
    postmark,
    resend,
    sendgrid,
    ses,
)

log = logging.getLogger(__name__)

PROVIDERS = {
    "ses": ses.receive,
    "postmark": postmark.receive,
    "sendgrid": sendgrid.receive,
    "mailgun": mailgun.receive,
    "resend": resend.receive,
    "brevo": brevo.receive,
}


async def receive(request: Request) -> Response:
    provider = request.path_params["provider"]
    handler = PROVIDERS.get(provider)
    if handler is None:
        raise Problem(404, "No such provider.", slug="not-found")
    state = request.app.state
    body = await read_limited(request, state.settings.webhook_max_body_bytes)
    inbound = Inbound(
        body,
        {k.lower(): v for k, v in request.headers.items()},
        dict(request.query_params),
        request.client.host if request.client else None,
    )
    claims = Claims(state.redis)
    context = Context(
        state.settings, state.clock.now(), state.http, claims.claim, state.certificates
    )
    try:
        events = await _verified_events(handler, provider, inbound, context)
        stored = await _store(request, provider, events)
    except Exception:
        # Not stored: a claimed replay token would turn the provider's retry away for good.
        await claims.release()
        raise
    _count(provider, events)
    log.info(
        "webhook accepted",
        extra={"provider": provider, "events": len(events), "stored": len(stored)},
    )
    return JSONResponse({"received": len(events), "stored": len(stored)})


async def _verified_events(
    handler: Callable[[Inbound, Context], Awaitable[list[Event]]],
    provider: str,
    inbound: Inbound,
    context: Context,
) -> list[Event]:
    try:
        return await handler(inbound, context)
    except Rejected as r:
        metrics.WEBHOOK_REJECTED.labels(provider, r.reason).inc()
        log.warning("webhook refused", extra={"provider": provider, "reason": r.reason})
        if isinstance(r, Malformed):
            raise Problem(
                400, "The body is not what the provider sends.", slug="malformed"
            ) from None
        raise Problem(r.status, "The request was not accepted.", slug="webhook-refused") from None
    except (redis.RedisError, OSError) as e:
        log.warning("webhook replay check unavailable", extra={"error": type(e).__name__})
        raise unavailable("Redis") from None


def _count(provider: str, events: list[Event]) -> None:
    for event in events:
        metrics.WEBHOOK_EVENTS.labels(provider, event.kind).inc()
    derived = sum(e.derived_id for e in events)
    if derived:
        # Stored all the same, under an id made from the event's content.
        metrics.WEBHOOK_DERIVED_IDS.labels(provider).inc(derived)
        log.warning("webhook events without an id", extra={"provider": provider, "count": derived})


class Claims:
    """The replay tokens one request claims in Redis, so that they can be handed back."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.keys: list[str] = []

    async def claim(self, key: str, ttl: int) -> bool:
        async with asyncio.timeout(REDIS_TIMEOUT):
            fresh = bool(await self.client.set(f"signup:once:{key}", "1", nx=True, ex=ttl))
        if fresh:
            self.keys.append(f"signup:once:{key}")
        return fresh

    async def release(self) -> None:
        if not self.keys:
            return
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                await self.client.delete(*self.keys)
        except (redis.RedisError, OSError) as e:
            # The provider's retry will be refused as a replay until the token expires.
            log.warning("replay token not released", extra={"error": type(e).__name__})


def _address(address: str) -> str:
    try:
        return normalise(address.strip())
    except InvalidAddress:
        return address.strip()


# An event may name thousands of recipients (an SES bounce lists every bounced one): stored in
# batches of this many, each one short statement (one transaction in a rotation), so a request
# never holds thousands of row locks at once, and a provider's retry after a failure part-way
# stores only the batches still missing (each row is unique by its event id).
STORE_BATCH = 500


async def _store(request: Request, provider: str, events: list[Event]) -> list[int]:
    if not events:
        return []
    keys = index_keys(request.app.state.settings)
    addresses = [_address(e.address) for e in events]
    indexes = [keys.index(a) for a in addresses]
    stored: list[int] = []
    try:
        async with request.app.state.pool.acquire() as conn:
            for start in range(0, len(events), STORE_BATCH):
                end = start + STORE_BATCH
                stored += await _store_batch(
                    conn,
                    keys,
                    provider,
                    events[start:end],
                    addresses[start:end],
                    indexes[start:end],
                )
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on webhook", extra={"error": type(e).__name__})
        raise unavailable("The database") from None
    except StaleIndexKey:
        raise await stale_key(request.app.state.pool, keys) from None
    return stored


async def _store_batch(
    conn: Any,
    keys: IndexKeys,
    provider: str,
    events: list[Event],
    addresses: list[str],
    indexes: list[bytes],
) -> list[int]:
    async with rotating(conn, keys):
        # Stored under the current key, so the address's rows must be filed there too
        # (in one order for every request, so two batches never wait on each other).
        for address in sorted(set(addresses)):
            await refile(conn, keys, address)
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
            index_key=keys.current_id,
            helds=[keys.held(a) for a in addresses],
            held_key=keys.held_id,
        )
        return [r["id"] async for r in rows]
