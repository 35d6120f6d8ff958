"""A subscriber's own data: "erase me" (GET /manage/erase asks, POST erases, as the operator's
erasure does, and shows a receipt) and the download of their data (GET /manage/data, from the
short-lived link mailed on request, shows a button; POST answers the JSON file). GETs change
nothing: mail scanners follow links."""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import Response

from signup_api import manage
from signup_api.bodies import parse_fields
from signup_api.pages import page
from signup_api.problems import Problem
from signup_core import db, operations

log = logging.getLogger(__name__)

CONFIRM_FIELD = "sure"


async def show_erase(request: Request) -> Response:
    person = await manage.find(request, request.query_params.get("token", ""))
    if isinstance(person, Response):
        return person
    return page(request, "manage_erase.html", {"token": person.token, "masked": person.masked})


async def erase(request: Request) -> Response:
    state = request.app.state
    try:
        fields = await parse_fields(request, state.settings.max_body_bytes)
    except Problem as p:
        return manage.result(request, "unknown", p.status)
    person = await manage.find(request, fields.get("token", ""))
    if isinstance(person, Response):
        return person
    if not fields.get(CONFIRM_FIELD):
        # Said under the box that was not ticked, and tied to it for a screen reader.
        context = {"token": person.token, "masked": person.masked, "missing": True}
        return page(request, "manage_erase.html", context, status=400)
    try:
        # The operator's erasure, refiling first what a blind-index rotation left behind (by
        # the address, while a subscription still holds it).
        if person.address:
            lookups = await operations.refiled(state.pool, state.settings, [person.address])
        else:
            # Minimised rows keep no address: the lookup finds them by their index alone.
            index = bytes(person.rows[0]["email_index"])
            lookups = [await operations.lookup_of_index(state.pool, state.settings, index)]
        events = state.settings.events_enabled
        counts = await operations.erase(state.pool, manage.ACTOR, lookups, events)
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on erasure", extra={"error": type(e).__name__})
        return manage.result(request, "unavailable", 503)
    log.info("subscriber erased themselves", extra={"subscriptions": counts["subscriptions"]})
    return manage.result(request, "erased", 200)


async def show_data(request: Request) -> Response:
    token = request.query_params.get("token", "")
    person = await manage.find(request, token, "data")
    if isinstance(person, Response):
        return person
    return page(request, "manage_data.html", {"token": token, "masked": person.masked})


async def download(request: Request) -> Response:
    state = request.app.state
    try:
        fields = await parse_fields(request, state.settings.max_body_bytes)
    except Problem as p:
        return manage.result(request, "unknown", p.status)
    person = await manage.find(request, fields.get("token", ""), "data")
    if isinstance(person, Response):
        return person
    if not person.address:  # stripped by retention since the link was mailed
        return manage.result(request, "unknown", 404)
    try:
        # The operator's per-person record, audited as a look-up (by blind index only).
        record = await operations.lookup(
            state.pool, state.settings, manage.ACTOR, person.address, "subscriber-download"
        )
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on data download", extra={"error": type(e).__name__})
        return manage.result(request, "unavailable", 503)
    body = json.dumps(record, indent=2, ensure_ascii=False, default=str).encode()
    headers = {
        "Content-Disposition": 'attachment; filename="my-subscription-data.json"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, media_type="application/json", headers=headers)
