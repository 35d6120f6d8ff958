"""Join with GitHub: POST /github/start (the form's second button) sends the visitor to
GitHub with PKCE and a `state` bound to this browser by a signed, short-lived SameSite=Lax
cookie; GET /github/callback checks both, trades the code once for the primary address, and
joins a verified one at once (consent source "github", confirmed by the provider). An
unverified address gets the normal confirmation mail; no address, a refusal, a cancel or an
outage each get a page that says so. Off (404) unless the OAuth app is configured."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import redis.asyncio as redis
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signup_api import origins, pages, signup
from signup_api.bodies import parse_fields
from signup_api.forms import SignupForm
from signup_api.problems import Problem, unavailable
from signup_api.ratelimit import REDIS_TIMEOUT
from signup_core import consent, db, domains, github_oauth, sealing
from signup_core.addresses import InvalidAddress, normalise
from signup_core.index_keys import index_keys, refile, rotating
from signup_core.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "signup_github"
COOKIE_PATH = "/github"
STATUS = {"cancelled": 200, "invalid": 400, "down": 503, "no-address": 200, "refused": 403}


def _page(
    request: Request,
    outcome: str,
    locale: str | None,
    list_name: str | None = None,
    status: int | None = None,
) -> Response:
    """The page for every way a sign-in can end but success; it offers the address form."""
    context = {"outcome": outcome, "values": {"list": list_name} if list_name else {}}
    status = status or STATUS[outcome]
    response = pages.page(request, "github_result.html", context, status=status, locale=locale)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    if status in (429, 503):
        response.headers["Retry-After"] = "30"
    return response


async def start(request: Request) -> Response:
    s = request.app.state.settings
    if not (s.github_join and s.signup_enabled):
        return pages.error_page(request, 404)
    try:
        origins.check(request, request.app.state.allowed_origins)
        fields = await parse_fields(request, s.max_body_bytes)
    except Problem as p:
        return (
            _page(request, "refused", None) if p.status == 403 else pages.error_page(request, 400)
        )
    if fields.get(s.honeypot_field):
        return RedirectResponse(s.thanks_url, status_code=303)  # as a signup would: learn nothing
    list_name = fields.get("list") or s.default_list
    if list_name not in s.lists:
        list_name = s.default_list
    locale = pages.locale_of(request, fields.get("locale") or None)
    flow = github_oauth.begin(list_name, locale)
    response = RedirectResponse(github_oauth.authorize_url(s, flow), status_code=303)
    response.set_cookie(
        COOKIE,
        github_oauth.seal(s, flow, request.app.state.clock),
        max_age=github_oauth.STATE_TTL,
        path=COOKIE_PATH,
        secure=s.public_base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


async def callback(request: Request) -> Response:
    state = request.app.state
    s = state.settings
    if not (s.github_join and s.signup_enabled):
        return pages.error_page(request, 404)
    flow = await _flow(request)
    if isinstance(flow, Response):
        return flow
    if request.query_params.get("error"):
        # access_denied: the visitor pressed Cancel on GitHub's page.
        cancelled = request.query_params["error"] == "access_denied"
        return _page(request, "cancelled" if cancelled else "invalid", flow.locale, flow.list_name)
    code = request.query_params.get("code", "")
    try:
        found = await github_oauth.address(state.http, s, code, flow.verifier)
    except github_oauth.Refused as e:
        log.info("github sign-in refused", extra={"reason": str(e)})
        return _page(request, "invalid", flow.locale)
    except github_oauth.Unavailable as e:
        log.warning("github unavailable", extra={"error": str(e)})
        return _page(request, "down", flow.locale, flow.list_name)
    return await _join(request, flow, found)


async def _flow(request: Request) -> github_oauth.Flow | Response:
    """The sign-in this browser started, if the callback's state is its state, seen once."""
    s = request.app.state.settings
    flow = github_oauth.unseal(s, request.cookies.get(COOKIE), request.app.state.clock)
    given = request.query_params.get("state", "")
    if flow is None or not hmac.compare_digest(flow.state.encode(), given.encode()):
        log.info("github sign-in refused", extra={"reason": "state"})
        return _page(request, "invalid", flow.locale if flow else None)
    if not await _first_use(request, flow.state):
        log.info("github sign-in refused", extra={"reason": "replayed"})
        return _page(request, "invalid", flow.locale)
    return flow


async def _first_use(request: Request, flow_state: str) -> bool:
    """A callback is taken once: a replay of the same request (cookie and all) is refused
    here, before GitHub is asked about its code again. Redis down: GitHub's own rule that a
    code works once still holds."""
    key = "github-state:" + hashlib.sha256(flow_state.encode()).hexdigest()
    try:
        async with asyncio.timeout(REDIS_TIMEOUT):
            fresh = await request.app.state.redis.set(key, b"1", nx=True, ex=github_oauth.STATE_TTL)
    except (redis.RedisError, OSError, TimeoutError) as e:
        log.warning("github state check skipped", extra={"error": type(e).__name__})
        return True
    return bool(fresh)


def _usable(s: Settings, found: github_oauth.Address | None) -> str | None:
    """The address normalised, if it is one the form would take."""
    try:
        email = normalise(found.email, smtputf8=s.smtputf8) if found else None
    except InvalidAddress:
        return None
    return None if email is None or domains.is_refused(email.rsplit("@", 1)[1], s) else email


async def _join(
    request: Request, flow: github_oauth.Flow, found: github_oauth.Address | None
) -> Response:
    s = request.app.state.settings
    email = _usable(s, found)
    if found is None or email is None:
        return _page(request, "no-address", flow.locale, flow.list_name)
    form = SignupForm(email=email, name=None, list_name=flow.list_name, locale=flow.locale)
    client_ip = request.client.host if request.client else "unknown"
    index = index_keys(s).index(email)
    try:
        # The signup limits hold here too: an unverified address gets a mail.
        await signup.rate_limit(request, client_ip, index, None)
        if not found.verified:
            # GitHub has not checked the address: the normal confirmation mail does.
            await signup.store(request, form, index, client_ip, source=("github", None))
            log.info("github sign-in", extra={"verified": False})
            return RedirectResponse(s.thanks_url, status_code=303)
        status = await _store_verified(request, form, index, client_ip)
    except Problem as p:
        return _page(request, "retry", flow.locale, flow.list_name, status=p.status)
    log.info("github sign-in", extra={"verified": True, "joined": status is not None})
    outcome = "confirmed" if status == "confirmed" else "already"
    context = {"outcome": outcome, "list_title": s.list_title(form.list_name)}
    return pages.page(request, "confirm_result.html", context, locale=flow.locale)


async def _store_verified(
    request: Request, form: SignupForm, index: bytes, client_ip: str
) -> str | None:
    state = request.app.state
    s = state.settings
    keys_in_use = index_keys(s)
    ip_hash, ip_key = consent.hash_ip(s, client_ip)
    try:
        async with state.pool.acquire() as conn, rotating(conn, keys_in_use):
            await refile(conn, keys_in_use, form.email)
            row = await db.queries().join_verified(
                conn,
                list_name=form.list_name,
                email_index=index,
                index_key=keys_in_use.current_id,
                email_sealed=s.seal_keys.seal(form.email, sealing.EMAIL),
                seal_key_id=s.seal_keys.current_id,
                locale=form.locale,
                form_version=s.form_version,
                ip_hash=ip_hash,
                ip_key=ip_key,
                wording_hash=consent.wording_hash(form.locale, s.templates_dir),
                user_agent=consent.browser_family(request.headers.get("user-agent")),
            )
    except db.UNAVAILABLE as e:
        log.warning("database unavailable on github join", extra={"error": type(e).__name__})
        raise unavailable("The database") from None
    return row["status"]
