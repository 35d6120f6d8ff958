"""The one JSON loader for bodies from outside: strict UTF-8, bounded nesting, no lone
surrogates, no NaN or Infinity; anything else is MalformedJSON, never a crash further on."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

# Deeper than any body a form or a provider sends; deep structures crash whatever walks them
# recursively later (repr, json.dumps, the C scanner itself raises RecursionError near 1,000).
MAX_DEPTH = 32

_SURROGATE = re.compile("[\ud800-\udfff]")
# A \uD800-\uDFFF escape in the text: only then can a parsed string hold a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class MalformedJSON(ValueError):
    """Not JSON this service accepts. The message names the rule, never the input."""


def _no_constants(name: str) -> NoReturn:
    raise MalformedJSON("NaN and Infinity are not JSON")


# Made once: json.loads(text, parse_constant=...) builds a decoder and its scanner per call,
# ~8 of its ~9.5 µs for a signup's body.
_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def loads(raw: bytes | str) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise MalformedJSON("not UTF-8") from None
    if not isinstance(raw, bytes) and _SURROGATE.search(text):
        raise MalformedJSON("lone surrogate")
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise MalformedJSON("nested too deeply") from None
    except ValueError as e:
        if isinstance(e, MalformedJSON):
            raise
        raise MalformedJSON("not JSON") from None
    if text.count("[") + text.count("{") > MAX_DEPTH or _SURROGATE_ESCAPE.search(text):
        _check(value)
    return value


def _check(value: Any) -> None:
    """Walks without recursion: depth and surrogates, in keys and values."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedJSON("nested too deeply")
            if isinstance(item, dict):
                for key, child in item.items():
                    if _SURROGATE.search(key):
                        raise MalformedJSON("lone surrogate")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            raise MalformedJSON("lone surrogate")
