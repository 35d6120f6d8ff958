"""The few files pages load from us: the style sheet (in the site's accent colour), the kit's
script, an icon, and the kit's form rendered for a static site to copy."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from signup_api import pages
from signup_core import i18n
from signup_core.settings import Settings

# Short: a changed accent colour or template shows within minutes, without cache busting.
CACHED = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="{accent}"/>'
    '<path d="M3 5l5 4 5-4" stroke="#fff" stroke-width="1.6" fill="none"/></svg>'
)


@functools.cache
def _style(settings: Settings) -> str:
    template = pages.templates(settings.templates_dir).get_template("site.css")
    return template.render(accent=settings.accent_colour)


@functools.cache
def _script() -> bytes:
    return (pages.KIT / "signup.js").read_bytes()


async def style(request: Request) -> Response:
    return Response(_style(request.app.state.settings), media_type="text/css", headers=CACHED)


async def script(request: Request) -> Response:
    return Response(_script(), media_type="text/javascript", headers=CACHED)


async def icon(request: Request) -> Response:
    svg = ICON.format(accent=request.app.state.settings.accent_colour)
    return Response(svg, media_type="image/svg+xml", headers=CACHED)


async def kit_form(request: Request) -> Response:
    """GET /kit/form.html: the landing page's own form with absolute addresses, for a static
    site to paste in. Without ?lang it serves every language: the texts of each locale ride
    along for the script to pick the visitor's, and a post without the script is answered in
    the browser's language. ?lang=page does the same from the host page's <html lang>;
    ?lang=de pins one language."""
    s: Settings = request.app.state.settings
    asked = request.query_params.get("lang") or ""
    pinned = asked not in ("", "page")
    lang = pages.locale_of(request, asked) if pinned else s.default_locale
    ctx = {**pages.base_context(s, lang), "base": s.public_base_url}
    if not pinned:
        ctx["i18n"] = _texts(s)
        ctx["locale_from"] = "page" if asked == "page" else "browser"
    html = pages.templates(s.templates_dir).get_template("form.html").render(ctx)
    return Response(html, media_type="text/html", headers=CACHED)


# What the kit's form shows or says, in each locale, for the script to swap in.
KIT_TEXTS = (
    "form.email", "form.name", "form.optional", "form.list", "form.submit", "form.sending",
    "form.robot", "form.done", "form.network", "form.consent", "github.or", "github.button",
)  # fmt: skip


@functools.cache
def _texts(settings: Settings) -> dict[str, dict[str, str]]:
    return {
        locale: {
            key: i18n.catalogue(locale, settings.templates_dir).get(key, key) for key in KIT_TEXTS
        }
        for locale in settings.locales
    }
