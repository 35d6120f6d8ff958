"""The subscriber's preference page, reached from the manage link in every mail but the
confirmation: GET /manage shows every list with its state and changes nothing (mail scanners
follow links); POST /manage saves the lists ticked, unsubscribes from all, or mails a link to
the person's data. The signed link is the only credential, so the page works without cookies
and without JavaScript. Every change is audited, without the address."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signup_api.bodies import parse_fields
from signup_api.pages import page
from signup_api.problems import Problem
from signup_api.unsubscribe import masked
from signup_core import audit, consent, db, manage_links, sealing

log = logging.getLogger(__name__)

ACTOR = "subscriber"  # the audit trail's actor for what a subscriber does on these pages
DONE = ("saved", "left", "data")


@dataclass(frozen=True)
class Person:
    """Whom a valid link names: their subscriptions, their address (opened, never shown
    whole) and the token that got them here."""

    token: str
    rows: list[asyncpg.Record]
    address: str

    @property
    def masked(self) -> str:
        return masked(self.address)

    @property
    def anchor(self) -> asyncpg.Record | None:
        """A subscription that still holds the address (retention strips closed ones): what a
        list joined from here and the data-link mail are made from."""
        return next((r for r in self.rows if r["email_sealed"] is not None), None)

    @property
    def suppressed(self) -> bool:
        return any(r["suppressed"] for r in self.rows)

    def status(self, list_name: str) -> str:
        """confirmed, pending, unsubscribed, none or suppressed for one list."""
        if self.suppressed:
            return "suppressed"
        found = [r["status"] for r in self.rows if r["list_name"] == list_name]
        return found[0] if found else "none"


def result(request: Request, outcome: str, status: int, **context: Any) -> Response:
    """A page that ends here: a dead link, an outage, or a receipt."""
    headers = {"Retry-After": "5"} if status == 503 else None
    return page(
        request,
        "manage_result.html",
        {"outcome": outcome, **context},
        status=status,
        headers=headers,
    )


async def find(request: Request, token: str, purpose: str = "manage") -> Person | Response:
    """The person a link names, or the page that says why it names nobody."""
    state = request.app.state
    verdict = manage_links.verify(state.settings, purpose, token, state.clock) if token else None
    if verdict is None or verdict.unsubscribe_id is None:
        expired = verdict is not None and verdict.expired
        return result(request, "expired" if expired else "unknown", 410 if expired else 404)
    try:
        async with state.pool.acquire() as conn:
            rows = [
                r
                async for r in db.queries().manage_link_subscriptions(
                    conn, unsubscribe_id=verdict.unsubscribe_id
                )
            ]
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on the manage page", extra={"error": type(e).__name__})
        return result(request, "unavailable", 503)
    if not rows:  # erased since the link was made
        return result(request, "unknown", 404)
    person = Person(token, rows, "")
    if person.anchor is not None:
        keys, anchor = state.settings.seal_keys, person.anchor
        address = sealing.open_column(
            keys, anchor["email_sealed"], sealing.EMAIL, anchor["seal_key_id"]
        )
        person = Person(token, rows, address or "")
    return person


def _lists(request: Request, person: Person) -> list[dict[str, str]]:
    s = request.app.state.settings
    return [
        {"key": key, "title": s.list_title(key), "status": person.status(key)} for key in s.lists
    ]


async def show(request: Request) -> Response:
    person = await find(request, request.query_params.get("token", ""))
    if isinstance(person, Response):
        return person
    done = request.query_params.get("done")
    context = {
        "token": person.token,
        "masked": person.masked,
        "choices": _lists(request, person),
        "suppressed": person.suppressed,
        "done": done if done in DONE else None,
        "data_minutes": request.app.state.settings.data_link_ttl // 60,
    }
    return page(request, "manage.html", context)


async def change(request: Request) -> Response:
    settings = request.app.state.settings
    try:
        fields = await parse_fields(request, settings.max_body_bytes)
    except Problem as p:
        return result(request, "unknown", p.status)
    person = await find(request, fields.get("token", ""))
    if isinstance(person, Response):
        return person
    action = fields.get("action", "save")
    try:
        if action == "data":
            await _request_data(request, person)
        elif action == "leave-all":
            await _save(request, person, wanted=set())
        else:
            wanted = {key for key in settings.lists if fields.get(f"list.{key}")}
            await _save(request, person, wanted)
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on a manage change", extra={"error": type(e).__name__})
        return result(request, "unavailable", 503)
    done = {"data": "data", "leave-all": "left"}.get(action, "saved")
    query = urlencode({"token": person.token, "done": done})
    return RedirectResponse(f"/manage?{query}", status_code=303)


async def _save(request: Request, person: Person, wanted: set[str]) -> None:
    """Join what is ticked and not yet confirmed; leave what is on and not ticked. Leaving
    all also withdraws a signup still waiting for its confirmation."""
    state = request.app.state
    s = state.settings
    q = db.queries()
    ip = request.client.host if request.client else None
    ip_hash, ip_key = consent.hash_ip(s, ip)
    user_agent = consent.browser_family(request.headers.get("user-agent"))
    joined, left = [], []
    anchor = person.anchor
    async with state.pool.acquire() as conn, conn.transaction():
        for row in person.rows:
            on = row["status"] == "confirmed" or (not wanted and row["status"] == "pending")
            if row["list_name"] in wanted or not on:
                continue
            if await q.leave_list(conn, subscription_id=row["id"]) is not None:
                left.append(row["list_name"])
        for key in sorted(wanted):
            if anchor is None or person.status(key) in ("confirmed", "suppressed"):
                continue
            outbox_id = await q.join_from_preferences(
                conn,
                subscription_id=anchor["id"],
                list_name=key,
                form_version=s.form_version,
                wording_hash=consent.wording_hash(anchor["locale"], s.templates_dir),
                ip_hash=ip_hash,
                ip_key=ip_key,
                user_agent=user_agent,
            )
            if outbox_id is not None:
                joined.append(key)
    action = "preferences-leave-all" if not wanted else "preferences-save"
    counts = {"joined": len(joined), "left": len(left)}
    await audit.record(state.pool, ACTOR, action, {"joined": joined, "left": left}, counts)
    log.info("preferences changed", extra=counts)


async def _request_data(request: Request, person: Person) -> None:
    state = request.app.state
    outbox_id = None
    if person.anchor is not None:  # else there is no address left to mail
        async with state.pool.acquire() as conn:
            outbox_id = await db.queries().request_data_link(
                conn,
                subscription_id=person.anchor["id"],
                window=float(state.settings.resend_window),
            )
    queued = int(outbox_id is not None)
    await audit.record(state.pool, ACTOR, "data-link-request", {}, {"queued": queued})
    log.info("data link requested", extra={"queued": bool(queued)})
