"""HTML pages: the landing form, thank-you and error pages, confirmation pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

# Pages load nothing from elsewhere; the landing page's small inline script needs 'unsafe-inline'.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    settings = request.app.state.settings
    ctx = {"lists": settings.lists, **(context or {})}
    return templates.TemplateResponse(
        request, name, ctx, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
    )


async def landing(request: Request) -> Response:
    return page(request, "landing.html")


async def thanks(request: Request) -> Response:
    return page(request, "thanks.html")


async def oops(request: Request) -> Response:
    return page(request, "oops.html", {"reason": request.query_params.get("reason", "")})
