"""Reading an import file: CSV with a header (columns by name, with presets for listmonk's and
Mailchimp's exports) or JSON Lines, one row at a time; each row checked and normalised, or
refused with its line number and a reason that never quotes the address."""

from __future__ import annotations

import csv
import datetime
import functools
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from signup_core.addresses import MAX_ADDRESS_LENGTH, InvalidAddress, normalise
from signup_core.settings import Settings

MAX_NAME_LENGTH = 100
MAX_SOURCE_LENGTH = 500

# Our field -> the column names that may carry it (first non-empty wins), matched without case.
# "name" lists columns joined with a space (Mailchimp's first and last name).
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "signet": {
        "address": ("address", "email"),
        "name": ("name",),
        "list": ("list",),
        "consent_at": ("consent_at",),
        "source": ("source",),
        "locale": ("locale",),
        "consent_ip": ("consent_ip",),
    },
    # listmonk's subscriber export: uuid, email, name, attributes, status, created_at, ...
    "listmonk": {
        "address": ("email",),
        "name": ("name",),
        "consent_at": ("created_at",),
        "status": ("status",),
    },
    # Mailchimp's audience export: "Email Address", "First Name", "Last Name", OPTIN_TIME, ...
    "mailchimp": {
        "address": ("email address",),
        "name": ("first name", "last name"),
        "consent_at": ("optin_time", "confirm_time"),
        "consent_ip": ("optin_ip", "confirm_ip"),
        "locale": ("language",),
    },
}
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_MAX_LOCAL = 64
# A short domain that always passes, put in place of a domain already checked (see address_of).
_STAND_IN = "a.io"
# Rows an export marks as not to be mailed (listmonk's blocklist): counted, never imported.
BLOCKED_STATUSES = frozenset({"blocklisted", "blacklisted"})


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (no address column, not CSV or JSONL)."""


@dataclass(frozen=True)
class Row:
    line: int
    address: str
    name: str | None
    list_name: str
    locale: str
    consent_at: datetime.datetime | None
    source: str | None
    consent_ip: str | None
    blocked: bool = False


@dataclass(frozen=True)
class Invalid:
    line: int
    reason: str


@dataclass(frozen=True)
class Rules:
    settings: Settings
    confirmed: bool  # --confirmed: a consent time and a source are required per row
    list_name: str | None
    source: str | None
    now: datetime.datetime


def records(stream: TextIO, fmt: str, columns: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {field: value}) per data row; fields named as in PRESETS."""
    preset = PRESETS[columns]
    if fmt == "jsonl":
        for n, text in enumerate(stream, 1):
            if text.strip():
                try:
                    obj = json.loads(text)
                except ValueError:
                    yield n, {"__error__": "not a JSON object"}
                    continue
                if not isinstance(obj, dict):
                    yield n, {"__error__": "not a JSON object"}
                    continue
                yield n, _pick({k.lower(): _text(v) for k, v in obj.items()}, preset)
        return
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise ImportFormatError("the file is empty")
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    if not any(c in names for c in preset["address"]):
        wanted = " or ".join(repr(c) for c in preset["address"])
        raise ImportFormatError(f"the header has no address column ({wanted}; see --columns)")
    # Where each field's columns sit, worked out once for the header.
    plan = [(f, [names.index(c) for c in cols if c in names]) for f, cols in preset.items()]
    width = len(names)
    for cells in reader:
        if not any(cells):
            continue
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        fields = {}
        for field, where in plan:
            values = [v for v in (cells[i].strip() for i in where) if v]
            fields[field] = " ".join(values) if field == "name" else (values[0] if values else "")
        yield reader.line_num, fields


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _pick(cells: dict[str, str], preset: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out = {}
    for field, names in preset.items():
        if field == "name":
            out[field] = " ".join(v for v in (cells.get(n, "").strip() for n in names) if v)
        else:
            out[field] = next((v for v in (cells.get(n, "").strip() for n in names) if v), "")
    return out


def check(line: int, fields: dict[str, str], rules: Rules) -> Row | Invalid:
    """The row normalised, or why it cannot be imported."""
    s = rules.settings
    if "__error__" in fields:
        return Invalid(line, fields["__error__"])
    if not fields.get("address"):
        return Invalid(line, "no address")
    try:
        address = address_of(fields["address"], s.smtputf8)
    except InvalidAddress:
        return Invalid(line, "not a valid address")
    list_name = fields.get("list") or rules.list_name or s.default_list
    if list_name not in s.lists:
        return Invalid(line, f"unknown list {list_name!r} (SIGNUP_LISTS)")
    name = fields.get("name") or None
    if name is not None and (
        len(name) > MAX_NAME_LENGTH
        # isprintable() is false for every control, format and separator character but space
        or (
            not name.isprintable()
            and any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
        )
    ):
        return Invalid(line, f"name longer than {MAX_NAME_LENGTH} or with control characters")
    locale = (fields.get("locale") or "").lower()
    locale = locale if locale in s.locales else s.default_locale
    consent_at = None
    if fields.get("consent_at"):
        consent_at = _time(fields["consent_at"])
        if consent_at is None:
            return Invalid(line, "consent time is not an ISO 8601 time")
        if consent_at > rules.now:
            return Invalid(line, "consent time is in the future")
    source = fields.get("source") or rules.source
    if source is not None and len(source) > MAX_SOURCE_LENGTH:
        return Invalid(line, f"source longer than {MAX_SOURCE_LENGTH} characters")
    if rules.confirmed and consent_at is None:
        return Invalid(line, "no consent time (required with --confirmed)")
    if rules.confirmed and not source:
        return Invalid(line, "no consent source (a source column or --source)")
    blocked = fields.get("status", "").lower() in BLOCKED_STATUSES
    ip = fields.get("consent_ip") or None
    return Row(line, address, name, list_name, locale, consent_at, source, ip, blocked)


def address_of(raw: str, smtputf8: bool) -> str:
    """normalise(), about ten times faster for a list: a list has few distinct domains, so
    each domain is checked once (in full, by email-validator), and a plain ASCII local part
    (dot-atom: what email-validator accepts and leaves as it is) by a pattern; any other
    local part is checked by email-validator with a stand-in domain (its checks of the local
    part do not depend on the domain). The whole address's length is checked here."""
    local, at, domain = raw.rpartition("@")
    if not at or not local:
        raise InvalidAddress("not an address")
    domain_part = _domain(domain, smtputf8)
    if domain_part is None:
        raise InvalidAddress("not a valid domain")
    if len(local) > _MAX_LOCAL or not _DOT_ATOM.fullmatch(local):
        local = normalise(f"{local}@{_STAND_IN}", smtputf8=smtputf8).rsplit("@", 1)[0]
    address = f"{local}@{domain_part}"
    if len(address) > MAX_ADDRESS_LENGTH or len(raw) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress("The email address is too long.")
    return address


@functools.lru_cache(maxsize=4096)
def _domain(domain: str, smtputf8: bool) -> str | None:
    """The domain as normalise() writes it, or None if it is not valid."""
    try:
        return normalise(f"postmaster@{domain}", smtputf8=smtputf8).rsplit("@", 1)[1]
    except InvalidAddress:
        return None


def _time(value: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def spooled(row: Row) -> str:
    """A checked row as one line of the spool file the second pass reads."""
    at = row.consent_at.timestamp() if row.consent_at else None
    fields = [row.line, row.address, row.name, row.list_name, row.locale, at, row.source]
    return json.dumps([*fields, row.consent_ip, row.blocked], ensure_ascii=False) + "\n"


def unspooled(text: str) -> Row:
    line, address, name, list_name, locale, at, source, ip, blocked = json.loads(text)
    consent_at = datetime.datetime.fromtimestamp(at, datetime.UTC) if at is not None else None
    return Row(line, address, name, list_name, locale, consent_at, source, ip, blocked)
