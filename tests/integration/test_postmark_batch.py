"""Postmark's batch endpoint: rows delivered at the same moment share one call, each row
keeping its own outcome (sent, refused and suppressed, kept for a retry) from its own result
in the answer; an answer about the whole call is each row's, and one refusing the call is
retried message by message. Postmark's answers (respx) follow its documentation: the batch
endpoint answers 200 with one result a message, in order, even when some are refused."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import respx

from signup_core import db as core_db
from signup_core.mail import postmark
from signup_core.mail.failures import TransientMailError
from signup_core.mail.postmark import API, Coalescer, PostmarkTransport
from signup_core.settings import load_settings
from signup_worker import mailer
from signup_worker.resources import Opened
from tests.integration.test_signup import index, outbox, rows
from tests.integration.test_transports import confirmation
from tests.support import inspect, store_signup

BATCH = f"{API}/batch"
ROWS = 3


class Together:
    """The Postmark transport, entered by every row at once: rows that reach their send at
    different moments (each after its own database round trips) would be sent alone, as an
    idle worker sends them; the benchmark's loaded worker is where they meet by themselves."""

    def __init__(self, transport: PostmarkTransport, rows: int) -> None:
        self._transport = transport
        self._barrier = asyncio.Barrier(rows)

    async def send(self, message) -> None:
        await self._barrier.wait()
        await self._transport.send(message)

    async def close(self) -> None:
        await self._transport.close()


@pytest.fixture
async def queued(env, db):
    """The worker's resources on the Postmark transport, and ROWS confirmations queued for it
    (created already relayed, so the session worker leaves them)."""
    settings = load_settings(
        {**env, "SIGNUP_MAIL_TRANSPORT": "postmark", "SIGNUP_POSTMARK_SERVER_TOKEN": "pm-token"}
    )
    emails = [f"pmb-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in range(ROWS)]
    ids = []
    async with db.transaction():
        for email in emails:
            ids.append((await store_signup(db, email, name="Pat"))["outbox_id"])
            await inspect().mark_relayed(db, email_index=index(email))
    pool = await core_db.create_pool(settings, max_size=ROWS + 1)
    async with httpx.AsyncClient() as http:
        transport = Together(PostmarkTransport(settings, http), ROWS)
        yield Opened(settings, pool, transport, http), ids, emails
    await pool.close()


async def _deliver_all(opened: Opened, ids: list[int]) -> list:
    return await asyncio.gather(*(mailer.deliver(opened, i) for i in ids), return_exceptions=True)


def _recipients(request: httpx.Request) -> list[str]:
    return [m["To"] for m in json.loads(request.content)]


async def test_rows_at_the_same_moment_share_one_call_and_keep_their_own_outcomes(queued, db):
    opened, ids, emails = queued
    refused = emails[1]

    def answer(request: httpx.Request) -> httpx.Response:
        # Postmark's documented per-message results; 406: an inactive recipient.
        results = [
            {"ErrorCode": 406, "Message": "inactive", "To": to}
            if refused in to
            else {"ErrorCode": 0, "Message": "OK", "MessageID": str(uuid.uuid4()), "To": to}
            for to in _recipients(request)
        ]
        return httpx.Response(200, json=results)

    with respx.mock(assert_all_called=False) as mock:
        batch = mock.post(BATCH).mock(side_effect=answer)
        single = mock.post(API).respond(200, json={"ErrorCode": 0})
        outcomes = await _deliver_all(opened, ids)
    assert batch.call_count == 1 and not single.called
    assert sorted(_recipients(batch.calls.last.request)) == sorted(
        f'"Pat" <{email}>' for email in emails
    )
    assert batch.calls.last.request.headers["X-Postmark-Server-Token"] == "pm-token"
    assert sorted(outcomes) == ["refused", "sent", "sent"]
    for email in emails:
        [row] = await outbox(db, email)
        status = (await rows(db, email))[0]["status"]
        tokens = [t async for t in inspect().tokens_for(db, email_index=index(email))]
        if email == refused:
            assert row["failure"] == "postmark 422/406" and status == "suppressed"
            assert tokens == []
        else:
            assert row["sent_at"] is not None and status == "pending" and len(tokens) == 1


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(500), httpx.Response(429), httpx.ConnectError("refused")],
    ids=["500", "429", "connect-error"],
)
async def test_an_answer_about_the_whole_call_keeps_every_row_for_a_retry(queued, db, answer):
    opened, ids, emails = queued
    with respx.mock(assert_all_called=False) as mock:
        batch = mock.post(BATCH)
        if isinstance(answer, Exception):
            batch.mock(side_effect=answer)
        else:
            batch.mock(return_value=answer)
        single = mock.post(API).respond(200, json={"ErrorCode": 0})
        outcomes = await _deliver_all(opened, ids)
    assert batch.call_count == 1 and not single.called
    assert all(isinstance(o, TransientMailError) for o in outcomes), outcomes
    for email in emails:
        [row] = await outbox(db, email)
        assert row["sent_at"] is None and row["failed_at"] is None


async def test_a_call_refused_whole_is_sent_again_message_by_message(queued, db):
    opened, ids, emails = queued
    with respx.mock(assert_all_called=False) as mock:
        batch = mock.post(BATCH).respond(422, json={"ErrorCode": 402, "Message": "bad JSON"})
        single = mock.post(API).respond(200, json={"ErrorCode": 0, "MessageID": "x"})
        outcomes = await _deliver_all(opened, ids)
    assert batch.call_count == 1 and single.call_count == ROWS
    assert outcomes == ["sent"] * ROWS
    for email in emails:
        assert (await outbox(db, email))[0]["sent_at"] is not None


async def test_an_accepted_call_whose_answer_is_unreadable_is_not_sent_twice(queued, db):
    opened, ids, emails = queued
    with respx.mock(assert_all_called=False) as mock:
        batch = mock.post(BATCH).respond(200, text="<html>ok</html>")
        single = mock.post(API).respond(200, json={"ErrorCode": 0})
        outcomes = await _deliver_all(opened, ids)
    assert batch.call_count == 1 and not single.called
    assert outcomes == ["sent"] * ROWS
    for email in emails:
        assert (await outbox(db, email))[0]["sent_at"] is not None


async def test_one_row_alone_is_sent_to_the_single_message_endpoint(env):
    """An idle worker's send: no batch, and no clock time spent waiting for one."""
    settings = load_settings(
        {**env, "SIGNUP_MAIL_TRANSPORT": "postmark", "SIGNUP_POSTMARK_SERVER_TOKEN": "pm-token"}
    )
    async with httpx.AsyncClient() as http:
        transport = PostmarkTransport(settings, http)
        with respx.mock() as mock:
            single = mock.post(API).respond(200, json={"ErrorCode": 0})
            await transport.send(confirmation("one@example.com"))
    assert single.call_count == 1


class Held:
    """A post that answers only when let go: the leader's call in flight."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()
        self.calls: list[str] = []

    async def __call__(self, url: str, body) -> httpx.Response:
        self.calls.append(url)
        self.started.set()
        await self.go.wait()
        return httpx.Response(200, json=[{"ErrorCode": 0}] * len(body))


@pytest.mark.parametrize("when", ["waiting for others", "in flight"])
async def test_a_sender_cancelled_fails_its_batch_for_a_retry_and_nobody_waits(when):
    post = Held()
    coalescer = Coalescer(post)
    leader = asyncio.ensure_future(coalescer({"To": "a"}))
    others = [asyncio.ensure_future(coalescer({"To": t})) for t in "bc"]
    if when == "in flight":
        await asyncio.wait_for(post.started.wait(), 5)
    else:
        await asyncio.sleep(0)  # the others have joined; the leader still waits its turns
    leader.cancel()
    results = await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), 5)
    assert all(isinstance(r, TransientMailError) for r in results), results
    assert post.calls == ([BATCH] if when == "in flight" else [])
    # The next send is not stuck behind the abandoned one.
    post.go.set()
    alone = await asyncio.wait_for(coalescer({"To": "d"}), 5)
    assert alone.status_code == 200 and post.calls[-1] == API


async def test_sends_beyond_postmarks_most_go_in_several_calls(monkeypatch):
    monkeypatch.setattr(postmark, "MOST", 2)
    post = Held()
    post.go.set()
    coalescer = Coalescer(post)
    results = await asyncio.gather(*(coalescer({"To": str(n)}) for n in range(5)))
    assert results[:4] == [0] * 4 and results[4].status_code == 200
    assert post.calls == [BATCH, BATCH, API]
