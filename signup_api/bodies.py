"""Reads a request body within the size limit and parses JSON or an HTML form into a dict."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from signup_api.problems import Problem
from signup_api.request_headers import header
from signup_core import json_bodies

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def media_type(request: Request) -> str:
    return (header(request, "content-type") or "").split(";", 1)[0].strip().lower()


async def read_limited(request: Request, limit: int) -> bytes:
    declared = header(request, "content-length") or ""
    # ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
    if declared.isascii() and declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
        raise Problem(413, f"The body may be at most {limit} bytes.", slug="too-large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"The body may be at most {limit} bytes.", slug="too-large")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_fields(request: Request, limit: int) -> dict[str, str]:
    """The submitted fields as strings; only JSON objects and url-encoded forms are accepted."""
    kind = media_type(request)
    if kind not in (JSON, FORM):
        raise Problem(415, f"Send {JSON} or {FORM}.", slug="unsupported-media-type")
    raw = await read_limited(request, limit)
    if kind == FORM:
        try:
            # errors="strict": the default decodes bad %-escapes to U+FFFD, which was stored.
            text = raw.decode("utf-8")
            return dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            raise Problem(400, "The form is not valid UTF-8.", slug="malformed") from None
    try:
        data = json_bodies.loads(raw)
    except json_bodies.MalformedJSON:
        raise Problem(400, "The body is not valid JSON.", slug="malformed") from None
    if not isinstance(data, dict):
        raise Problem(400, "The body must be a JSON object.", slug="malformed")
    fields = {}
    for key, value in data.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise Problem(
                400,
                f"The field {key!r} must be a string.",
                slug="invalid-field",
                errors=[{"field": str(key), "detail": "must be a string"}],
            )
        fields[key] = value
    return fields
