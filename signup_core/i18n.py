"""One message catalogue for pages and mails, and the choice of a locale for a visitor.

Catalogues are flat JSON files, messages/<locale>.json, with str.format placeholders. A
site may add or reword messages in SIGNUP_TEMPLATES_DIR/messages/<locale>.json; whatever a
locale lacks is taken from English, so a missing translation shows English, never a key.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

MESSAGES = Path(__file__).resolve().parent / "messages"
FALLBACK = "en"
_QUALITY = re.compile(r"^\s*q\s*=\s*([0-9.]+)\s*$")

Translate = Callable[..., str]


def _load(folder: Path, locale: str) -> dict[str, str]:
    path = folder / f"{locale}.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def catalogue(locale: str, override: str | None = None) -> dict[str, str]:
    merged = _load(MESSAGES, FALLBACK)
    if override:
        merged.update(_load(Path(override) / "messages", FALLBACK))
    if locale != FALLBACK:
        merged.update(_load(MESSAGES, locale))
        if override:
            merged.update(_load(Path(override) / "messages", locale))
    return merged


def translator(locale: str, override: str | None = None) -> Translate:
    messages = catalogue(locale, override)

    def translate(key: str, **params: object) -> str:
        text = messages.get(key, key)
        return text.format(**params) if params else text

    return translate


def match(tag: str, supported: tuple[str, ...]) -> str | None:
    """The supported locale a language tag asks for: 'de-AT' finds 'de'."""
    tag = tag.strip().replace("_", "-").lower()
    for candidate in (tag, tag.split("-", 1)[0]):
        if candidate in supported:
            return candidate
    return None


@functools.lru_cache(maxsize=1024)
def negotiate(accept_language: str | None, supported: tuple[str, ...], default: str) -> str:
    """The best supported locale for an Accept-Language header (RFC 9110 weights). Cached:
    every signup without a locale field asks, with one of a few headers; bounded, as a header
    is the client's to make up."""
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        quality = 1.0
        if params.strip():
            found = _QUALITY.match(params)
            try:
                quality = float(found.group(1)) if found else -1.0
            except ValueError:
                continue
        if tag.strip() and tag.strip() != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        chosen = match(tag, supported)
        if chosen:
            return chosen
    return default
