"""Blind-index key rotation against real PostgreSQL: every row refiled under the new key, look-ups
by address finding rows under either key meanwhile, suppressions kept throughout, and a rotation
killed midway resumed."""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path
from typing import Any

import aiosql
import pytest

from signup_core import db as core_db
from signup_core import reindexing
from signup_core.addresses import blind_index
from signup_core.index_keys import index_keys
from signup_core.settings import load_settings
from tests.privacy_support import privacy, signupctl
from tests.support import BLIND_INDEX_KEY, app_client, inspect, killed_after, store_signup

NEW_KEY = "test-blind-index-key-NEW-0123456789abcdef"


@functools.cache
def fixtures() -> Any:
    return aiosql.from_path(Path(__file__).parents[1] / "fixtures" / "blind_index.sql", "asyncpg")


def old(email: str) -> bytes:
    return blind_index(BLIND_INDEX_KEY.encode(), email)


def new(email: str) -> bytes:
    return blind_index(NEW_KEY.encode(), email)


def rotating(env: dict[str, str]) -> dict[str, str]:
    """The configuration of every process during the transition."""
    return {
        **env,
        "SIGNUP_BLIND_INDEX_KEY": NEW_KEY,
        "SIGNUP_BLIND_INDEX_KEY_PREVIOUS": BLIND_INDEX_KEY,
    }


def address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def filed(db, index: bytes) -> dict[str, int]:
    return dict(await fixtures().filed_under(db, email_index=index))


async def test_rotation_refiles_every_row_and_keeps_suppressions_through_and_after(db, env):
    two_lists, bounced, suppressed, erased = (
        address(n) for n in ("two", "bounced", "suppressed", "erased")
    )
    # Given rows under the old key: an address on two lists with an event, a suppressed
    # subscriber, and a suppressed address that was then erased (its entry alone is left)
    await store_signup(db, two_lists)
    await store_signup(db, two_lists, list_name="other")
    await privacy().insert_event(
        db, email_index=old(two_lists), event_id=uuid.uuid4().hex, kind="delivered", applied=True
    )
    for email in (bounced, suppressed, erased):
        await store_signup(db, email)
    assert (
        signupctl(env, "suppress", "--reason", "hard_bounce", bounced, suppressed).returncode == 0
    )
    assert signupctl(env, "erase", erased).returncode == 0
    assert signupctl(env, "suppress", erased).returncode == 0
    # When the rotation runs with both keys configured, in batches of one
    done = signupctl(rotating(env), "--actor", "oncall", "rotate-blind-index", "--batch", "1")
    assert done.returncode == 0, done.stderr
    assert "refiled 4 subscription(s)" in done.stderr
    assert "still under an older key: 0 subscription(s) (0 conflicting)" in done.stderr
    # Then every row is found under the new key and none under the old
    assert await filed(db, new(two_lists)) == {"subscriptions": 2, "suppressions": 0, "events": 1}
    for email in (bounced, suppressed):
        assert await filed(db, new(email)) == {"subscriptions": 1, "suppressions": 1, "events": 0}
    for email in (two_lists, bounced, suppressed):
        assert await filed(db, old(email)) == {"subscriptions": 0, "suppressions": 0, "events": 0}
    # And the erased address's entry, with no address to recompute it from, stays under the old
    assert await filed(db, old(erased)) == {"subscriptions": 0, "suppressions": 1, "events": 0}
    check = signupctl(rotating(env), "rotate-blind-index", "--check")
    assert check.returncode == 1 and "still filed under an older key" in check.stderr
    assert check.stdout.splitlines() == ["subscriptions\t0", "suppressions\t1", "events\t0"]
    # And both suppressed addresses, signing up again, get the usual answer and no mail
    mails_before = await fixtures().outbox_count(db)
    async with app_client(rotating(env)) as client:
        for email in (suppressed, erased):
            response = await client.post("/signup", json={"email": email})
            assert (response.status_code, response.json()["status"]) == (202, "accepted")
    for email in (suppressed, erased):
        assert [dict(r) async for r in fixtures().statuses(db, email_index=new(email))] == [
            {"list_name": "newsletter", "status": "suppressed"}
        ]
    assert await fixtures().outbox_count(db) == mails_before
    # And the erased address's entry, seen again, is now under the new key: nothing needs the old
    assert await filed(db, old(erased)) == {"subscriptions": 0, "suppressions": 0, "events": 0}
    check = signupctl(rotating(env), "rotate-blind-index", "--check")
    assert check.returncode == 0, check.stderr
    assert "nothing is filed under an older key" in check.stderr
    entries = [a async for a in privacy().audit_actions(db)]
    rotation = next(a for a in entries if a["action"] == "rotate-blind-index")
    assert (rotation["actor"], rotation["outcome"]) == ("oncall", "done")
    assert json.loads(rotation["counts"])["moved"] == 4
    assert all(e not in a["params"] for a in entries for e in (two_lists, erased))


async def test_signup_mid_rotation_for_an_unrefiled_address_finds_its_row(db, env):
    confirmed, pending = address("confirmed"), address("pending")
    await store_signup(db, confirmed)
    await store_signup(db, pending)
    await db.execute(
        "UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() "
        "WHERE email_index = $1",
        old(confirmed),
    )
    for email in (confirmed, pending):
        await inspect().age_last_mailed(db, email_index=old(email), seconds=3600)
    mails_before = await fixtures().outbox_count(db)
    # Given both keys configured but the rotation not run yet
    async with app_client(rotating(env)) as client:
        # When both addresses sign up again (spelt differently), on the same list
        for email in (confirmed.upper(), pending):
            response = await client.post("/signup", json={"email": email})
            # Then the answer is the one every address gets
            assert (response.status_code, response.json()["status"]) == (202, "accepted")
    # And no duplicate: the one row, refiled under the new key, keeps its status
    for email, status in ((confirmed, "confirmed"), (pending, "pending")):
        assert await filed(db, old(email)) == {"subscriptions": 0, "suppressions": 0, "events": 0}
        assert [dict(r) async for r in fixtures().statuses(db, email_index=new(email))] == [
            {"list_name": "newsletter", "status": status}
        ]
    # And each gets its mail (confirm again / already subscribed), as outside a rotation
    assert await fixtures().outbox_count(db) == mails_before + 2


async def test_rotation_killed_midway_resumes(db, env):
    settings = load_settings(rotating(env))
    emails = [address(f"r{n}") for n in range(23)]
    # Relayed already (in one transaction): the test process's worker sending these
    # confirmations would hold their subscriptions (the token's foreign key) at times, and the
    # rotation leaves rows in use for a later batch, so the counts below would not be exact.
    async with db.transaction():
        for email in emails:
            await store_signup(db, email)
            await inspect().mark_relayed(db, email_index=old(email))
    keys = index_keys(settings)
    pool = await core_db.create_pool(settings, max_size=2)
    try:
        # Given a rotation killed after two batches of 5
        with pytest.raises(KeyboardInterrupt):
            await reindexing.reindex(pool, keys, settings.seal_keys, 5, killed_after(2))
        assert (await reindexing.remaining(pool, keys))["subscriptions"] == 13
        # When it runs again, it refiles what is left, and only that
        outcome = await reindexing.reindex(pool, keys, settings.seal_keys, 5)
        assert (outcome.moved, outcome.conflicts) == (13, 0)
        assert await reindexing.remaining(pool, keys) == {
            "subscriptions": 0,
            "suppressions": 0,
            "events": 0,
        }
    finally:
        await pool.close()
    for email in emails:
        assert await filed(db, new(email)) == {"subscriptions": 1, "suppressions": 0, "events": 0}


async def test_rotation_refuses_without_the_previous_key_and_exits_2_on_usage(db, env):
    done = signupctl({**env, "SIGNUP_BLIND_INDEX_KEY": NEW_KEY}, "rotate-blind-index")
    assert done.returncode == 1 and "SIGNUP_BLIND_INDEX_KEY_PREVIOUS is not set" in done.stderr
    assert signupctl(rotating(env), "rotate-blind-index", "--batch", "0").returncode == 2
    same = {**env, "SIGNUP_BLIND_INDEX_KEY_PREVIOUS": BLIND_INDEX_KEY}
    assert signupctl(same, "rotate-blind-index").returncode == 1
