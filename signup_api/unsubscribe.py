"""GET /unsubscribe shows a button; POST /unsubscribe unsubscribes, also as RFC 8058 one-click
(a bare POST with List-Unsubscribe=One-Click, no cookie, no page). Both are idempotent."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from signup_api.bodies import parse_fields
from signup_api.pages import page
from signup_api.problems import Problem
from signup_core import db, sealing, tracing, unsubscribe_links

log = logging.getLogger(__name__)


def _link(request: Request, token: str) -> unsubscribe_links.LinkId | None:
    return unsubscribe_links.verify(request.app.state.settings, token) if token else None


async def _apply(conn, link: unsubscribe_links.LinkId, events: bool) -> tuple[bool, bool]:
    """Unsubscribe what the link names: (whether it exists, whether this changed it)."""
    q = db.queries()
    # An int is a link mailed before unsubscribe ids: the row number itself.
    found = (
        link
        if isinstance(link, int)
        else await q.find_subscription_for_link(conn, unsubscribe_id=link)
    )
    if found is None:  # erased since the mail was sent
        return False, False
    row = await q.unsubscribe(
        conn, subscription_id=found, events=events, traceparent=tracing.traceparent()
    )
    return row["known"], row["outbox_id"] is not None


def masked(address: str) -> str:
    """Enough of the address to recognise it, not enough to read it off a shared screen."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else "•••"


async def _named(conn, link: unsubscribe_links.LinkId, keys) -> dict[str, str] | None:
    """The list title and masked address a page about this link may show."""
    row = await db.queries().subscription_for_page(
        conn,
        unsubscribe_id=None if isinstance(link, int) else link,
        subscription_id=link if isinstance(link, int) else None,
    )
    return (
        None
        if row is None
        else {
            "list_name": row["list_name"],
            "masked": masked(
                sealing.open_column(keys, row["email_sealed"], sealing.EMAIL, row["seal_key_id"])
                or ""
            ),
        }
    )


def _page(request: Request, name: str, found: dict[str, str], **context: str) -> Response:
    settings = request.app.state.settings
    title = settings.list_title(found["list_name"])
    return page(request, name, {"list_title": title, "masked": found["masked"], **context})


def _unknown(request: Request) -> Response:
    return page(request, "unsubscribe_result.html", {"outcome": "unknown"}, status=404)


async def show_unsubscribe(request: Request) -> Response:
    token = request.query_params.get("token", "")
    link = _link(request, token)
    if link is None:
        return _unknown(request)
    try:
        async with request.app.state.pool.acquire() as conn:
            found = await _named(conn, link, request.app.state.settings.seal_keys)
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on unsubscribe page", extra={"error": type(e).__name__})
        return _unavailable(request)
    if found is None:
        return _unknown(request)
    return _page(request, "unsubscribe.html", found, token=token)


def _unavailable(request: Request) -> Response:
    return page(
        request,
        "unsubscribe_result.html",
        {"outcome": "unavailable"},
        status=503,
        headers={"Retry-After": "5"},
    )


async def unsubscribe(request: Request) -> Response:
    try:
        fields = await parse_fields(request, request.app.state.settings.max_body_bytes)
    except Problem:
        fields = {}  # a one-click POST's body says nothing we need; the link says it all
    token = request.query_params.get("token") or fields.get("token", "")
    link = _link(request, token)
    if link is None:
        return _unknown(request)
    try:
        async with request.app.state.pool.acquire() as conn:
            known, changed = await _apply(conn, link, request.app.state.settings.events_enabled)
            found = (
                await _named(conn, link, request.app.state.settings.seal_keys) if known else None
            )
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on unsubscribe", extra={"error": type(e).__name__})
        return _unavailable(request)
    log.info("unsubscribe", extra={"changed": changed, "one_click": "List-Unsubscribe" in fields})
    if found is None:
        return _unknown(request)
    return _page(request, "unsubscribe_result.html", found, outcome="done")
