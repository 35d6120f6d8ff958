"""The admin API's handlers: each authenticates, checks its scope and the caller's rate, then
calls the same operation signupctl does (signup_core.operations), with the token's subject as
the audit trail's actor."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from signup_api.admin.tokens import Principal, Refused, allows
from signup_api.problems import Problem, unavailable
from signup_api.ratelimit import REDIS_TIMEOUT
from signup_core import admin_keys, json_bodies, operations
from signup_core.addresses import InvalidAddress, normalise
from signup_core.audit import record
from signup_core.clock import utc_time
from signup_core.index_keys import Lookup, index_keys
from signup_core.key_registry import KeyMismatch

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_ADDRESSES = 10_000
Handler = Callable[[Request, Principal], Awaitable[Response]]
# route name -> scope, read by the OpenAPI test as well.
SCOPES: dict[str, str] = {}


def needs(scope: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Authenticate, check `scope` and the subject's rate, then run the handler."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        SCOPES[handler.__name__] = scope

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            state = request.app.state
            principal = await state.verifier.verify(request.headers.get("authorization"))
            if not allows(principal, scope):
                raise Refused(403, f"This call needs the scope {scope}.", "scope")
            await _limit(state.redis, state.settings.admin_rate, principal.subject)
            return await handler(request, principal)

        return endpoint

    return wrap


async def _limit(client: redis.Redis, rate: Any, subject: str) -> None:
    if rate is None:
        return
    digest = hashlib.sha256(subject.encode()).hexdigest()[:24]
    try:
        async with asyncio.timeout(REDIS_TIMEOUT):
            time = await client.time()
            window = time[0] // rate.window
            key = f"signup:admin:rl:{digest}:{window}"
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, rate.window * 2)
            count, _ = await pipe.execute()
    except (TimeoutError, redis.RedisError) as e:
        # The caller is already authenticated: an outage of the limiter does not lock on-call out.
        log.warning("admin rate limit skipped", extra={"error": type(e).__name__})
        return
    if count > rate.limit:
        retry = rate.window - time[0] % rate.window
        raise Problem(
            429, "Too many admin calls; slow down.", slug="rate-limited", retry_after=retry
        )


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Problem(415, "Send application/json.", slug="unsupported-media-type")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Problem(413, "The body is too large.", slug="too-large")
    try:
        body = json_bodies.loads(raw)
    except json_bodies.MalformedJSON as e:
        raise Problem(400, f"The body is not valid JSON: {e}", slug="invalid-json") from None
    if not isinstance(body, dict):
        raise Problem(400, "The body must be a JSON object.", slug="invalid-json")
    return body


async def _indexes(request: Request, body: dict[str, Any]) -> list[Lookup]:
    addresses = body.get("addresses")
    if addresses is None and "address" in body:
        addresses = [body["address"]]
    if (
        not isinstance(addresses, list)
        or not addresses
        or not all(isinstance(a, str) for a in addresses)
    ):
        raise Problem(400, "Give addresses: a non-empty list of strings.", slug="invalid-field")
    if len(addresses) > MAX_ADDRESSES:
        raise Problem(413, f"At most {MAX_ADDRESSES} addresses a call.", slug="too-large")
    normalised = []
    for n, address in enumerate(addresses, 1):
        try:
            normalised.append(normalise(address))
        except InvalidAddress:
            # Named by position, not echoed: it may be someone's address with a typo.
            raise Problem(
                400, f"Address #{n} is not a valid address.", slug="invalid-field"
            ) from None
    state = request.app.state
    try:
        return await operations.refiled(state.pool, state.settings, normalised)
    except KeyMismatch as e:
        log.error("blind-index keys do not match the database", extra={"error": str(e)})
        raise unavailable("This process's blind-index key") from None


def _time(request: Request, name: str) -> datetime.datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    parsed = utc_time(value)
    if parsed is None:
        raise Problem(400, f"{name} must be an ISO 8601 time.", slug="invalid-field")
    return parsed


def _limit_param(request: Request, default: int = 100) -> int:
    value = request.query_params.get("limit", str(default))
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise Problem(400, "limit must be a number from 1 to 10000.", slug="invalid-field")
    return int(value)


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


@needs("signup:read")
async def stats(request: Request, who: Principal) -> Response:
    state = request.app.state
    rows = await operations.stats(state.pool, state.clock.now())
    await record(state.pool, who.subject, "stats", {}, {"lists": len(rows)})
    return _json({"lists": rows})


@needs("signup:export")
async def export(request: Request, who: Principal) -> Response:
    state = request.app.state
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise Problem(400, "format must be csv or jsonl.", slug="invalid-field")
    list_name = request.query_params.get("list")
    if list_name is not None and not await operations.known_list(
        state.pool, state.settings, list_name
    ):
        raise Problem(400, f"There is no list {list_name!r}.", slug="invalid-field")
    lines = operations.export_lines(
        state.pool,
        state.settings,
        who.subject,
        fmt,
        list_name,
        _time(request, "since"),
        _time(request, "until"),
    )
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/jsonl; charset=utf-8"
    name = f"subscribers.{fmt}"
    return StreamingResponse(
        _encoded(lines),
        media_type=media,
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


async def _encoded(lines: Any) -> Any:
    # A few hundred rows a chunk: one send per row would cost more than the rows themselves.
    # Closed here when this ends, however it ends: the export's audit row and its connection
    # must not wait for the garbage collector.
    batch: list[str] = []
    async with contextlib.aclosing(lines):
        async for line in lines:
            if line == operations.EXPORT_END:  # the last chunk is sent before it counts as whole
                if batch:
                    yield "".join(batch).encode()
                continue
            batch.append(line)
            if len(batch) == 500:
                yield "".join(batch).encode()
                batch = []


@needs("signup:erase")
async def erase(request: Request, who: Principal) -> Response:
    lookups = await _indexes(request, await _body(request))
    state = request.app.state
    totals = await operations.erase(state.pool, who.subject, lookups, state.settings.events_enabled)
    return _json({"addresses": len(lookups), **totals})


@needs("signup:admin")
async def suppress(request: Request, who: Principal) -> Response:
    body = await _body(request)
    reason = body.get("reason", "operator")
    if not isinstance(reason, str) or not 0 < len(reason) <= 100 or not reason.isprintable():
        raise Problem(400, "reason must be a short line of text.", slug="invalid-field")
    lookups = await _indexes(request, body)
    key_id = index_keys(request.app.state.settings).held_id
    await operations.suppress(
        request.app.state.pool,
        who.subject,
        lookups,
        reason,
        key_id,
        request.app.state.settings.events_enabled,
    )
    return _json({"addresses": len(lookups), "email_indexes": [lk.index.hex() for lk in lookups]})


@needs("signup:admin")
async def unsuppress(request: Request, who: Principal) -> Response:
    try:
        index = bytes.fromhex(request.path_params["index"])
    except ValueError:
        raise Problem(400, "The blind index must be hex.", slug="invalid-field") from None
    if len(index) != 32:
        raise Problem(400, "The blind index must be 32 bytes of hex.", slug="invalid-field")
    state = request.app.state
    lookup = await operations.lookup_of_index(state.pool, state.settings, index)
    counts = await operations.unsuppress(state.pool, who.subject, [lookup])
    if not counts["suppressions"]:
        raise Problem(404, "That address is not suppressed.", slug="not-found")
    return _json(counts)


@needs("signup:read")
async def dead_letters(request: Request, who: Principal) -> Response:
    state = request.app.state
    limit = _limit_param(request)
    rows = await operations.dead_letters(state.pool, limit)
    await record(
        state.pool, who.subject, "dead-letters-list", {"limit": limit}, {"rows": len(rows)}
    )
    for r in rows:
        for name in ("created_at", "failed_at"):
            r[name] = r[name].isoformat() if r[name] else None
    return _json({"dead_letters": rows})


@needs("signup:admin")
async def replay(request: Request, who: Principal) -> Response:
    body = await _body(request)
    outbox_id, every = body.get("id"), body.get("all") is True
    if (outbox_id is None) == (not every) or (
        outbox_id is not None and (not isinstance(outbox_id, int) or outbox_id < 1)
    ):
        raise Problem(
            400,
            'Give exactly one of "id" (a positive number) or "all": true.',
            slug="invalid-field",
        )
    n = await operations.replay_dead_letters(request.app.state.pool, who.subject, outbox_id)
    if outbox_id is not None and not n:
        raise Problem(404, f"Outbox row {outbox_id} is not dead-lettered.", slug="not-found")
    return _json({"replayed": n})


@needs("signup:read")
async def audit(request: Request, who: Principal) -> Response:
    state = request.app.state
    since, limit = _time(request, "since"), _limit_param(request)
    async with state.pool.acquire() as conn:
        rows = await operations.audit_entries(conn, since, limit)
    await record(
        state.pool, who.subject, "audit-read", {"since": since, "limit": limit}, {"rows": len(rows)}
    )
    return _json({"entries": rows})


async def jwks(request: Request) -> Response:
    path = request.app.state.settings.admin_keys_file
    document = admin_keys.public_jwks(path) if path else {"keys": []}
    return JSONResponse(document, headers={"cache-control": "public, max-age=300"})
