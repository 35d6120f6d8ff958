"""POST /signup: checks, one SQL round trip (shared with concurrent signups), answers alike
for every address."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import redis.asyncio as redis
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from signup_api import captcha, metrics, origins, pages, wording
from signup_api.bodies import FORM, media_type, parse_fields
from signup_api.forms import SignupForm, validate
from signup_api.health import MIGRATE_HINT, SCHEMA_BEHIND
from signup_api.problems import Problem, problem_response, unavailable
from signup_api.request_headers import header
from signup_api.signup_batch import SignupRow, upsert
from signup_api.stale_keys import stale_key
from signup_core import consent, db, i18n, sealing, tracing
from signup_core.addresses import blind_index
from signup_core.index_keys import StaleIndexKey, index_keys, refile, rotating

log = logging.getLogger(__name__)

_ACCEPTED_COUNT = metrics.SIGNUPS.labels("accepted")  # bound once: labels() is a locked lookup

ACCEPTED = json.dumps(
    {"status": "accepted", "detail": "Check your inbox to confirm your subscription."}
).encode()
_ACCEPTED_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(ACCEPTED)),
)


class Signup:
    """A bare ASGI endpoint, not a Starlette request/response function: every signup is on
    the hot path, and that wrapper, its second exception layer and JSONResponse's rendering
    cost ~30 µs a signup (~3%). A Problem raised here still meets the app's handlers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await signup(scope, receive, send)


async def signup(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    settings = request.app.state.settings
    is_form = media_type(request) == FORM
    try:
        outcome = await _admit_and_store(request)
    except Problem as p:
        metrics.SIGNUPS.labels(p.slug).inc()
        await _refused(request, p, is_form)(scope, receive, send)
        return
    (_ACCEPTED_COUNT if outcome == "accepted" else metrics.SIGNUPS.labels(outcome)).inc()
    if is_form:
        await RedirectResponse(settings.thanks_url, status_code=303)(scope, receive, send)
        return
    # A new headers list each time: middleware appends to it.
    await send({"type": "http.response.start", "status": 202, "headers": list(_ACCEPTED_HEADERS)})
    await send({"type": "http.response.body", "body": ACCEPTED})


def _refused(request: Request, p: Problem, is_form: bool) -> Response:
    """A refusal in the visitor's language: problem+json for fetch() and API clients; for a
    form post, the configured error page, or by default the form again, what was typed kept
    and what was wrong said where it was wrong."""
    settings = request.app.state.settings
    fields: dict[str, str] = getattr(request.state, "fields", {})
    lang = pages.locale_of(request, fields.get("locale"))
    translate = i18n.translator(lang, settings.templates_dir)
    if not is_form:
        return problem_response(wording.localised(p, lang, translate))
    if settings.error_url:
        sep = "&" if "?" in settings.error_url else "?"
        query = urlencode({"reason": p.slug})
        return RedirectResponse(f"{settings.error_url}{sep}{query}", status_code=303)
    headers = {"Retry-After": str(p.retry_after)} if p.retry_after else None
    if p.slug == "signup-closed":
        return pages.page(request, "closed.html", status=p.status, locale=lang)
    if p.slug == "origin-not-allowed":
        # A page on a site that may not post here: say so, and do not offer our form there.
        context = {"message_key": "error.origin-not-allowed"}
        return pages.page(request, "oops.html", context, status=p.status, locale=lang)
    errors = wording.field_messages(p, lang, translate)
    context = {
        "values": {k: fields.get(k, "") for k in ("email", "name", "list")},
        "errors": errors,
        "form_error": None if errors else wording.form_message(p, translate),
    }
    return pages.page(
        request, "landing.html", context, status=p.status, headers=headers, locale=lang
    )


async def _admit_and_store(request: Request) -> str:
    """Every check in cost order, then the write; returns the outcome for the metrics."""
    state = request.app.state
    s = state.settings
    if not s.signup_enabled:
        raise Problem(404, "Signup is closed.", slug="signup-closed")
    origins.check(request, state.allowed_origins)
    fields = await parse_fields(request, s.max_body_bytes)
    request.state.fields = fields  # kept for the page that may have to show the form again
    if not fields.get("locale"):
        # The kit for every language without its script: the browser's language decides.
        fields["locale"] = pages.locale_of(request)
    if fields.get(s.honeypot_field):
        # Bots get the same answer as everyone and learn nothing; nothing is stored or sent.
        metrics.BLOCKED.labels("honeypot").inc()
        log.info("honeypot filled")
        return "honeypot"
    form = validate(fields, s)
    once = captcha.solved_altcha(fields, s)
    client_ip = request.client.host if request.client else "unknown"
    index = blind_index(s.blind_index_key.bytes(), form.email)
    with tracing.step("signup.rate_limit"):
        await rate_limit(request, client_ip, index, once)
    await captcha.verify_remote(fields, client_ip, s, state.http)
    # The outbox row written with the subscription is the hand-over: the worker's relay
    # polls for it, so no further call is made here.
    with tracing.step("signup.store"):
        status = await store(request, form, index, client_ip)
    if status == "confirmed" and s.reveal_existing:
        raise Problem(409, "This address is already subscribed.", slug="already-subscribed")
    return "accepted"


async def rate_limit(request: Request, ip: str, index: bytes, once) -> None:
    try:
        verdict = await request.app.state.limiter.check(ip, index, once)
    except (redis.RedisError, OSError) as e:
        # Fail open: the address's resend window in PostgreSQL still caps mail to a victim.
        metrics.LIMITER_ERRORS.inc()
        log.warning(
            "rate limiter unavailable; signup let through", extra={"error": type(e).__name__}
        )
        return
    if verdict.reused:
        metrics.BLOCKED.labels("captcha").inc()
        raise Problem(403, "This anti-robot check was already used.", slug="captcha-failed")
    if not verdict.allowed:
        raise Problem(
            429,
            "Too many signups; please wait and try again.",
            slug="rate-limited",
            retry_after=verdict.retry_after,
        )


async def store(
    request: Request,
    form: SignupForm,
    index: bytes,
    client_ip: str,
    source: tuple[str, str | None] | None = None,
) -> str:
    """Upsert the subscription and queue its mail when one is due; returns the status.
    `source` is the consent source and origin when the request's Origin does not say it."""
    state = request.app.state
    settings = state.settings
    keys = settings.seal_keys
    keys_in_use = index_keys(settings)
    ip_hash, ip_key = consent.hash_ip(settings, client_ip)
    source, origin = source or consent.source_of(header(request, "origin"), settings)
    row = SignupRow(
        list_name=form.list_name,
        email_index=index,
        # Its suppression may be filed under any key this process knows.
        held_index=index if keys_in_use.suppression is None else keys_in_use.held(form.email),
        previous_index=keys_in_use.previous_index(form.email),
        email_sealed=keys.seal(form.email, sealing.EMAIL),
        name_sealed=keys.seal(form.name, sealing.NAME),
        locale=form.locale,
        ip_hash=ip_hash,
        ip_key=ip_key,
        consent_source=source,
        consent_origin=origin,
        wording_hash=consent.wording_hash(form.locale, settings.templates_dir),
        traceparent=tracing.traceparent(),
    )
    try:
        if keys_in_use.previous is None:
            return await state.signups(row)  # shares its round trip with concurrent signups
        # During a blind-index rotation the address's rows may still be under the old key:
        # refiled and written in one transaction, alone.
        async with state.pool.acquire() as conn, rotating(conn, keys_in_use):
            await refile(conn, keys_in_use, form.email)
            [record] = await upsert(conn, state.signup_fixed, [row])
            return record["status"]
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on signup", extra={"error": type(e).__name__})
        raise unavailable("The database") from None
    except StaleIndexKey:
        raise await stale_key(state.pool, keys_in_use) from None
    except SCHEMA_BEHIND as e:
        log.error(MIGRATE_HINT, extra={"error": type(e).__name__})
        raise unavailable("The database") from None
