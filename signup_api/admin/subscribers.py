"""The admin API's per-person and bulk calls: look one person up (the address in the body,
never in a URL), unsuppress by address, and import a list from a streamed body. Each calls
the same signup_core operation as signupctl."""

from __future__ import annotations

import tempfile
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from signup_api.admin.routes import _body, _indexes, needs
from signup_api.admin.tokens import Principal
from signup_api.problems import Problem
from signup_core import importing, operations
from signup_core.addresses import InvalidAddress, normalise
from signup_core.import_rows import PRESETS, ImportFormatError

# An import body is spooled to a temporary file as it arrives, never held in memory.
MAX_IMPORT_BYTES = 2 * 1024**3
_MEDIA = {
    "text/csv": "csv",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/jsonlines": "jsonl",
}


@needs("signup:export")
async def lookup(request: Request, who: Principal) -> Response:
    """Everything held on one address (the data-subject access export), audited by index."""
    address = (await _body(request)).get("address")
    if not isinstance(address, str):
        raise Problem(400, 'Give "address": a string.', slug="invalid-field")
    try:
        address = normalise(address)
    except InvalidAddress:
        # Not echoed: it may be someone's address with a typo.
        raise Problem(400, "That is not a valid address.", slug="invalid-field") from None
    state = request.app.state
    found = await operations.lookup(state.pool, state.settings, who.subject, address, "api")
    return JSONResponse(found, headers={"cache-control": "no-store"})


@needs("signup:admin")
async def unsuppress_by_address(request: Request, who: Principal) -> Response:
    """Lift the suppression of the address (or addresses) in the body."""
    indexes = await _indexes(request, await _body(request))
    counts = await operations.unsuppress(request.app.state.pool, who.subject, indexes)
    if not counts["suppressions"]:
        raise Problem(404, "That address is not suppressed.", slug="not-found")
    return JSONResponse(counts)


def _options(request: Request) -> importing.Options:
    q = request.query_params
    mode = q.get("mode")
    if mode not in ("confirmed", "confirm-by-mail"):
        raise Problem(400, "mode must be confirmed or confirm-by-mail.", slug="invalid-field")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = q.get("format") or _MEDIA.get(media)
    if fmt not in ("csv", "jsonl"):
        raise Problem(415, "Send text/csv or application/jsonl.", slug="unsupported-media-type")
    columns = q.get("columns", "signet")
    if columns not in PRESETS:
        raise Problem(400, f"columns must be one of {', '.join(PRESETS)}.", slug="invalid-field")
    rate = q.get("rate", "60")
    if not rate.isdigit() or not 1 <= int(rate) <= 100_000:
        raise Problem(400, "rate must be a number from 1 to 100000.", slug="invalid-field")
    return importing.Options(
        confirmed=mode == "confirmed",
        fmt=fmt,
        columns=columns,
        list_name=q.get("list"),
        source=q.get("source"),
        rate=int(rate),
        skip_invalid=q.get("skip_invalid") == "true",
        dry_run=q.get("dry_run") == "true",
    )


@needs("signup:admin")
async def import_subscribers(request: Request, who: Principal) -> Response:
    """Import a CSV or JSON Lines body, as `signupctl import` does a file."""
    options = _options(request)
    state = request.app.state
    with tempfile.TemporaryFile() as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_IMPORT_BYTES:
                raise Problem(413, "The import is too large.", slug="too-large")
            spool.write(chunk)
        spool.seek(0)
        try:
            report = await importing.run(
                state.pool, state.settings, spool, options, who.subject, state.clock.now()
            )
        except ImportFormatError as e:
            raise Problem(400, f"The body cannot be read: {e}.", slug="invalid-import") from None
        except importing.ImportRefused as e:
            raise Problem(409, str(e), slug="import-refused") from None
    if report.refused:
        raise Problem(
            422,
            f"{report.invalid} invalid row(s): nothing imported (fix them, or skip_invalid=true).",
            slug="invalid-rows",
            errors=report.problems,
        )
    return JSONResponse(_answer(report))


def _answer(report: importing.Report) -> dict[str, Any]:
    return {**report.counts(), "invalid_rows": report.problems}
