"""Import rows without I/O: the list-speed address check agrees with normalise() everywhere, and
the input read in blocks gives the lines (and the line that is not UTF-8) that reading it line
by line gave."""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from signup_core import import_rows
from signup_core.addresses import InvalidAddress, normalise
from signup_core.import_rows import (
    FIELDS,
    ImportFormatError,
    Invalid,
    Lines,
    Row,
    Rules,
    address_of,
    check,
)
from signup_core.settings import load_settings
from tests.unit.test_settings import BASE

ADDRESSES = [
    "Ada@Example.COM", "a.b-c+tag@sub.example.co.uk", '"john doe"@example.com',
    '"a@b"@example.com', "user@xn--bcher-kva.example", "user@bücher.example", "üser@example.com",
    "x@localhost", "x@example", "x@-bad-.com", "no-at-sign", "@example.com", "a@",
    "a..b@example.com", "a@example..com", "\uff41@example.com", "a@EXAMPLE.com",
    "a@123.123.123.123", "a@[192.0.2.1]",
    ("l" * 64) + "@example.com", ("l" * 65) + "@example.com", "a@" + "d" * 250 + ".com",
    ("l" * 64) + "@" + ("d" * 63 + ".") * 3 + "com", "a b@example.com", "a@exam ple.com",
    "Info@Example.com", "POSTMASTER@example.org",  # role names: validate_email lower-cases them
]  # fmt: skip


def _outcome(check, address: str, smtputf8: bool) -> str:
    try:
        return check(address, smtputf8)
    except InvalidAddress:
        return "invalid"


@pytest.mark.parametrize("smtputf8", [True, False])
@pytest.mark.parametrize("address", ADDRESSES)
def test_address_of_agrees_with_normalise(address, smtputf8):
    full = _outcome(lambda a, u: normalise(a, smtputf8=u), address, smtputf8)
    assert _outcome(address_of, address, smtputf8) == full


def test_address_of_agrees_with_normalise_on_generated_local_parts():
    import random

    rng = random.Random(7)
    alphabet = "abcXYZ019!#$%&'*+/=?^_`{|}~-.\"\\ @()[]<>,;:üé\t"
    for _ in range(3000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 70)))
        for domain in ("example.com", "Example.ORG", "bücher.example"):
            address = f"{local}@{domain}"
            full = _outcome(lambda a, u: normalise(a, smtputf8=u), address, True)
            assert _outcome(address_of, address, True) == full, address


def _line_by_line(data: bytes) -> tuple[list[str], int | None]:
    """What the import read before it read blocks: readline(), each line decoded on its own
    ("utf-8-sig" when it starts with a byte order mark); the lines, and the number of the
    first line that is not UTF-8."""
    lines, source = [], io.BytesIO(data)
    for n, raw in enumerate(iter(source.readline, b""), 1):
        try:
            lines.append(raw.decode("utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"))
        except UnicodeDecodeError:
            return lines, n
    return lines, None


def _in_blocks(data: bytes, block: int) -> tuple[list[str], int | None, bytes]:
    digest = hashlib.sha256()
    lines: list[str] = []
    try:
        lines.extend(Lines(io.BytesIO(data), digest, block))
    except ImportFormatError as e:
        return lines, int(str(e).split()[1]), digest.digest()
    return lines, None, digest.digest()


PIECES = [b"a", b"\n", b"\r\n", b"\r", b",", b'"', codecs.BOM_UTF8, "é".encode(), b"\xff", b"\xc3"]


@settings(max_examples=600, deadline=None, database=None)
@given(data=st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join), block=st.integers(1, 9))
def test_lines_in_blocks_are_the_lines_read_one_by_one(data, block):
    # Blocks far smaller than a line: lines (and characters) split across them
    lines, bad_line, digest = _in_blocks(data, block)
    assert (lines, bad_line) == _line_by_line(data)
    if bad_line is None:
        assert digest == hashlib.sha256(data).digest()


def _fields_one_by_one(text: str, columns: str) -> list[tuple[int, tuple[str, ...]]]:
    """What records() gave before it read fields by position: a dict per row, each field its
    first non-empty column (the name: all of them, joined with a space)."""
    preset, reader = import_rows.PRESETS[columns], csv.reader(io.StringIO(text, newline=""))
    names = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    plan = {f: [names.index(c) for c in preset.get(f, ()) if c in names] for f in FIELDS}
    found = []
    for cells in reader:
        if not any(cells):
            continue
        cells += [""] * (len(names) - len(cells))
        fields = {}
        for field, where in plan.items():
            values = [v for v in (cells[i].strip() for i in where) if v]
            fields[field] = " ".join(values) if field == "name" else (values[0] if values else "")
        found.append((reader.line_num, tuple(fields[f] for f in FIELDS)))
    return found


HEADERS = sorted(
    {c for preset in import_rows.PRESETS.values() for cs in preset.values() for c in cs}
)
CELLS = st.sampled_from(["", " ", "x", " y ", "a@b.example", "2020-01-01", '"q,"'])


@settings(max_examples=400, deadline=None, database=None)
@given(
    columns=st.sampled_from(sorted(import_rows.PRESETS)),
    header=st.lists(
        st.sampled_from([*HEADERS, "other", "EMAIL", " Name "]), min_size=1, max_size=9
    ),
    table=st.lists(st.lists(CELLS, max_size=11), max_size=6),
)
@example(  # a field read from two columns (a name with one part blank), and a short row
    columns="mailchimp",
    header=["email address", "First Name", "last name", "optin_time", "confirm_time"],
    table=[["a@b.example", " ", "x", "", "2020-01-01"], ["a@b.example"]],
)
def test_fields_are_read_as_they_were_read_one_by_one(columns, header, table):
    if not any(c.strip().lower() in import_rows.PRESETS[columns]["address"] for c in header):
        header = [*header, import_rows.PRESETS[columns]["address"][0]]
    out = io.StringIO()
    csv.writer(out).writerows([header, *table])
    lines = io.StringIO(out.getvalue(), newline="")
    assert list(import_rows.records(lines, "csv", columns)) == _fields_one_by_one(
        out.getvalue(), columns
    )


def test_a_source_or_name_with_control_characters_is_an_invalid_row_not_a_crash():
    # A NUL, which Python's csv reads, would fail the insert: a PostgreSQL text column
    # refuses it, and the whole import with it.
    rules = Rules(
        load_settings(BASE),
        confirmed=False,
        list_name=None,
        source=None,
        now=datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC),
    )

    def row(name: str = "", source: str = ""):
        return check(7, ("a@example.com", name, "", "", source, "", "", ""), rules)

    assert isinstance(row(source="fair\x00"), Invalid)
    assert row(source="fair\x00").reason == "source with control characters"
    assert isinstance(row(name="Ann\x00"), Invalid)
    assert isinstance(row(name="Ann Lee", source="fair 2026"), Row)
