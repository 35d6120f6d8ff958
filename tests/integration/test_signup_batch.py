"""Concurrent signups share one statement (one transaction, one round trip), and each keeps its
own answer and its own failure: a row that breaks the statement fails only its own signup, the
same address twice in one turn is written twice in order, and the consent record, suppression
(under every key), the key guard and the outbox row are what one signup alone would get."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter

import asyncpg
import pytest

from signup_api.signup_batch import SignupBatcher, SignupRow, fixed, upsert
from signup_api.turn_batch import SEND_AT, SenderCancelled
from signup_core import consent, i18n, key_registry
from signup_core import db as core_db
from signup_core.addresses import blind_index
from signup_core.index_keys import IndexKeys, StaleIndexKey, fingerprint
from signup_core.settings import load_settings
from tests.support import BLIND_INDEX_KEY, app_client, empty_tables, inspect, seal_params

KIT = "https://blog.example.net"
K2 = "test-blind-index-key-TWO-0123456789abcdef"
HELD = "test-suppression-key-0123456789abcdefghij"


@pytest.fixture(autouse=True)
async def _leave_no_keys_behind(db):
    """Keys registered and suppressions filed under this module's keys would stop the next
    process starting on the test key: the tables are emptied after each test too."""
    yield
    await empty_tables(db)


def _row(email: str, **changes) -> SignupRow:
    sealed = seal_params(email)
    index = blind_index(BLIND_INDEX_KEY.encode(), email)
    fields = {
        "list_name": "newsletter",
        "email_index": index,
        "held_index": index,
        "email_sealed": sealed["email_sealed"],
        "name_sealed": None,
        "locale": "en",
        **changes,
    }
    return SignupRow(**fields)


def _address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
async def batcher(settings, db):
    pool = await core_db.create_pool(settings)
    yield SignupBatcher(pool, fixed(settings))
    await pool.close()


async def _subscription(db, email: str):
    """The address's row with its consent record, and the transaction that wrote it."""
    index = blind_index(BLIND_INDEX_KEY.encode(), email)
    return await inspect().written_row(db, email_index=index)


async def test_concurrent_signups_through_the_api_are_one_transaction(client, db):
    addresses = [f"together-{i}@example.com" for i in range(SEND_AT)]
    answers = await asyncio.gather(*(client.post("/signup", json={"email": a}) for a in addresses))
    assert [a.status_code for a in answers] == [202] * SEND_AT
    written = await inspect().signup_write_transactions(db)
    assert written["rows"] == SEND_AT
    # Alone, each signup is its own transaction (16); together they share one statement, two
    # if the requests reached the limiter in two turns.
    assert written["transactions"] <= 2
    assert (await inspect().count_rows(db))["outbox"] == SEND_AT  # each its own confirmation


async def test_every_row_of_one_batch_keeps_its_own_consent_record(db, env):
    kit_env = {**env, "SIGNUP_CORS_ORIGINS": KIT}
    settings = load_settings(kit_env)
    # Given signups arriving together, from our own page and from the kit, in two languages
    people = [(_address(f"c{i}"), "de" if i % 2 else "en", i % 3 == 0) for i in range(9)]
    async with app_client(kit_env) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/signup",
                    json={"email": email, "locale": locale},
                    headers={"origin": KIT} if from_kit else {},
                )
                for email, locale, from_kit in people
            )
        )
    assert [a.status_code for a in answers] == [202] * len(people)
    # Then they were written by one statement, and each row says its own source, origin and
    # wording, with the IP hash and the key it was made with
    ip_hash, key_id = consent.hash_ip(settings, "203.0.113.7")
    rows = [await _subscription(db, email) for email, _, _ in people]
    assert len({r["writer"] for r in rows}) == 1
    for row, (_, locale, from_kit) in zip(rows, people, strict=True):
        wording = hashlib.sha256(i18n.catalogue(locale)["form.consent"].encode()).digest()
        assert (row["consent_source"], row["consent_origin"]) == (
            ("kit", KIT) if from_kit else ("landing", None)
        )
        assert (row["locale"], bytes(row["consent_wording_hash"])) == (locale, wording)
        assert (bytes(row["consent_ip_hash"]), row["consent_ip_key"]) == (ip_hash, key_id)
        assert row["consent_form_version"] == settings.form_version
        assert row["consent_at"] is not None and row["consent_actor"] is None


async def test_a_suppressed_address_in_a_batch_of_fresh_ones_answers_alike_and_is_not_mailed(
    db, env
):
    held_env = {**env, "SIGNUP_SUPPRESSION_KEY": HELD}
    fresh = [_address(f"fresh{i}") for i in range(6)]
    bounced = _address("bounced")
    # Given an address suppressed under the suppression key only (not its blind index)
    await core_db.queries().suppress_address(
        db,
        email_index=blind_index(BLIND_INDEX_KEY.encode(), bounced),
        held=blind_index(HELD.encode(), bounced),
        held_key=fingerprint(HELD.encode()),
        reason="bounce",
        provider="test",
        events=False,
    )
    async with app_client(held_env) as client:
        # When it signs up in the middle of a burst of fresh addresses
        emails = [*fresh[:3], bounced, *fresh[3:]]
        answers = await asyncio.gather(*(client.post("/signup", json={"email": e}) for e in emails))
    # Then it is answered exactly as they are
    assert {(a.status_code, a.content) for a in answers} == {(202, answers[0].content)}
    # And it was written in the same statement, suppressed, with no mail queued for it
    rows = {e: await _subscription(db, e) for e in emails}
    assert len({r["writer"] for r in rows.values()}) == 1
    assert rows[bounced]["status"] == "suppressed"
    assert all(rows[e]["status"] == "pending" for e in fresh)
    queued = inspect().outbox_for(db, email_index=blind_index(BLIND_INDEX_KEY.encode(), bounced))
    assert [o async for o in queued] == []
    assert (await inspect().count_rows(db))["outbox"] == len(fresh)


async def test_the_key_guard_refuses_a_whole_batch_with_503_and_writes_nothing(db, env):
    emails = [_address(f"late{i}") for i in range(8)]
    # Given a process on the old key running, and then one on a new key started
    async with app_client(env) as old:
        async with app_client({**env, "SIGNUP_BLIND_INDEX_KEY": K2,
                               "SIGNUP_BLIND_INDEX_KEY_PREVIOUS": BLIND_INDEX_KEY}):  # fmt: skip
            pass
        # When the old one gets a burst of signups that share one statement
        answers = await asyncio.gather(*(old.post("/signup", json={"email": e}) for e in emails))
    # Then every one of them is refused as one alone would be: 503, try again
    assert [a.status_code for a in answers] == [503] * len(emails)
    assert all(a.headers["retry-after"] for a in answers)
    assert {a.json()["type"] for a in answers} == {answers[0].json()["type"]}
    # And nothing of the batch was written
    counts = await inspect().count_rows(db)
    assert (counts["subscriptions"], counts["outbox"]) == (0, 0)


async def test_the_key_guard_fails_every_caller_of_a_batch_alike(batcher, db, settings):
    # Given a batcher whose process key is no longer the current one
    newer = IndexKeys(K2.encode(), previous=BLIND_INDEX_KEY.encode())
    await key_registry.register(batcher._pool, newer)
    rows = [_row(_address(f"stale{i}")) for i in range(4)]
    answers = await asyncio.gather(*(batcher(r) for r in rows), return_exceptions=True)
    assert all(isinstance(a, StaleIndexKey) for a in answers)
    assert (await inspect().count_rows(db))["subscriptions"] == 0


async def test_the_key_guard_runs_once_for_a_whole_batch(db, settings):
    # Its shared lock and its read of the current key are paid once per statement, not per row
    rows = sorted((_row(_address(f"once{i}")) for i in range(20)), key=lambda r: r.email_index)
    await inspect().track_function_calls(db)
    async with db.transaction():
        written = await upsert(db, fixed(settings), rows)
        assert await inspect().key_guard_calls(db) == 1
    assert [r["status"] for r in written] == ["pending"] * 20
    assert all(r["outbox_id"] is not None for r in written)


async def test_a_row_that_breaks_the_statement_fails_only_its_own_caller(batcher, db):
    good = [_row(f"fine-{i}@example.com") for i in range(5)]
    broken = _row("broken@example.com", consent_source="bogus")  # CHECK: the statement fails
    answers = await asyncio.gather(
        *(batcher(r) for r in [*good[:2], broken, *good[2:]]), return_exceptions=True
    )
    assert answers[:2] + answers[3:] == ["pending"] * 5
    assert isinstance(answers[2], asyncpg.CheckViolationError)
    counts = await inspect().count_rows(db)
    assert (counts["subscriptions"], counts["outbox"]) == (5, 5)


async def test_the_same_address_twice_in_one_turn_is_written_twice_with_one_mail(batcher, db):
    twice = _row("twice@example.com")
    answers = await asyncio.gather(batcher(twice), batcher(twice), batcher(_row("o@example.com")))
    assert answers == ["pending", "pending", "pending"]
    subscriptions = inspect().subscriptions_by_index(db, email_index=twice.email_index)
    assert len([s async for s in subscriptions]) == 1
    outbox = inspect().outbox_for(db, email_index=twice.email_index)
    # The second is inside the resend window: no second mail.
    assert len([o async for o in outbox]) == 1


async def test_a_database_that_is_away_fails_every_caller_alike(batcher, settings):
    await batcher._pool.close()
    answers = await asyncio.gather(
        *(batcher(_row(f"away-{i}@example.com")) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(a, core_db.UNAVAILABLE) for a in answers)


async def test_a_full_batch_is_sent_at_once_and_the_rest_of_the_turn_after(batcher, db):
    emails = [_address(f"burst{i}") for i in range(SEND_AT + 4)]
    # Given more signups in one turn than a batch waits for
    answers = await asyncio.gather(*(batcher(_row(e)) for e in emails))
    assert answers == ["pending"] * len(emails)
    # Then the first SEND_AT went out as one statement as soon as they were waiting (not at
    # the end of the turn, with the rest), and the rest in one more
    writers = [(await _subscription(db, e))["writer"] for e in emails]
    assert sorted(Counter(writers).values()) == [4, SEND_AT]
    assert Counter(writers[:SEND_AT]) == {writers[0]: SEND_AT}


async def test_a_cancelled_sender_fails_its_batch_as_a_lost_connection_would(batcher, db):
    emails = [_address(f"cut{i}") for i in range(SEND_AT)]
    async with db.transaction():
        # Given the statement held up (the key guard's lock taken exclusively)
        await inspect().block_signup_writes(db)
        calls = [asyncio.ensure_future(batcher(_row(e))) for e in emails]
        await asyncio.sleep(0.3)
        assert not any(c.done() for c in calls)
        # When the caller that filled the batch, and so sent it, is cancelled
        calls[-1].cancel()
        answers = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    # Then it leaves cancelled, and every other caller gets what a lost connection gives (a
    # 503 for a signup), not a cancellation that is not theirs
    assert isinstance(answers[-1], asyncio.CancelledError)
    assert all(isinstance(a, SenderCancelled) for a in answers[:-1])
    assert all(isinstance(a, core_db.UNAVAILABLE) for a in answers[:-1])
    # And the statement was called off: nothing written, and the pool goes on
    assert (await inspect().count_rows(db))["subscriptions"] == 0
    assert await batcher(_row(_address("after"))) == "pending"
