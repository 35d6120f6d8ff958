"""GET /confirm shows a button and changes nothing; POST /confirm spends the token once."""

from __future__ import annotations

import logging
from enum import Enum

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signup_api import metrics
from signup_api.bodies import parse_fields
from signup_api.pages import page
from signup_api.problems import Problem
from signup_core import db, tokens

log = logging.getLogger(__name__)


class Outcome(Enum):
    CONFIRMED = ("confirmed", 200)
    ALREADY = ("already", 200)
    EXPIRED = ("expired", 410)
    USED = ("used", 410)
    UNKNOWN = ("unknown", 404)
    UNAVAILABLE = ("unavailable", 503)


async def show_confirm(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not tokens.looks_valid(token):
        return page(request, "confirm_result.html", {"outcome": "unknown"}, status=404)
    return page(request, "confirm.html", {"token": token})


async def confirm(request: Request) -> Response:
    try:
        fields = await parse_fields(request, request.app.state.settings.max_body_bytes)
    except Problem as p:
        return page(request, "confirm_result.html", {"outcome": "unknown"}, status=p.status)
    token = fields.get("token") or request.query_params.get("token", "")
    outcome = Outcome.UNKNOWN
    if tokens.looks_valid(token):
        outcome = await _spend(request, tokens.digest(token))
    metrics.CONFIRMATIONS.labels(outcome.value[0]).inc()
    log.info("confirmation", extra={"outcome": outcome.value[0]})
    confirmed_url = request.app.state.settings.confirmed_url
    if outcome is Outcome.CONFIRMED and confirmed_url:
        return RedirectResponse(confirmed_url, status_code=303)
    name, status = outcome.value
    headers = {"Retry-After": "5"} if outcome is Outcome.UNAVAILABLE else None
    return page(request, "confirm_result.html", {"outcome": name}, status=status, headers=headers)


async def _spend(request: Request, token_hash: bytes) -> Outcome:
    q = db.queries()
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            row = await q.lock_token(conn, token_hash=token_hash)
            if row is None:
                return Outcome.UNKNOWN
            if row["status"] == "confirmed":
                await q.consume_token(conn, token_hash=token_hash)
                return Outcome.ALREADY
            if row["consumed"] or row["status"] != "pending":
                return Outcome.USED
            if row["expired"]:
                return Outcome.EXPIRED
            await q.confirm_subscription(conn, subscription_id=row["subscription_id"])
            await q.consume_token(conn, token_hash=token_hash)
            return Outcome.CONFIRMED
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on confirm", extra={"error": type(e).__name__})
        return Outcome.UNAVAILABLE
