"""The admin API's OpenAPI 3.1 document, served at /admin/v1/openapi.json; a test checks it
against the routes (paths, methods, scopes) so it stays true."""

from __future__ import annotations

from typing import Any

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {
    "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM,
    "429": _PROBLEM,
}  # fmt: skip
_ADDRESSES = {
    "type": "object",
    "properties": {
        "addresses": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 10000,
        },
        "address": {"type": "string"},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, scope: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"bearer": [scope]}],
        "responses": {"200": {"description": "Done", **ok}, **_ERRORS},
        **extra,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_OBJECT = _json({"type": "object"})

PATHS: dict[str, dict[str, Any]] = {
    "/admin/v1/stats": {
        "get": _op(
            "Per-list counts and 30-day rates (as signupctl stats --json)", "signup:read", _OBJECT
        )
    },
    "/admin/v1/subscribers/export": {
        "get": _op(
            "Confirmed subscribers, streamed (the columns of signupctl export)",
            "signup:export",
            {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/jsonl": {"schema": {"type": "string"}},
                }
            },
            parameters=[
                _query("format", {"enum": ["csv", "jsonl"], "default": "csv"}, "Output format"),
                _query("list", {"type": "string"}, "Only this list"),
                _query("since", {"type": "string", "format": "date-time"}, "Confirmed at or after"),
                _query("until", {"type": "string", "format": "date-time"}, "Confirmed before"),
            ],
        )
    },
    "/admin/v1/subscribers/lookup": {
        "post": _op(
            "Everything held on one address, decrypted: the data-subject access export "
            "(as signupctl show --json); audited by blind index",
            "signup:export",
            _OBJECT,
            requestBody={
                "required": True,
                **_json(
                    {
                        "type": "object",
                        "required": ["address"],
                        "properties": {"address": {"type": "string"}},
                    }
                ),
            },
        )
    },
    "/admin/v1/subscribers/import": {
        "post": _op(
            "Import a list from a streamed CSV or JSON Lines body (as signupctl import); "
            "422 with the invalid lines imports nothing",
            "signup:admin",
            _OBJECT,
            parameters=[
                {
                    **_query("mode", {"enum": ["confirmed", "confirm-by-mail"]}, "Required"),
                    "required": True,
                },
                _query("format", {"enum": ["csv", "jsonl"]}, "Default: from the content type"),
                _query("columns", {"enum": ["signet", "listmonk", "mailchimp"]}, "Header names"),
                _query("list", {"type": "string"}, "List for rows without one"),
                _query("source", {"type": "string"}, "Consent source for rows without one"),
                _query("rate", {"type": "integer", "minimum": 1}, "Confirmations per minute"),
                _query("skip_invalid", {"type": "boolean"}, "Import the valid rows anyway"),
                _query("dry_run", {"type": "boolean"}, "Count only"),
            ],
            requestBody={
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/jsonl": {"schema": {"type": "string"}},
                },
            },
        )
    },
    "/admin/v1/suppressions/lift": {
        "post": _op(
            "Lift the suppression of the addresses in the body",
            "signup:admin",
            _OBJECT,
            requestBody={"required": True, **_json(_ADDRESSES)},
        )
    },
    "/admin/v1/erasures": {
        "post": _op(
            "Erase everything held about each address (counts per kind)",
            "signup:erase",
            _OBJECT,
            requestBody={"required": True, **_json(_ADDRESSES)},
        )
    },
    "/admin/v1/suppressions": {
        "post": _op(
            "Never mail these addresses again",
            "signup:admin",
            _OBJECT,
            requestBody={
                "required": True,
                **_json(
                    {
                        **_ADDRESSES,
                        "properties": {**_ADDRESSES["properties"], "reason": {"type": "string"}},
                    }
                ),
            },
        )
    },
    "/admin/v1/suppressions/{index}": {
        "delete": _op(
            "Lift the suppression of the address with this blind index (hex)",
            "signup:admin",
            _OBJECT,
            parameters=[
                {
                    "name": "index",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                }
            ],
        )
    },
    "/admin/v1/dead-letters": {
        "get": _op(
            "Mails the worker gave up on, newest first",
            "signup:read",
            _OBJECT,
            parameters=[
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "At most")
            ],
        )
    },
    "/admin/v1/dead-letters/replay": {
        "post": _op(
            "Put one (id) or every (all) dead-lettered mail back on the queue",
            "signup:admin",
            _OBJECT,
            requestBody={
                "required": True,
                **_json(
                    {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "all": {"type": "boolean"}},
                    }
                ),
            },
        )
    },
    "/admin/v1/audit": {
        "get": _op(
            "Operator actions, newest first",
            "signup:read",
            _OBJECT,
            parameters=[
                _query("since", {"type": "string", "format": "date-time"}, "At or after"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "At most"),
            ],
        )
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "signet-signup admin API", "version": "1"},
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT (ES256 or RS256 with kid; HS256 during its grace period)",
            }
        },
        "responses": {
            "Problem": {
                "description": "RFC 9457 problem details",
                "content": {"application/problem+json": {"schema": {"type": "object"}}},
            }
        },
    },
}
