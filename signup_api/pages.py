"""HTML pages: the landing form, thank-you and error pages, confirmation pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

# Pages load nothing from elsewhere, but for a third-party captcha when one is switched on;
# the landing page's small inline script needs 'unsafe-inline'.
CAPTCHA_SOURCES = {
    "turnstile": "https://challenges.cloudflare.com",
    "hcaptcha": "https://hcaptcha.com https://*.hcaptcha.com",
}
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _csp(captcha: str) -> str:
    extra = CAPTCHA_SOURCES.get(captcha, "")
    frames = extra or "'none'"
    return (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {extra}; "
        f"frame-src {frames}; connect-src 'self' {extra}; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
    )


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    settings = request.app.state.settings
    ctx = {
        "lists": settings.lists,
        "honeypot": settings.honeypot_field,
        "captcha": settings.captcha,
        "site_key": settings.captcha_site_key,
        **(context or {}),
    }
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": _csp(settings.captcha),
        **(headers or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status, headers=headers)


async def landing(request: Request) -> Response:
    if not request.app.state.settings.signup_enabled:
        return page(request, "closed.html", status=404)
    return page(request, "landing.html")


async def thanks(request: Request) -> Response:
    return page(request, "thanks.html")


async def oops(request: Request) -> Response:
    return page(request, "oops.html", {"reason": request.query_params.get("reason", "")})
