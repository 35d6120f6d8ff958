"""A request's headers by name, from a dict made once per request.

Starlette's `request.headers.get(name)` scans the raw header list, decoding as it goes, on
every call; a signup asked six times (its content type twice, its length, its origin twice,
its languages), ~2 µs each. Same answers: names are matched lower-case (ASGI servers give them
so), values decoded as latin-1, and the first of a repeated header wins."""

from __future__ import annotations

from starlette.requests import HTTPConnection

_KEY = "signup.headers"


def header(request: HTTPConnection, name: str) -> str | None:
    """The first value of the header `name` (lower-case), or None."""
    scope = request.scope
    found = scope.get(_KEY)
    if found is None:
        found = {}
        for key, value in scope["headers"]:
            found.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        scope[_KEY] = found
    return found.get(name)
