"""Suppressions outlive every blind-index key: filed under SIGNUP_SUPPRESSION_KEY, checked under
every key a process knows, guarded at start-up against a key the database still needs; the
rotation merges duplicate rows instead of failing on them; the consent IP hash stays checkable."""

from __future__ import annotations

import functools
import uuid
from pathlib import Path
from typing import Any

import aiosql
import pytest

from signup_core.addresses import blind_index, derived_ip_key, hash_ip
from signup_core.index_keys import IndexKeys, fingerprint
from signup_core.key_registry import KeyMismatch
from tests.privacy_support import signupctl
from tests.support import BLIND_INDEX_KEY, app_client, store_signup

K2 = "test-blind-index-key-TWO-0123456789abcdef"
K3 = "test-blind-index-key-THREE-0123456789abcde"
HELD = "test-suppression-key-0123456789abcdefghij"


@pytest.fixture(autouse=True)
async def _leave_no_keys_behind(db):
    """Suppressions filed under this module's keys would stop the next worker starting (it
    refuses a key it lacks): the tables are emptied after each test as well as before."""
    yield
    from tests.support import empty_tables

    await empty_tables(db)


@functools.cache
def fixtures() -> Any:
    return aiosql.from_path(Path(__file__).parents[1] / "fixtures" / "blind_index.sql", "asyncpg")


def on(env: dict[str, str], key: str, previous: str | None = None, **more: str) -> dict[str, str]:
    """A process's configuration: `key` current, `previous` (if any) looked under too."""
    configured = {k: v for k, v in env.items() if k != "SIGNUP_BLIND_INDEX_KEY_PREVIOUS"}
    configured["SIGNUP_BLIND_INDEX_KEY"] = key
    if previous is not None:
        configured["SIGNUP_BLIND_INDEX_KEY_PREVIOUS"] = previous
    return {**configured, **more}


def idx(key: str, email: str) -> bytes:
    return blind_index(key.encode(), email)


def address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def rotate(env: dict[str, str]) -> str:
    done = signupctl(env, "rotate-blind-index", "--batch", "2")
    assert done.returncode == 0, done.stderr
    return done.stderr


async def _sign_up(env: dict[str, str], *emails: str) -> None:
    async with app_client(env) as client:
        for email in emails:
            response = await client.post("/signup", json={"email": email})
            assert (response.status_code, response.json()["status"]) == (202, "accepted")


async def test_a_suppression_outlives_two_rotations_and_the_old_keys(db, env):
    held = {**env, "SIGNUP_SUPPRESSION_KEY": HELD}
    erased, never_signed, forgotten, kept = (
        address(n) for n in ("erased", "never", "forgotten", "kept")
    )
    # Given an address suppressed then erased, one the operator suppressed before it ever
    # signed up, one erased without a suppression, and a subscriber, all under the first key
    await _sign_up(held, erased, forgotten, kept)
    assert signupctl(held, "suppress", erased, never_signed).returncode == 0
    assert signupctl(held, "erase", erased, forgotten).returncode == 0
    # When the blind-index key is rotated twice, as the runbook says, and the old keys dropped
    rotate(on(held, K2, BLIND_INDEX_KEY))
    rotate(on(held, K3, K2))
    last = on(held, K3)
    check = signupctl(last, "rotate-blind-index", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    # And every address signs up again through a process that knows only the newest key
    await _sign_up(last, erased, never_signed, forgotten, kept)
    # Then the two suppressed addresses are suppressed, nothing queued for them
    for email in (erased, never_signed):
        assert [dict(r) async for r in fixtures().statuses(db, email_index=idx(K3, email))] == [
            {"list_name": "newsletter", "status": "suppressed"}
        ]
        assert await fixtures().queued_for(db, email_index=idx(K3, email)) == 0
    # And the erased address never suppressed may sign up again: a confirmation is queued
    assert await fixtures().queued_for(db, email_index=idx(K3, forgotten)) == 1
    # And the subscriber's one row moved with both rotations (its first mail, no second yet)
    assert dict(await fixtures().filed_under(db, email_index=idx(K3, kept))) == {
        "subscriptions": 1,
        "suppressions": 0,
        "events": 0,
    }


async def test_the_sender_refuses_a_suppressed_address_after_the_keys_are_dropped(
    db, env, scratch, smtp_server
):
    from tests.conftest import Worker
    from tests.integration.test_flow import to

    held = {**env, "SIGNUP_SUPPRESSION_KEY": HELD}
    suppressed, fresh = address("bounced"), address("fresh")
    assert signupctl(held, "suppress", "--reason", "hard_bounce", suppressed).returncode == 0
    rotate(on(held, K2, BLIND_INDEX_KEY))
    rotate(on(held, K3, K2))
    last = on(held, K3)
    # Given a pending row for the suppressed address, its stored index a stale one (the first
    # key's), with a confirmation queued: the sender must not trust the row's index or status
    for email in (suppressed, fresh):
        await _store_under(db, BLIND_INDEX_KEY, email, index_key=K3)
    # When a worker on the newest key alone sends what is queued
    worker = Worker(last, scratch / f"worker-held-{uuid.uuid4().hex[:6]}.log")
    try:
        worker.wait_ready()
        smtp_server.wait_for(to(fresh), timeout=20)
    finally:
        worker.stop()
    # Then the suppressed address got nothing: the worker checked the address itself
    assert not [m for m in smtp_server.messages if to(suppressed)(m)]


async def test_without_a_suppression_key_a_key_still_holding_suppressions_cannot_be_dropped(
    db, env
):
    # Given, with no SIGNUP_SUPPRESSION_KEY, an address suppressed then erased (its entry has
    # no address to be recomputed from) and a rotation done
    erased = address("erased")
    await store_signup(db, erased)
    assert signupctl(env, "suppress", erased).returncode == 0
    assert signupctl(env, "erase", erased).returncode == 0
    rotate(on(env, K2, BLIND_INDEX_KEY))
    # When the old key is dropped, every process refuses to start rather than let it lapse
    dropped = on(env, K2)
    with pytest.raises(KeyMismatch, match=fingerprint(BLIND_INDEX_KEY.encode())):
        async with app_client(dropped):
            pass
    refused = signupctl(dropped, "suppress", address("other"))
    assert refused.returncode == 1 and "SIGNUP_SUPPRESSION_KEY" in refused.stderr
    # And set as the suppression key, the old key keeps the entry: a new signup is suppressed
    fixed = {**dropped, "SIGNUP_SUPPRESSION_KEY": BLIND_INDEX_KEY}
    await _sign_up(fixed, erased)
    assert [dict(r) async for r in fixtures().statuses(db, email_index=idx(K2, erased))] == [
        {"list_name": "newsletter", "status": "suppressed"}
    ]
    assert await fixtures().queued_for(db, email_index=idx(K2, erased)) == 0


async def test_a_process_on_an_older_key_is_refused_at_start_and_on_write(db, env):
    email = address("late")
    # Given a process on the old key running, and then one on the new key started
    async with app_client(env) as old:
        async with app_client(on(env, K2, BLIND_INDEX_KEY)):
            assert await fixtures().current_index_key(db) == fingerprint(K2.encode())
        # When the old one is asked to write (a signup, a webhook)
        response = await old.post("/signup", json={"email": email})
        # Then it refuses (503, try again: the load balancer finds a pod on the new key)
        assert response.status_code == 503 and response.headers["retry-after"]
    assert dict(await fixtures().filed_under(db, email_index=idx(BLIND_INDEX_KEY, email))) == {
        "subscriptions": 0,
        "suppressions": 0,
        "events": 0,
    }
    # And a process started on the old key alone refuses to start at all
    with pytest.raises(KeyMismatch, match="current blind-index key"):
        async with app_client(env):
            pass
    assert signupctl(env, "suppress", email).returncode == 1


async def test_the_rotation_merges_a_duplicate_pair_and_completes(db, env):
    confirmed, pending = address("dup"), address("dup2")
    # Given an address with a row on one list under each of two keys: a confirmed one under
    # the first, and a pending duplicate under the second (written by a process on the old
    # key while another was on the new); and an ordinary pair for the second address
    await store_signup(db, confirmed)
    await db.execute(
        "UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() "
        "WHERE email_index = $1",
        idx(BLIND_INDEX_KEY, confirmed),
    )
    await store_signup(db, pending)
    for email in (confirmed, pending):
        await _store_under(db, K2, email)
    # When the next rotation runs (every row to the third key), twice
    first = rotate(on(env, K3, K2))
    again = rotate(on(env, K3, K2))
    # Then it completes: one row each, the confirmed one kept, nothing under an older key
    assert "merged 2 duplicate row(s)" in first
    assert "still under an older key: 0 subscription(s)" in again
    for email, status in ((confirmed, "confirmed"), (pending, "pending")):
        assert [dict(r) async for r in fixtures().statuses(db, email_index=idx(K3, email))] == [
            {"list_name": "newsletter", "status": status}
        ]


async def _store_under(db, key: str, email: str, index_key: str | None = None) -> None:
    """A row filed under `key`'s index, recorded (and guarded) as made with `index_key`."""
    await store_signup(db, email, key=key, index_key=index_key)


@pytest.mark.parametrize("suppression_key", [HELD, None])
async def test_the_consent_ip_hash_can_be_checked_after_a_rotation(db, env, suppression_key):
    given = {**env, "SIGNUP_SUPPRESSION_KEY": suppression_key} if suppression_key else env
    email = address("consent")
    # Given a signup from a known IP (the test client's), recorded under the first key
    await _sign_up(given, email)
    # When the blind-index key is rotated
    rotate(on(given, K2, BLIND_INDEX_KEY))
    row = await fixtures().consent_of(db, email_index=idx(K2, email))
    # Then a process on the new key (and the previous one, as during the rotation) checks it
    previous = suppression_key.encode() if suppression_key else None
    keys = IndexKeys(K2.encode(), BLIND_INDEX_KEY.encode(), previous)
    ip_hash, key_id = bytes(row["consent_ip_hash"]), row["consent_ip_key"]
    assert keys.consent_ip_matches("203.0.113.7", ip_hash, key_id) is True
    assert keys.consent_ip_matches("203.0.113.8", ip_hash, key_id) is False
    # And with a suppression key, it stays checkable once the old blind-index key is gone
    if suppression_key:
        after = IndexKeys(K3.encode(), None, suppression_key.encode())
        assert after.consent_ip_matches("203.0.113.7", ip_hash, key_id) is True
        assert ip_hash == hash_ip(derived_ip_key(suppression_key.encode()), "203.0.113.7")
    else:
        assert IndexKeys(K3.encode()).consent_ip_matches("203.0.113.7", ip_hash, key_id) is None


async def test_doctor_counts_suppressions_under_the_suppression_key_as_filed(db, env):
    from signup_core.diagnosis import stores
    from signup_core.settings import load_settings

    held = {**env, "SIGNUP_SUPPRESSION_KEY": HELD}
    # Given an address suppressed under the suppression key, and the blind-index key rotated
    assert signupctl(held, "suppress", address("held")).returncode == 0
    rotate(on(held, K2, BLIND_INDEX_KEY))
    # When signupctl doctor checks the blind index with only the new key
    found = {r.name: r for r in await stores.check(load_settings(on(held, K2)))}
    # Then the entry is where it belongs: not a row under an unknown key
    assert found["blind-index"].status == "pass", found["blind-index"].detail
