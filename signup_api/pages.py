"""HTML pages: one place that renders them in the visitor's language, with the site's
branding and the headers every page carries (a strict CSP, no sniffing, no framing)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from signup_api.request_headers import header
from signup_core import i18n
from signup_core.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
KIT = Path(str(resources.files("signup_api.kit")))

# Pages load nothing from elsewhere, but for a third-party captcha when one is switched on.
CAPTCHA_SOURCES = {
    "turnstile": "https://challenges.cloudflare.com",
    "hcaptcha": "https://hcaptcha.com https://*.hcaptcha.com",
}
# same-origin, not no-referrer: with no-referrer a browser posts our own form with
# "Origin: null", which the origin check cannot tell from a sandboxed attacker. Other sites
# (links out) get no referrer at all, so a token in our URL never leaves.
SECURITY_HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@functools.cache
def templates(override: str | None) -> Jinja2Templates:
    """Pages from SIGNUP_TEMPLATES_DIR/pages first, then ours; the form is the kit's file."""
    folders = [*([Path(override) / "pages"] if override else []), TEMPLATES, KIT]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), autoescape=True)
    return Jinja2Templates(env=env)


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


@functools.cache
def csp(settings: Settings) -> str:
    extra = CAPTCHA_SOURCES.get(settings.captcha, "")
    # A form may be sent on to the configured thanks / error pages, which may live elsewhere.
    targets = {_origin(settings.thanks_url), _origin(settings.error_url)} - {None}
    if settings.github_join:
        # The form's GitHub button posts to us and is sent on to GitHub's sign-in page.
        targets.add("https://github.com")
    ancestors = " ".join(settings.frame_ancestors) or "'none'"
    return " ".join(
        [
            "default-src 'none';",
            f"script-src 'self' {extra};".replace(" ;", ";"),
            f"style-src 'self' {extra};".replace(" ;", ";"),
            "img-src 'self';",
            f"connect-src 'self' {extra};".replace(" ;", ";"),
            f"frame-src {extra or chr(39) + 'none' + chr(39)};",
            f"form-action 'self' {' '.join(sorted(targets))};".replace(" ;", ";"),
            f"frame-ancestors {ancestors};",
            "base-uri 'none'",
        ]
    )


def locale_of(request: Request, asked: str | None = None) -> str:
    """The form's own locale when it names a supported one, else the browser's languages."""
    s: Settings = request.app.state.settings
    chosen = i18n.match(asked, s.locales) if asked else None
    return chosen or i18n.negotiate(header(request, "accept-language"), s.locales, s.default_locale)


def base_context(settings: Settings, lang: str) -> dict[str, Any]:
    return {
        "lang": lang,
        "_": i18n.translator(lang, settings.templates_dir),
        "site_name": settings.site_name,
        "site_url": settings.site_url,
        "privacy_url": settings.privacy_url,
        "lists": [(name, settings.list_title(name)) for name in settings.lists],
        "honeypot": settings.honeypot_field,
        "captcha": settings.captcha,
        "site_key": settings.captcha_site_key,
        "github": settings.github_join,
        "i18n": None,
        "base": "",
        "values": {},
        "errors": {},
    }


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    locale: str | None = None,
) -> Response:
    settings: Settings = request.app.state.settings
    ctx = {**base_context(settings, locale or locale_of(request)), **(context or {})}
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp(settings), **(headers or {})}
    return templates(settings.templates_dir).TemplateResponse(
        request, name, ctx, status_code=status, headers=headers
    )


def wants_html(request: Request) -> bool:
    """A browser navigating asks for text/html; fetch() and API clients do not."""
    return "text/html" in (header(request, "accept") or "")


async def landing(request: Request) -> Response:
    if not request.app.state.settings.signup_enabled:
        return page(request, "closed.html", status=404)
    return page(request, "landing.html")


async def thanks(request: Request) -> Response:
    return page(request, "thanks.html")


async def oops(request: Request) -> Response:
    reason = request.query_params.get("reason", "")
    return page(request, "oops.html", {"message_key": f"error.{reason}"})


def error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    """404, 405 and 500 for a browser; every other status reads as our fault (500)."""
    shown = status if status in (404, 405) else 500
    return page(request, "http_error.html", {"code": shown}, status=status, headers=headers)
