"""POST /signup: validate, one SQL round trip, ring the worker; answers alike for every address."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from signup_api.bodies import FORM, media_type, parse_fields
from signup_api.forms import SignupForm, validate
from signup_api.problems import Problem, unavailable
from signup_core import db, sealing
from signup_core.addresses import blind_index, hash_ip

log = logging.getLogger(__name__)

ACCEPTED = {"status": "accepted", "detail": "Check your inbox to confirm your subscription."}


async def signup(request: Request) -> Response:
    settings = request.app.state.settings
    is_form = media_type(request) == FORM
    try:
        form = validate(await parse_fields(request, settings.max_body_bytes), settings)
        outbox_id = await _store(request, form)
    except Problem as p:
        if is_form:
            sep = "&" if "?" in settings.error_url else "?"
            return RedirectResponse(
                f"{settings.error_url}{sep}{urlencode({'reason': p.slug})}", status_code=303
            )
        raise
    if outbox_id is not None:
        await request.app.state.doorbell.ring(outbox_id)
    log.info("signup accepted", extra={"queued": outbox_id is not None})
    if is_form:
        return RedirectResponse(settings.thanks_url, status_code=303)
    return JSONResponse(ACCEPTED, status_code=202)


async def _store(request: Request, form: SignupForm) -> int | None:
    """Upsert the subscription and queue its mail; the outbox id, or None when no mail is due."""
    state = request.app.state
    key = state.settings.blind_index_key.bytes()
    client_ip = request.client.host if request.client else None
    try:
        async with state.pool.acquire() as conn:
            row = await db.queries().upsert_signup(
                conn,
                list_name=form.list_name,
                email_index=blind_index(key, form.email),
                email_sealed=sealing.seal(form.email),
                name_sealed=sealing.seal(form.name),
                locale=form.locale,
                form_version=state.settings.form_version,
                ip_hash=hash_ip(key, client_ip),
                resend_window=float(state.settings.resend_window),
            )
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on signup", extra={"error": type(e).__name__})
        raise unavailable("The database") from None
    return row["outbox_id"]
