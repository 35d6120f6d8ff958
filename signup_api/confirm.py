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
from signup_core import consent, db, tokens, tracing

log = logging.getLogger(__name__)


class Outcome(Enum):
    CONFIRMED = ("confirmed", 200)
    ALREADY = ("already", 200)
    EXPIRED = ("expired", 410)
    USED = ("used", 410)
    UNKNOWN = ("unknown", 404)
    UNAVAILABLE = ("unavailable", 503)


async def show_confirm(request: Request) -> Response:
    """Says on the GET what the POST would find (expired, used, unknown) with a way to a new
    link, so nobody presses a button only to be told the link is dead. Changes nothing:
    mail scanners follow links."""
    token = request.query_params.get("token", "")
    if not tokens.looks_valid(token):
        return _result(request, Outcome.UNKNOWN)
    settings = request.app.state.settings
    context = {"token": token, "autosubmit": settings.confirm_autosubmit, "list_title": ""}
    try:
        async with request.app.state.pool.acquire() as conn:
            row = await db.queries().token_state(conn, token_hash=tokens.digest(token))
    except db.UNAVAILABLE as e:
        # The button still works once the database is back; the POST says what it finds.
        log.warning("database unavailable on confirm page", extra={"error": type(e).__name__})
        return page(request, "confirm.html", context)
    if row is None:
        return _result(request, Outcome.UNKNOWN)
    list_name = row["list_name"]
    if row["status"] == "confirmed":
        return _result(request, Outcome.ALREADY, list_name)
    if row["consumed"] or row["status"] != "pending":
        return _result(request, Outcome.USED, list_name)
    if row["expired"]:
        return _result(request, Outcome.EXPIRED, list_name)
    context["list_title"] = settings.list_title(list_name)
    return page(request, "confirm.html", context)


def _result(
    request: Request,
    outcome: Outcome,
    list_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The outcome's page; a dead link's page carries the form for a new link, which answers
    alike for every address, as signup does."""
    settings = request.app.state.settings
    name, status = outcome.value
    context = {
        "outcome": name,
        "list_title": settings.list_title(list_name or settings.default_list),
        "values": {"list": list_name} if list_name else {},
        "signup_enabled": settings.signup_enabled,
    }
    return page(request, "confirm_result.html", context, status=status, headers=headers)


async def confirm(request: Request) -> Response:
    try:
        fields = await parse_fields(request, request.app.state.settings.max_body_bytes)
    except Problem as p:
        return page(request, "confirm_result.html", {"outcome": "unknown"}, status=p.status)
    token = fields.get("token") or request.query_params.get("token", "")
    outcome, list_name = Outcome.UNKNOWN, None
    if tokens.looks_valid(token):
        outcome, list_name = await _spend(request, tokens.digest(token))
    metrics.CONFIRMATIONS.labels(outcome.value[0]).inc()
    log.info("confirmation", extra={"outcome": outcome.value[0]})
    confirmed_url = request.app.state.settings.confirmed_url
    if outcome is Outcome.CONFIRMED and confirmed_url:
        return RedirectResponse(confirmed_url, status_code=303)
    headers = {"Retry-After": "5"} if outcome is Outcome.UNAVAILABLE else None
    return _result(request, outcome, list_name, headers)


async def _spend(request: Request, token_hash: bytes) -> tuple[Outcome, str | None]:
    q = db.queries()
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            row = await q.lock_token(conn, token_hash=token_hash)
            if row is None:
                return Outcome.UNKNOWN, None
            list_name = row["list_name"]
            if row["status"] == "confirmed":
                await q.consume_token(conn, token_hash=token_hash)
                return Outcome.ALREADY, list_name
            if row["consumed"] or row["status"] != "pending":
                return Outcome.USED, list_name
            if row["expired"]:
                return Outcome.EXPIRED, list_name
            ip_hash, _ = consent.hash_ip(
                request.app.state.settings, request.client.host if request.client else None
            )
            await q.confirm_subscription(
                conn,
                subscription_id=row["subscription_id"],
                ip_hash=ip_hash,
                user_agent=consent.browser_family(request.headers.get("user-agent")),
                events=request.app.state.settings.events_enabled,
                traceparent=tracing.traceparent(),
            )
            await q.consume_token(conn, token_hash=token_hash)
            return Outcome.CONFIRMED, list_name
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on confirm", extra={"error": type(e).__name__})
        return Outcome.UNAVAILABLE, None
