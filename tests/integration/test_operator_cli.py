"""signupctl against real PostgreSQL: erase, suppress, export, stats, purge, dead letters, audit,
help and exit codes. Each command runs as the installed program, as on-call would run it."""

from __future__ import annotations

import csv
import datetime
import io
import json
import uuid

import pytest

from signup_core import consent, unsubscribe_links
from signup_core.addresses import blind_index
from signup_core.settings import load_settings
from tests.privacy_support import (
    privacy,
    signupctl,
    signupctl_peak_rss,
    signupctl_to_a_closed_pipe,
    signupctl_writing_to,
)
from tests.support import BLIND_INDEX_KEY, inspect, keyring, store_unmailed

SUBCOMMANDS = [
    ["migrate"], ["export"], ["stats"], ["erase"], ["suppress"], ["unsuppress"], ["purge"],
    ["rotate-keys"], ["rotate-blind-index"], ["resend-confirmation"], ["dead-letters"],
    ["dead-letters", "list"], ["dead-letters", "replay"], ["audit"], ["keys"],
    ["keys", "generate"], ["token"], ["doctor"], ["import"], ["show"], ["secrets"],
    ["secrets", "new"],
]  # fmt: skip


def index(email: str) -> bytes:
    return blind_index(BLIND_INDEX_KEY.encode(), email)


@pytest.mark.parametrize("words", [[], *SUBCOMMANDS])
def test_help_at_every_level_needs_no_configuration(words):
    done = signupctl(None, *words, "--help")
    assert done.returncode == 0 and done.stdout.startswith("Usage: signupctl")
    assert done.stderr == ""


def test_usage_errors_exit_2_and_failures_exit_1_naming_every_missing_variable():
    assert signupctl(None, "no-such-command").returncode == 2
    assert signupctl(None, "export", "--format", "xml").returncode == 2
    assert signupctl(None, "erase").returncode == 2  # no address given
    failed = signupctl(None, "erase", "a@example.com")
    assert failed.returncode == 1 and failed.stdout == ""
    for name in ("DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY"):
        assert name in failed.stderr
    # Only what the command uses: erasing reads no Redis, seals nothing, links nothing.
    for name in ("REDIS_URL", "PUBLIC_BASE_URL", "SIGNUP_SEAL_KEYS", "SIGNUP_SIGNING_KEY"):
        assert name not in failed.stderr


@pytest.mark.parametrize(
    ("words", "needs"),
    [
        (["stats"], {"DATABASE_URL"}),
        (["audit"], {"DATABASE_URL"}),
        (["dead-letters", "list"], {"DATABASE_URL"}),
        (["purge", "--dry-run"], {"DATABASE_URL"}),
        (["rotate-keys"], {"DATABASE_URL", "SIGNUP_SEAL_KEYS"}),
        (
            ["rotate-blind-index", "--check"],
            {"DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY", "SIGNUP_SEAL_KEYS"},
        ),
        (["export"], {"DATABASE_URL", "SIGNUP_SEAL_KEYS", "SIGNUP_SIGNING_KEY"}),
    ],
)
def test_each_command_needs_only_the_settings_it_uses(env, db, words, needs):
    from signup_core.settings import required

    given = {k: v for k, v in env.items() if k not in required() or k in needs}
    if "SIGNUP_SIGNING_KEY" in needs:
        given["PUBLIC_BASE_URL"] = env["PUBLIC_BASE_URL"]  # the export's unsubscribe links
    done = signupctl(given, *words)
    assert done.returncode == 0, done.stderr
    missing = sorted(needs)[0]
    refused = signupctl({k: v for k, v in given.items() if k != missing}, *words)
    assert refused.returncode == 1 and f"{missing} is required" in refused.stderr


def test_migrate_needs_only_the_database(migrated):
    done = signupctl({"DATABASE_URL": migrated}, "migrate")
    assert done.returncode == 0, done.stderr
    assert "applied 0 migration(s)" in done.stderr


async def _signup(db, email: str, name: str | None = "Ada", list_name: str = "newsletter"):
    # Never mailed by the session worker: these tests count tokens, outbox rows and locks.
    return await store_unmailed(db, email, name=name, list_name=list_name)


async def test_erase_removes_everything_but_the_suppression_and_is_idempotent(db, env):
    kept, gone = (f"{n}-{uuid.uuid4().hex[:8]}@example.com" for n in ("kept", "gone"))
    for email in (kept, gone):
        await _signup(db, email)
        await _signup(db, email, list_name="other")
        await privacy().insert_event(
            db, email_index=index(email), event_id=uuid.uuid4().hex, kind="hard_bounce",
            applied=True,
        )  # fmt: skip
    # Given one address suppressed (a hard bounce) and one not
    assert signupctl(env, "suppress", "--reason", "hard_bounce", kept).returncode == 0
    # When both are erased, one from the command line and one from stdin
    done = signupctl(env, "erase", kept, "--from-file", "-", stdin=f"# request 7\n{gone}\n")
    assert done.returncode == 0, done.stderr
    assert "erased 2 address(es): 4 subscriptions, 0 tokens, 4 outbox, 2 events" in done.stderr
    # Then nothing of either is left but the suppressed one's entry
    for email in (kept, gone):
        assert [
            r async for r in inspect().subscriptions_by_index(db, email_index=index(email))
        ] == []
    assert (await inspect().count_events(db))["events"] == 0
    assert signupctl(env, "erase", gone).returncode == 0  # the second time removes nothing
    rows = await db.fetch("SELECT email_index, reason FROM suppressions")
    assert [(bytes(r["email_index"]), r["reason"]) for r in rows] == [(index(kept), "hard_bounce")]
    # And a new signup of the suppressed address is still suppressed
    assert (await _signup(db, kept))["status"] == "suppressed"
    audit = [a async for a in privacy().audit_actions(db)]
    assert [a["action"] for a in audit] == ["suppress", "erase", "erase"]
    assert all(kept not in a["params"] and gone not in a["params"] for a in audit)
    assert json.loads(audit[1]["counts"])["suppressions_kept"] == 1


async def test_unsuppress_lifts_the_entry_and_leaves_rows_unsubscribed(db, env):
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    await _signup(db, email)
    assert signupctl(env, "suppress", email).returncode == 0
    [row] = [r async for r in inspect().subscriptions_by_index(db, email_index=index(email))]
    assert row["status"] == "suppressed"
    done = signupctl(env, "--actor", "dpo", "unsuppress", email)
    assert done.returncode == 0 and "lifted 1 suppression(s); 1 row(s)" in done.stderr
    [row] = [r async for r in inspect().subscriptions_by_index(db, email_index=index(email))]
    assert row["status"] == "unsubscribed"
    [_, entry] = [a async for a in privacy().audit_actions(db)]
    assert entry["actor"] == "dpo" and index(email).hex() in entry["params"]


async def test_export_streams_confirmed_subscribers_with_their_unsubscribe_links(db, env):
    settings = load_settings(env)
    keys = keyring()
    await privacy().seed_confirmed(
        db, count=3, email_sealed=keys.seal("a@example.com", "subscriptions.email"),
        name_sealed=keys.seal("Ada, \"A\"", "subscriptions.name"), key_id="t1", list_name="one",
    )  # fmt: skip
    await privacy().seed_confirmed(
        db, count=2, email_sealed=keys.seal("b@example.com", "subscriptions.email"),
        name_sealed=None, key_id="t1", list_name="two",
    )  # fmt: skip
    await _signup(db, "pending@example.com")  # not confirmed: never exported
    done = signupctl(env, "export", "--list", "one")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["address"], r["name"], r["list"]) for r in rows] == [
        ("a@example.com", 'Ada, "A"', "one")
    ] * 3
    assert list(rows[0]) == [
        "address", "name", "list", "locale", "confirmed_at", "consent_form_version",
        "unsubscribe_url", *consent.FIELDS,
    ]  # fmt: skip
    token = rows[0]["unsubscribe_url"].split("token=")[1]
    assert unsubscribe_links.verify(settings, token) is not None
    assert "exported 3 subscriber(s)" in done.stderr and "exported" not in done.stdout
    lines = signupctl(env, "export", "--format", "jsonl", "--since", "2000-01-01").stdout
    assert (
        sorted(json.loads(line)["list"] for line in lines.splitlines()) == ["one"] * 3 + ["two"] * 2
    )
    assert signupctl(env, "export", "--until", "2000-01-01").stdout.count("\n") == 1  # header
    # Times as `date -Iseconds` prints them, or as an export writes them (fraction, offset)
    # The same instant in another offset is the same instant; a microsecond later is not.
    at = datetime.datetime.fromisoformat(rows[0]["confirmed_at"])
    east = at.astimezone(datetime.timezone(datetime.timedelta(hours=2))).isoformat()
    same = signupctl(env, "export", "--list", "one", "--since", east)
    assert same.returncode == 0, same.stderr
    assert same.stdout.count("\n") == 4  # the header and the three, confirmed at that instant
    just_after = at + datetime.timedelta(microseconds=1)
    west = just_after.astimezone(datetime.timezone(datetime.timedelta(hours=-5))).isoformat()
    assert signupctl(env, "export", "--list", "one", "--since", west).stdout.count("\n") == 1
    for wrong in ("yesterday", "0001-01-01T00:00:00+01:00"):  # the second: before UTC's year 1
        done = signupctl(env, "export", "--since", wrong)
        assert done.returncode == 2 and "is not an ISO 8601 time" in done.stderr, done.stderr
    audit = [a async for a in privacy().audit_actions(db)]
    assert [a["action"] for a in audit] == ["export"] * 5
    assert json.loads(audit[0]["counts"]) == {"rows": 3}


async def test_export_of_100000_rows_runs_in_bounded_memory(db, env, tmp_path):
    keys = keyring()
    sealed = {
        "email_sealed": keys.seal("bulk@example.com", "subscriptions.email"),
        "name_sealed": keys.seal("Bulk " + "x" * 200, "subscriptions.name"),
        "key_id": "t1",
    }
    await privacy().seed_confirmed(db, count=1_000, list_name="small", **sealed)
    await privacy().seed_confirmed(db, count=100_000, list_name="big", **sealed)
    code, _, small = signupctl_peak_rss(env, "export", "--list", "small", "-o", str(tmp_path / "s"))
    assert code == 0
    code, stderr, big = signupctl_peak_rss(
        env, "export", "--list", "big", "-o", str(tmp_path / "b")
    )
    assert code == 0 and "exported 100000 subscriber(s)" in stderr
    # A list held in Python would be >50 MB of records at this size; a cursor stays flat.
    assert big - small < 20, (small, big)


async def test_stats_counts_per_list(db, env):
    await _signup(db, "p@example.com")  # no mail sent
    keys = keyring()
    await privacy().seed_confirmed(
        db, count=4, email_sealed=keys.seal("c@example.com", "subscriptions.email"),
        name_sealed=None, key_id="t1", list_name="newsletter",
    )  # fmt: skip
    done = signupctl(env, "stats", "--json")
    assert done.returncode == 0, done.stderr
    [row] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (row["list_name"], row["confirmed"], row["pending"]) == ("newsletter", 4, 1)
    assert (row["signups_day"], row["confirmed_week"]) == (5, 4)
    assert row["confirmation_rate"] == 0.8 and row["bounce_rate"] is None
    assert "newsletter: 4 confirmed, 1 pending" in signupctl(env, "stats").stdout


async def test_dead_letters_replay_and_resend_confirmation(db, env):
    email = f"d-{uuid.uuid4().hex[:8]}@example.com"
    await _signup(db, email)  # never the session worker's
    [mail] = [r async for r in inspect().outbox_for(db, email_index=index(email))]
    await db.execute(
        "UPDATE outbox SET failed_at = now(), failure = 'gave up' WHERE id = $1", mail["id"]
    )
    listed = signupctl(env, "dead-letters", "list")
    assert listed.returncode == 0 and f"{mail['id']}\tconfirmation\tnewsletter" in listed.stdout
    assert email not in listed.stdout
    assert signupctl(env, "dead-letters", "replay").returncode == 2  # --id or --all
    done = signupctl(env, "dead-letters", "replay", "--id", str(mail["id"]))
    assert done.returncode == 0 and "replayed 1 mail(s)" in done.stderr
    [row] = [r async for r in inspect().outbox_for(db, email_index=index(email))]
    assert row["failed_at"] is None and row["failure"] is None  # (relayed again at once)
    assert signupctl(env, "dead-letters", "replay", "--id", str(mail["id"])).returncode == 1
    resent = signupctl(env, "resend-confirmation", email)
    assert resent.returncode == 0 and "queued 1 confirmation" in resent.stderr
    assert len([r async for r in inspect().outbox_for(db, email_index=index(email))]) == 2
    assert signupctl(env, "resend-confirmation", "nobody@example.com").returncode == 1
    actions = [a["action"] async for a in privacy().audit_actions(db)]
    assert actions == ["dead-letters-replay"] * 2 + ["resend-confirmation"] * 2


async def test_a_reader_that_leaves_early_ends_the_command_quietly(db, env):
    keys = keyring()
    sealed = keys.seal("left@example.com", "subscriptions.email")
    await privacy().seed_confirmed(
        db, count=2_000, email_sealed=sealed, name_sealed=None, key_id="t1", list_name="one"
    )
    for args in (["export"], ["audit"]):
        done = signupctl_to_a_closed_pipe(env, *args)
        assert done.returncode == 1
        assert done.stderr == ""  # not "database error: BrokenPipeError", no traceback
    # The export that was cut off is audited all the same: rows had left before the cut.
    [audit] = [a async for a in privacy().audit_actions(db)]
    counts = json.loads(audit["counts"])
    assert audit["action"] == "export" and counts["interrupted"] is True
    assert 0 < counts["rows"] < 2_000


async def test_a_reader_gone_before_the_last_flush_is_an_interrupted_export(db, env):
    # Two rows fit the output's buffer: nothing reaches the closed pipe before the last flush.
    sealed = keyring().seal("last@example.com", "subscriptions.email")
    await privacy().seed_confirmed(
        db, count=2, email_sealed=sealed, name_sealed=None, key_id="t1", list_name="one"
    )
    done = signupctl_to_a_closed_pipe(env, "export")
    assert (done.returncode, done.stderr) == (1, "")
    [audit] = [a async for a in privacy().audit_actions(db)]
    assert json.loads(audit["counts"]) == {"rows": 2, "interrupted": True}


async def test_an_export_file_that_cannot_be_written_says_so(db, env):
    sealed = keyring().seal("full@example.com", "subscriptions.email")
    await privacy().seed_confirmed(
        db, count=2, email_sealed=sealed, name_sealed=None, key_id="t1", list_name="one"
    )
    # Every write to /dev/full fails: no space left on device. As a file, or as stdout.
    with open("/dev/full", "wb") as full:
        runs = [
            signupctl(env, "export", "-o", "/dev/full"),
            signupctl_writing_to(full, env, "export"),
        ]
    for done in runs:
        assert done.returncode == 1
        # Said once, with nothing after it (Python's own flush of stdout at exit, a traceback).
        assert done.stderr == "Error: cannot write the export: No space left on device\n"
    audits = [json.loads(a["counts"]) async for a in privacy().audit_actions(db)]
    assert [counts["interrupted"] for counts in audits] == [True, True]


async def test_one_bad_address_in_a_file_stops_the_command_before_anything_is_done(db, env):
    listed = "good@example.com\nnot an address\n"
    done = signupctl(env, "suppress", "--reason", "asked", "--from-file", "-", stdin=listed)
    assert done.returncode == 1
    assert "address #2 is not a valid address; nothing was done" in done.stderr
    assert "not an address" not in done.stderr  # named by position, never echoed
    assert await db.fetchval("SELECT count(*) FROM suppressions") == 0


async def test_an_export_that_breaks_is_audited_as_failed(db, env):
    # A row whose sealed address is damaged: the export stops there.
    await privacy().seed_confirmed(
        db, count=3, email_sealed=b"damaged", name_sealed=None, key_id="t1", list_name="one"
    )
    done = signupctl(env, "export")
    assert done.returncode == 1 and "cannot open sealed data" in done.stderr
    [audit] = [a async for a in privacy().audit_actions(db)]
    assert (audit["action"], audit["outcome"]) == ("export", "failed")
    assert json.loads(audit["counts"])["interrupted"] is True
