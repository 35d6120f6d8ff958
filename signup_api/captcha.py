"""Proof that a human (or at least some work) is behind a signup: ALTCHA-style proof-of-work
verified here, or Cloudflare Turnstile / hCaptcha verified by their siteverify APIs."""

from __future__ import annotations

import base64
import datetime
import json
import logging

import altcha
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signup_api import metrics
from signup_api.problems import Problem, unavailable
from signup_core.settings import Settings

log = logging.getLogger(__name__)

ALTCHA_FIELD = "altcha"
REMOTE = {
    "turnstile": (
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "cf-turnstile-response",
    ),
    "hcaptcha": ("https://api.hcaptcha.com/siteverify", "h-captcha-response"),
}


def _refused(reason: str) -> Problem:
    metrics.BLOCKED.labels("captcha").inc()
    log.info("captcha refused", extra={"reason": reason})
    return Problem(403, "The anti-robot check failed; please try again.", slug="captcha-failed")


async def challenge(request: Request) -> Response:
    """GET /altcha/challenge: a fresh signed puzzle for the landing page's solver."""
    s: Settings = request.app.state.settings
    if not s.signup_enabled:
        raise Problem(404, "Signup is closed.", slug="signup-closed")
    if s.captcha != "altcha" or s.altcha_hmac_key is None:
        raise Problem(404, "Proof-of-work is not enabled.", slug="not-found")
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=s.altcha_ttl)
    made = altcha.create_challenge_v1(
        hmac_key=s.altcha_hmac_key.value, max_number=s.altcha_max_number, expires=expires
    )
    return JSONResponse(made.to_dict(), headers={"Cache-Control": "no-store"})


def solved_altcha(fields: dict[str, str], settings: Settings) -> tuple[str, int] | None:
    """For altcha: check the solution and return (its single-use id, how long to remember it).
    The caller claims that id with the rate-limit check, so a replay is refused there."""
    if settings.captcha != "altcha" or settings.altcha_hmac_key is None:
        return None
    payload = fields.get(ALTCHA_FIELD, "")
    if not payload:
        raise _refused("missing")
    ok, _ = altcha.verify_solution_v1(payload, settings.altcha_hmac_key.value, check_expires=True)
    if not ok:
        raise _refused("invalid or expired")
    # A verified payload decodes; its challenge hash names this puzzle and no other.
    return json.loads(base64.b64decode(payload))["challenge"], settings.altcha_ttl


async def verify_remote(
    fields: dict[str, str], ip: str | None, settings: Settings, http: httpx.AsyncClient
) -> None:
    """For Turnstile and hCaptcha: ask the provider. Its outage is a 503, not a pass."""
    if settings.captcha not in REMOTE or settings.captcha_secret is None:
        return
    url, field = REMOTE[settings.captcha]
    response_token = fields.get(field, "")
    if not response_token:
        raise _refused("missing")
    form = {"secret": settings.captcha_secret.value, "response": response_token}
    if ip:
        form["remoteip"] = ip
    if settings.captcha == "hcaptcha" and settings.captcha_site_key:
        form["sitekey"] = settings.captcha_site_key
    try:
        answer = await http.post(url, data=form)
        answer.raise_for_status()
        success = answer.json().get("success") is True
    except (httpx.HTTPError, ValueError, AttributeError) as e:
        log.warning("captcha provider unavailable", extra={"error": type(e).__name__})
        raise unavailable("The anti-robot check") from None
    if not success:
        raise _refused("provider said no")
