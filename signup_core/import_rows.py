"""Reading an import file: CSV with a header (columns by name, with presets for listmonk's and
Mailchimp's exports) or JSON Lines, one row at a time; each row checked and normalised, or
refused with its line number and a reason that never quotes the address."""

from __future__ import annotations

import csv
import datetime
import functools
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from signup_core.addresses import MAX_ADDRESS_LENGTH, ROLE_NAMES, InvalidAddress, normalise
from signup_core.clock import iso_time
from signup_core.free_text import has_controls
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


class Row(NamedTuple):
    """A checked row, as the second pass seals and inserts it (a tuple: a list has millions)."""

    address: str
    name: str | None
    list_name: str
    locale: str
    # The consent time as the file wrote it, checked: the second pass parses it again with
    # iso_time(), because a text pickles several times faster than an aware datetime.
    consent_at: str | None
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


# The fields records() hands to check(), in this order ("" where the file has no such column).
FIELDS = ("address", "name", "list", "consent_at", "source", "locale", "consent_ip", "status")
# Input is read in blocks this size (whole lines), not line by line: one readline() and one
# decode() per line cost about as much as checking the row.
BLOCK = 1 << 20


class Lines:
    """The text lines of a binary stream, split at b"\n" only (as readline() does), hashing
    every byte read. A line that is not UTF-8 ends the import, named by its number; a byte
    order mark is dropped from the start of any line, as a per-line "utf-8-sig" decode did."""

    def __init__(self, raw: BinaryIO, digest: Any, block: int = BLOCK) -> None:
        self._raw, self._digest, self._block = raw, digest, block
        self._before = 0  # lines in the blocks already handed out

    def __iter__(self) -> Iterator[str]:
        carry = b""
        while True:
            block = self._raw.read(self._block)
            self._digest.update(block)
            data = carry + block
            if block:
                cut = data.rfind(b"\n") + 1
                if not cut:  # no whole line yet
                    carry = data
                    continue
                data, carry = data[:cut], data[cut:]
            if data:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as e:
                    # The lines before the bad one are read as usual, then the file is refused.
                    yield from self._split(data[: data.rfind(b"\n", 0, e.start) + 1].decode())
                    raise ImportFormatError(f"line {self._before + 1} is not UTF-8 text") from None
                yield from self._split(text)
            if not block:
                return

    def _split(self, text: str) -> list[str]:
        lines = text.split("\n")
        last = lines.pop()  # "" after a final newline, else a last line without one
        lines = [line + "\n" for line in lines]
        if last:
            lines.append(last)
        if "\ufeff" in text:
            lines = [line[1:] if line.startswith("\ufeff") else line for line in lines]
        self._before += len(lines)
        return lines


def records(
    stream: Iterable[str], fmt: str, columns: str
) -> Iterator[tuple[int, tuple[str, ...] | str]]:
    """(line number, the FIELDS' values) per data row, or (line number, why it is unreadable)."""
    preset = PRESETS[columns]
    if fmt == "jsonl":
        for n, text in enumerate(stream, 1):
            if text.strip():
                try:
                    obj = json.loads(text)
                except ValueError:
                    yield n, "not a JSON object"
                    continue
                if not isinstance(obj, dict):
                    yield n, "not a JSON object"
                    continue
                yield n, _pick({k.lower(): _text(v) for k, v in obj.items()}, preset)
        return
    reader = csv.reader(stream)
    try:
        yield from _csv_rows(reader, preset)
    except csv.Error as e:
        raise ImportFormatError(f"line {reader.line_num} is not CSV: {e}") from None


def _csv_rows(reader: Any, preset: dict[str, tuple[str, ...]]) -> Iterator[tuple[int, tuple]]:
    header = next(reader, None)
    if header is None:
        raise ImportFormatError("the file is empty")
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    if not any(c in names for c in preset["address"]):
        wanted = " or ".join(repr(c) for c in preset["address"])
        raise ImportFormatError(f"the header has no address column ({wanted}; see --columns)")
    # Where each field's columns sit, worked out once for the header.
    where = [[names.index(c) for c in preset.get(f, ()) if c in names] for f in FIELDS]
    width = len(names)
    if all(len(w) <= 1 for w in where):
        # Each field in at most one column: one C-level pick and strip per row; a field
        # without a column reads a blank cell put after the row's own.
        pick = operator.itemgetter(*[w[0] if w else width for w in where])
        for cells in reader:
            if not any(cells):
                continue
            if len(cells) != width:
                cells = (cells + [""] * width)[:width]
            cells.append("")
            yield reader.line_num, tuple(map(str.strip, pick(cells)))
        return
    getters = [_getter(w, f == "name") for f, w in zip(FIELDS, where, strict=True)]
    for cells in reader:
        if not any(cells):
            continue
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        yield reader.line_num, tuple([get(cells) for get in getters])


def _getter(where: list[int], joined: bool) -> Callable[[list[str]], str]:
    """A field's value: its first non-empty column, or (`joined`, the name) all of them."""
    if not where:
        return lambda cells: ""
    if len(where) == 1:
        [i] = where
        return lambda cells: cells[i].strip()
    if joined:
        return lambda cells: " ".join(v for v in (cells[i].strip() for i in where) if v)
    return lambda cells: next((v for v in (cells[i].strip() for i in where) if v), "")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _pick(cells: dict[str, str], preset: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    out = []
    for f in FIELDS:
        names = preset.get(f, ())
        if f == "name":
            out.append(" ".join(v for v in (cells.get(n, "").strip() for n in names) if v))
        else:
            out.append(next((v for v in (cells.get(n, "").strip() for n in names) if v), ""))
    return tuple(out)


def check(line: int, values: tuple[str, ...] | str, rules: Rules) -> Row | Invalid:
    """The row normalised, or why it cannot be imported."""
    s = rules.settings
    if isinstance(values, str):
        return Invalid(line, values)
    raw, name, list_col, consent_text, source_col, locale, ip, status = values
    if not raw:
        return Invalid(line, "no address")
    try:
        address = address_of(raw, s.smtputf8)
    except InvalidAddress:
        return Invalid(line, "not a valid address")
    list_name = list_col or rules.list_name or s.default_list
    if list_name not in s.lists:
        return Invalid(line, f"unknown list {list_name!r} (SIGNUP_LISTS)")
    if name and (len(name) > MAX_NAME_LENGTH or has_controls(name)):
        return Invalid(line, f"name longer than {MAX_NAME_LENGTH} or with control characters")
    locale = locale.lower()
    locale = locale if locale in s.locales else s.default_locale
    if consent_text:
        consent_at = iso_time(consent_text)
        if consent_at is None:
            return Invalid(line, "consent time is not an ISO 8601 time")
        if consent_at > rules.now:
            return Invalid(line, "consent time is in the future")
    source = source_col or rules.source
    if source is not None and len(source) > MAX_SOURCE_LENGTH:
        return Invalid(line, f"source longer than {MAX_SOURCE_LENGTH} characters")
    if source is not None and has_controls(source):
        # A NUL among them cannot even be stored (a PostgreSQL text column refuses it).
        return Invalid(line, "source with control characters")
    if rules.confirmed and not consent_text:
        return Invalid(line, "no consent time (a consent_at column, or the --columns preset's)")
    if rules.confirmed and not source:
        return Invalid(line, "no consent source (a source column or --source)")
    blocked = status.lower() in BLOCKED_STATUSES
    consent_at = consent_text or None
    return Row(address, name or None, list_name, locale, consent_at, source, ip or None, blocked)


def address_of(raw: str, smtputf8: bool) -> str:
    """normalise(), about ten times faster for a list: a list has few distinct domains, so
    each domain is checked once (in full, by email-validator), and a plain ASCII local part
    (dot-atom: what email-validator accepts and leaves as it is, but for role names such as
    Info@ that it lower-cases) by a pattern; any other local part is checked by
    email-validator with a stand-in domain (its checks of the local part do not depend on the
    domain). The whole address's length is checked here."""
    local, at, domain = raw.rpartition("@")
    if not at or not local:
        raise InvalidAddress("not an address")
    domain_part = _domain(domain, smtputf8)
    if domain_part is None:
        raise InvalidAddress("not a valid domain")
    if len(local) > _MAX_LOCAL or not _DOT_ATOM.fullmatch(local):
        local = normalise(f"{local}@{_STAND_IN}", smtputf8=smtputf8).rsplit("@", 1)[0]
    elif local.lower() in ROLE_NAMES:
        local = local.lower()  # as normalise() writes Info@ or POSTMASTER@
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
