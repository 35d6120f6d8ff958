"""RFC 9457 problem details: the one shape every error answer takes."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

TITLES = {
    400: "Invalid input",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    413: "Request body too large",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Unprocessable content",
    431: "Request header fields too large",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raised anywhere in a handler; rendered by the app's exception handler."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str = "invalid",
        errors: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.errors = errors
        self.retry_after = retry_after
        # The message catalogue's key for this problem, for pages and localised answers.
        self.code = code


def problem_response(p: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:signet-signup:problem:{p.slug}",
        "title": TITLES.get(p.status, "Error"),
        "status": p.status,
        "detail": p.detail,
    }
    if p.errors:
        body["errors"] = p.errors
    headers = {"Retry-After": str(p.retry_after)} if p.retry_after else None
    return JSONResponse(
        body, status_code=p.status, headers=headers, media_type="application/problem+json"
    )


def field_error(field: str, detail: str, code: str | None = None) -> Problem:
    return Problem(
        400, detail, slug="invalid-field", errors=[{"field": field, "detail": detail}], code=code
    )


def unavailable(dependency: str) -> Problem:
    return Problem(
        503, f"{dependency} is unavailable; try again shortly.", slug="unavailable", retry_after=5
    )
