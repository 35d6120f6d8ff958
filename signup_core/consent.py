"""The consent record: the keyed IP hash (with the id of its key), the hash of the wording a
visitor was shown, where consent came from, the confirming click's browser family, and the
record as the exports and the per-person export carry it.

The IP hash key: SIGNUP_CONSENT_KEY when set (a long-lived key that never needs to rotate: it
guards only a hash of an IP). Otherwise a key derived from SIGNUP_BLIND_INDEX_KEY under its own
purpose ("consent-ip-key"), so a consent hash never equals any blind index. Each row records
the key's fingerprint, so a hash can be checked later with the key it was made with, also
after a blind-index rotation (keep the old blind-index key, or set SIGNUP_CONSENT_KEY once).
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from signup_core import i18n
from signup_core.addresses import keyed_hash
from signup_core.index_keys import fingerprint
from signup_core.settings import Settings

# The catalogue message that is the consent wording of the form (landing page and kit alike).
WORDING_KEY = "form.consent"

# Checked in order: Edge and Opera say "Chrome" too, Chrome says "Safari" too.
_FAMILIES = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/|\bOpera\b")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|Chromium|CriOS)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
    ("bot", re.compile(r"bot\b|crawler|spider|preview|curl/|wget/|python-|httpx", re.I)),
)


def ip_key(settings: Settings) -> tuple[bytes, str]:
    """The key consent IP hashes are made with, and its fingerprint (recorded per row)."""
    if settings.consent_key is not None:
        key = settings.consent_key.bytes()
    else:
        key = _derived(settings.blind_index_key.bytes())
    return key, fingerprint(key)


@functools.lru_cache(maxsize=4)
def _derived(blind_index_key: bytes) -> bytes:
    return keyed_hash(blind_index_key, "consent-ip-key", b"")


def hash_ip(settings: Settings, ip: str | None) -> tuple[bytes | None, str | None]:
    """The consent IP hash and its key id; (None, None) when there is no IP."""
    if not ip:
        return None, None
    key, key_id = ip_key(settings)
    return keyed_hash(key, "consent-ip", ip.encode()), key_id


def ip_matches(key: bytes, ip: str, stored: bytes) -> bool:
    """Whether `stored` is the hash of `ip` under `key` (to answer "was it this IP?")."""
    return keyed_hash(key, "consent-ip", ip.encode()) == stored


@functools.lru_cache(maxsize=64)
def wording_hash(locale: str, templates_dir: str | None) -> bytes:
    """SHA-256 of the consent wording a visitor in `locale` was shown (site rewording included)."""
    text = i18n.catalogue(locale, templates_dir).get(WORDING_KEY, "")
    return hashlib.sha256(text.encode()).digest()


def stated_hash(source: str) -> bytes:
    """SHA-256 of the source an operator states for imported consent, as the wording's stand-in."""
    return hashlib.sha256(source.encode()).digest()


def source_of(origin: str | None, settings: Settings) -> tuple[str, str | None]:
    """("landing", None) for our own page (or no browser origin), ("kit", origin) for a page
    elsewhere that embeds the kit (the origin check has already allowed it)."""
    if not origin or origin == "null":
        return "landing", None
    own = urlsplit(settings.public_base_url)
    if origin.lower() == f"{own.scheme}://{own.netloc}".lower():
        return "landing", None
    return "kit", origin.lower()[:200]


def browser_family(user_agent: str | None) -> str | None:
    """The browser family of a User-Agent header, never the header itself (it fingerprints)."""
    if not user_agent:
        return None
    for family, pattern in _FAMILIES:
        if pattern.search(user_agent):
            return family
    return "other"


# The consent record's fields, in the order the list export appends them as columns.
FIELDS = (
    "consent_at",
    "consent_source",
    "consent_origin",
    "consent_wording_sha256",
    "consent_ip_hash",
    "consent_ip_key",
    "consent_actor",
    "confirmed_via",
    "confirmed_ip_hash",
    "confirmed_user_agent",
)


def record(row: Any) -> dict[str, Any]:
    """The consent record of a subscription row (timestamps ISO 8601, hashes hex)."""

    def iso(v: Any) -> str | None:
        return v.isoformat() if v is not None else None

    def hx(v: Any) -> str | None:
        return bytes(v).hex() if v is not None else None

    return {
        "consent_at": iso(row["consent_at"]),
        "consent_source": row["consent_source"],
        "consent_origin": row["consent_origin"],
        "consent_wording_sha256": hx(row["consent_wording_hash"]),
        "consent_ip_hash": hx(row["consent_ip_hash"]),
        "consent_ip_key": row["consent_ip_key"],
        "consent_actor": row["consent_actor"],
        "confirmed_via": row["confirmed_via"],
        "confirmed_ip_hash": hx(row["confirmed_ip_hash"]),
        "confirmed_user_agent": row["confirmed_user_agent"],
    }
