"""Refuses cross-site posts: the Origin (or Referer) must be our own site or an allowed one."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from signup_api.problems import Problem
from signup_api.request_headers import header
from signup_core.settings import Settings


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(settings: Settings) -> frozenset[str]:
    own = _origin_of(settings.public_base_url)
    return frozenset({*(o.lower() for o in settings.cors_origins), *([own] if own else [])})


def check(request: Request, allowed: frozenset[str]) -> None:
    """Browsers always send Origin on a cross-site POST; a request with neither header is not
    from a browser page, so there is no one to protect and it passes.

    A browser sends "Origin: null" when the page's referrer policy is privacy-sensitive
    (no-referrer) or the form sits in a sandboxed frame. Then Sec-Fetch-Site, which every
    current browser sends and no page can set, says whether the post came from our own
    origin; failing that, a Referer names the page. A null origin with neither stays
    refused: a sandboxed frame on any site looks exactly like that."""
    origin = header(request, "origin")
    if origin is None or origin == "null":
        if origin == "null" and header(request, "sec-fetch-site") == "same-origin":
            return
        referer = header(request, "referer")
        if referer:
            origin = _origin_of(referer) or "null"
    if origin is not None and origin.lower() not in allowed:
        raise Problem(
            403,
            "Signups from this site are not accepted.",
            slug="origin-not-allowed",
            code="error.origin-not-allowed",
        )
