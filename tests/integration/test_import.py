"""signupctl import against real PostgreSQL (and, for --confirm-by-mail, the session's real
worker and SMTP catcher): confirmed imports with their consent record, idempotent re-runs, a
bad row that stops the file, existing and suppressed addresses counted, a killed import
finished by running it again, and confirmations paced through the outbox."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from tests.integration.test_operator_cli import _signup, index
from tests.privacy_support import privacy, signupctl
from tests.support import empty_tables, eventually, inspect, store_signup, unseal

SOURCE = "listmonk export; double opt-in on example.org since 2019"


def listmonk_csv(path: Path, n: int, tag: str, bad_line: int | None = None) -> list[str]:
    """A listmonk subscriber export of `n` rows; returns the addresses."""
    emails = [f"{tag}-{i}@example.org" for i in range(n)]
    lines = ["uuid,email,name,attributes,status,created_at,updated_at"]
    for i, email in enumerate(emails):
        shown = "not an address" if bad_line == i + 2 else email
        lines.append(
            f'{uuid.uuid4()},{shown},"Reader {i}","{{}}",enabled,'
            f"2021-03-0{1 + i % 9} 10:00:00+00,2021-03-10 10:00:00+00"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return emails


async def _statuses(db) -> dict[str, int]:
    rows = await db.fetch("SELECT status::text, count(*) FROM subscriptions GROUP BY 1")
    return {r[0]: r[1] for r in rows}


async def test_confirmed_listmonk_import_is_confirmed_once_and_records_consent(db, env, tmp_path):
    # Given a 10,000-row listmonk export
    path = tmp_path / "listmonk.csv"
    emails = listmonk_csv(path, 10_000, f"lm{uuid.uuid4().hex[:6]}")
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    # When it is imported as confirmed
    done = signupctl({**env, "USER": "ops"}, "--actor", "migrator", *args)
    assert done.returncode == 0, done.stderr
    assert "imported 10000 of 10000 row(s)" in done.stderr
    # Then stats shows them all confirmed
    [stats] = [json.loads(line) for line in signupctl(env, "stats", "--json").stdout.splitlines()]
    assert (stats["list_name"], stats["confirmed"], stats["pending"]) == ("newsletter", 10_000, 0)
    # And each carries its consent record: the export's time, the stated source, batch, operator
    [row] = await db.fetch("SELECT * FROM subscriptions WHERE email_index = $1", index(emails[3]))
    assert unseal(row["email_sealed"]) == emails[3]
    assert unseal(row["name_sealed"], "subscriptions.name") == "Reader 3"
    assert row["consent_at"].isoformat() == "2021-03-04T10:00:00+00:00"
    assert (row["consent_source"], row["consent_actor"], row["confirmed_via"]) == (
        "import", "migrator", "import",
    )  # fmt: skip
    assert bytes(row["consent_wording_hash"]) == hashlib.sha256(SOURCE.encode()).digest()
    batch = row["consent_origin"]
    assert f"(batch {batch})" in done.stderr
    # When the same file is imported again, nothing is imported twice
    again = signupctl(env, *args)
    assert again.returncode == 0, again.stderr
    assert "imported 0 of 10000 row(s)" in again.stderr
    assert "10000 from an earlier run" in again.stderr
    assert await _statuses(db) == {"confirmed": 10_000}
    assert (await inspect().count_rows(db))["outbox"] == 0  # no mail for a confirmed import
    # And one audit row per run, with counts and the batch id, never an address
    audit = [a async for a in privacy().audit_actions(db) if a["action"] == "import"]
    assert len(audit) == 2
    assert json.loads(audit[0]["params"])["batch_id"] == batch
    assert json.loads(audit[0]["counts"])["imported"] == 10_000
    assert json.loads(audit[1]["counts"])["resumed"] == 10_000
    assert all("@" not in a["params"] + a["counts"] for a in audit)


async def test_one_bad_row_imports_nothing_and_names_its_line(db, env, tmp_path):
    path = tmp_path / "bad.csv"
    listmonk_csv(path, 6, "bad", bad_line=5)
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    done = signupctl(env, *args)
    assert done.returncode == 1
    assert "line 5: not a valid address" in done.stderr
    assert "nothing imported" in done.stderr and "not an address" not in done.stderr
    assert await _statuses(db) == {}
    # With --skip-invalid the other five go in
    skipped = signupctl(env, *args, "--skip-invalid")
    assert skipped.returncode == 0 and "imported 5 of 6 row(s)" in skipped.stderr
    outcomes = [a["outcome"] async for a in privacy().audit_actions(db)]
    assert outcomes == ["failed", "done"]


async def test_evidence_is_required_per_row_with_confirmed(db, env, tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text(
        "email,name,consent_at,source\n"
        "a@example.org,A,2020-01-01T00:00:00Z,form on example.org\n"
        "b@example.org,B,,form on example.org\n"
        "c@example.org,C,2020-01-01T00:00:00Z,\n"
        "d@example.org,D,2999-01-01T00:00:00Z,form\n"
        "e@example.org,E,yesterday,form\n",
        encoding="utf-8",
    )
    done = signupctl(env, "import", str(path), "--confirmed")
    assert done.returncode == 1
    for line, reason in (
        (3, "no consent time"), (4, "no consent source"), (5, "consent time is in the future"),
        (6, "consent time is not an ISO 8601 time"),
    ):  # fmt: skip
        assert f"line {line}: {reason}" in done.stderr
    # A list that is not configured is refused too
    other = signupctl(env, "import", str(path), "--confirmed", "--list", "nope", "--source", "x")
    assert other.returncode == 1 and "unknown list 'nope'" in other.stderr
    assert signupctl(env, "import", str(path)).returncode == 2  # a mode is required
    # A file that is not text, or has no address column, is refused as a whole
    path.write_bytes(b"email,name\nok@example.org,A\n\xff\xfe@example.org,B\n")
    binary = signupctl(env, "import", str(path), "--confirm-by-mail")
    assert binary.returncode == 1 and "line 3 is not UTF-8 text" in binary.stderr
    path.write_text("who,when\nx,y\n")
    headless = signupctl(env, "import", str(path), "--confirm-by-mail")
    assert headless.returncode == 1 and "no address column" in headless.stderr
    assert "Traceback" not in binary.stderr + headless.stderr


async def test_existing_suppressed_and_blocklisted_are_left_and_counted(db, env, tmp_path):
    path = tmp_path / "mixed.csv"
    emails = listmonk_csv(path, 5, f"mx{uuid.uuid4().hex[:6]}")
    text = path.read_text().splitlines()
    text[5] = text[5].replace(",enabled,", ",blocklisted,")  # the fifth address
    path.write_text("\n".join(text) + "\n")
    await _signup(db, emails[0])  # pending already: left pending
    assert signupctl(env, "suppress", emails[1]).returncode == 0
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    dry = signupctl(env, *args, "--dry-run")
    assert dry.returncode == 0 and "would import 2 of 5 row(s)" in dry.stderr
    assert await _statuses(db) == {"pending": 1}
    done = signupctl(env, *args)
    assert done.returncode == 0, done.stderr
    assert "imported 2 of 5 row(s)" in done.stderr
    assert "1 already there" in done.stderr and "1 suppressed, 1 blocklisted" in done.stderr
    assert await _statuses(db) == {"pending": 1, "confirmed": 2}
    outcomes = [a["outcome"] async for a in privacy().audit_actions(db) if a["action"] == "import"]
    assert outcomes == ["dry-run", "done"]


async def test_jsonl_from_stdin_and_mailchimp_columns(db, env, tmp_path, settings):
    from signup_core import consent

    lines = [
        {"email": "j1@example.org", "name": "J", "consent_at": "2022-05-01T08:00:00Z",
         "source": "paper form", "locale": "de"},
        {"address": "j2@example.org", "consent_at": "2022-05-02T08:00:00+02:00",
         "source": "stall"},
    ]  # fmt: skip
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n"
    done = signupctl(env, "import", "-", "--format", "jsonl", "--confirmed", stdin=stdin)
    assert done.returncode == 0 and "imported 2 of 2" in done.stderr, done.stderr
    [j1] = await db.fetch(
        "SELECT * FROM subscriptions WHERE email_index = $1", index(lines[0]["email"])
    )
    assert j1["locale"] == "de"
    chimp = tmp_path / "members_export.csv"
    chimp.write_text(
        '"Email Address","First Name","Last Name",OPTIN_TIME,OPTIN_IP,CONFIRM_TIME\n'
        'm@example.org,Mary,Major,"2019-03-12 10:22:33",198.51.100.4,"2019-03-12 10:25:00"\n',
        encoding="utf-8",
    )
    done = signupctl(env, "import", str(chimp), "--confirmed", "--columns", "mailchimp",
                     "--source", "Mailchimp signup form")  # fmt: skip
    assert done.returncode == 0, done.stderr
    [m] = await db.fetch(
        "SELECT * FROM subscriptions WHERE email_index = $1", index("m@example.org")
    )
    assert unseal(m["name_sealed"], "subscriptions.name") == "Mary Major"
    assert m["consent_at"].isoformat() == "2019-03-12T10:22:33+00:00"
    ip_hash, key_id = consent.hash_ip(settings, "198.51.100.4")
    assert (bytes(m["consent_ip_hash"]), m["consent_ip_key"]) == (ip_hash, key_id)


def _import_process(env: dict[str, str], *args: str) -> subprocess.Popen:
    binary = Path(sys.executable).with_name("signupctl")
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
    return subprocess.Popen(
        [str(binary), *args], env={**base, **env}, stderr=subprocess.PIPE, text=True
    )


async def test_a_killed_import_is_finished_by_running_it_again(db, env, tmp_path):
    path = tmp_path / "big.csv"
    listmonk_csv(path, 60_000, f"k{uuid.uuid4().hex[:6]}")
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    # Given an import killed once its first batches are in
    named = {**env, "DATABASE_URL": env["DATABASE_URL"] + "?application_name=killed-import"}
    process = _import_process(named, *args)
    try:
        await eventually(
            lambda: db.fetchval("SELECT count(*) >= 5000 FROM subscriptions"), timeout=120
        )
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    # The killed client's server backends may still be committing a batch it sent: count once
    # they are gone (each ends when it finds its client gone).
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'killed-import'"
        ),
        timeout=30,
    )
    partial = await db.fetchval("SELECT count(*) FROM subscriptions")
    assert 0 < partial < 60_000
    # When it is run again, it finishes: what the killed run wrote is found, not doubled
    done = signupctl(env, *args)
    assert done.returncode == 0, done.stderr
    assert f"imported {60_000 - partial} of 60000" in done.stderr
    assert f"{partial} from an earlier run" in done.stderr
    assert await _statuses(db) == {"confirmed": 60_000}


async def test_confirm_by_mail_sends_one_confirmation_per_new_address_paced(
    db, env, worker, smtp_server, tmp_path
):
    path = tmp_path / "by-mail.csv"
    emails = listmonk_csv(path, 4, f"bm{uuid.uuid4().hex[:6]}")
    await store_signup(db, emails[0])  # already pending (and mailed): left alone by the import
    await eventually(lambda: any(emails[0] in str(m["To"]) for m in smtp_server.messages))
    # When the list is imported for confirmation by mail at 60 a minute (one a second)
    done = signupctl(env, "import", str(path), "--confirm-by-mail", "--columns", "listmonk",
                     "--rate", "60")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "imported 3 of 4" in done.stderr and "3 confirmation(s) paced at 60/min" in done.stderr
    # Then each new address gets exactly one confirmation, a second after the one before
    await eventually(
        lambda: all(any(e in str(m["To"]) for m in smtp_server.messages) for e in emails[1:]),
        timeout=30,
    )
    await asyncio.sleep(1.5)  # anything more would have come by now
    for e in emails:
        assert sum(e in str(m["To"]) for m in smtp_server.messages) == 1, e
    sent = await db.fetch(
        "SELECT o.created_at, o.not_before, o.sent_at FROM outbox o JOIN subscriptions s "
        "ON s.id = o.subscription_id WHERE s.consent_source = 'import' ORDER BY o.not_before"
    )
    # Each went out at its time, never before, and no time was already past when queued (it
    # would go at once, closer to the one before than the rate allows)
    assert all(r["created_at"] <= r["not_before"] <= r["sent_at"] for r in sent)
    gaps = [
        (b["not_before"] - a["not_before"]).total_seconds() for a, b in itertools.pairwise(sent)
    ]
    assert gaps == [1.0, 1.0]


async def test_a_suppression_filed_under_the_suppression_key_is_not_imported(db, env, tmp_path):
    from tests.integration.test_suppression_keys import HELD

    held = {**env, "SIGNUP_SUPPRESSION_KEY": HELD}
    path = tmp_path / "held.csv"
    emails = listmonk_csv(path, 3, f"hk{uuid.uuid4().hex[:6]}")
    try:
        # Given an address suppressed where suppressions outlive the blind-index keys
        assert signupctl(held, "suppress", emails[1]).returncode == 0
        # When the list is imported by a process with the same keys
        args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
        done = signupctl(held, *args)
        assert done.returncode == 0, done.stderr
        # Then the suppressed address is counted, not imported
        assert "imported 2 of 3 row(s)" in done.stderr and "1 suppressed" in done.stderr
        assert await db.fetchval(
            "SELECT count(*) FROM subscriptions WHERE email_index = $1", index(emails[1])
        ) == 0  # fmt: skip
        # And each imported row has its own random unsubscribe id, as gen_random_uuid() makes
        ids = [r["unsubscribe_id"] for r in await db.fetch("SELECT * FROM subscriptions")]
        assert len(set(ids)) == 2 and {(u.version, u.variant) for u in ids} == {(4, uuid.RFC_4122)}
    finally:
        # Entries filed under HELD would stop a worker without that key from starting
        await empty_tables(db)


async def test_an_address_twice_in_a_file_is_imported_once_with_the_same_counts_every_run(
    db, env, tmp_path
):
    # Given a file naming every address twice, 12,500 lines apart: never in one batch, and
    # (the import inserting through two connections at once) never racing itself
    path = tmp_path / "twice.csv"
    emails = listmonk_csv(path, 12_500, f"tw{uuid.uuid4().hex[:6]}")
    text = path.read_text().splitlines()
    path.write_text("\n".join([*text, *text[1:]]) + "\n")
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    summaries = []
    for _ in range(2):
        # When it is imported into an empty list, twice over
        done = signupctl(env, *args)
        assert done.returncode == 0, done.stderr
        summaries.append(done.stderr.split("): ")[1])
        assert "imported 12500 of 25000 row(s)" in done.stderr
        assert await _statuses(db) == {"confirmed": len(emails)}
        await db.execute("TRUNCATE subscriptions CASCADE")
    # Then each address went in once, its second line found as written by this import
    assert summaries[0] == summaries[1]
    assert summaries[0].startswith("0 already there, 12500 from an earlier run")


async def test_our_own_export_imports_back_with_a_stated_source(db, env, tmp_path):
    # Given a confirmed list, exported (moving to another installation)
    path = tmp_path / "listmonk.csv"
    emails = listmonk_csv(path, 3, f"rt{uuid.uuid4().hex[:6]}")
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    assert signupctl(env, *args).returncode == 0
    exported = signupctl(env, "export")
    assert exported.returncode == 0, exported.stderr
    await empty_tables(db)
    # When the export is imported as docs/operator.md shows, with --source
    again = ["import", "-", "--confirmed", "--source", "our export of 2026-12-07"]
    done = signupctl(env, *again, stdin=exported.stdout)
    # Then every row is back, confirmed, with the export's consent time and name
    assert done.returncode == 0, done.stderr
    assert "imported 3 of 3 row(s)" in done.stderr
    assert await _statuses(db) == {"confirmed": 3}
    [row] = await db.fetch("SELECT * FROM subscriptions WHERE email_index = $1", index(emails[1]))
    assert row["consent_at"].isoformat() == "2021-03-02T10:00:00+00:00"
    assert unseal(row["name_sealed"], "subscriptions.name") == "Reader 1"
    # Without a source the rows are refused, each saying what to add
    await empty_tables(db)
    refused = signupctl(env, "import", "-", "--confirmed", stdin=exported.stdout)
    assert refused.returncode == 1
    assert "line 2: no consent source (a source column or --source)" in refused.stderr
