"""Postmark's batch endpoint: rows delivered at the same moment share one call, each row
keeping its own outcome (sent, refused and suppressed, kept for a retry) from its own result
in the answer; an answer about the whole call is each row's, and one refusing the call is
retried message by message. Postmark's answers (respx) follow its documentation: the batch
endpoint answers 200 with one result a message, in order, even when some are refused."""

from __future__ import annotations

import asyncio
import gc
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
ROWS = 4


class Together:
    """The Postmark transport, entered by every row at once: rows that reach their send at
    different moments (each after its own database round trips) would be sent alone, as an
    idle worker sends them; the benchmark's loaded worker is where they meet by themselves."""

    def __init__(self, transport: PostmarkTransport, rows: int) -> None:
        self._transport = transport
        self._waiting = rows
        self._all_here = asyncio.Event()

    async def send(self, message) -> None:
        # An event, not a barrier: setting it wakes every waiting row in the same turn (a
        # barrier's condition wakes them one after another, a few turns each).
        self._waiting -= 1
        if self._waiting == 0:
            self._all_here.set()
        await self._all_here.wait()
        await self._transport.send(message)

    async def close(self) -> None:
        await self._transport.close()


@pytest.fixture
async def loose():
    """What the loop reported as never handled (a future's exception nobody retrieved)."""
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    yield reported
    gc.collect()  # an unretrieved exception is reported when its future is collected
    loop.set_exception_handler(None)
    assert reported == []


@pytest.fixture
async def queued(env, db, loose):
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


def _result(to: str, code: int) -> dict:
    """One message's result in Postmark's documented batch answer."""
    if code == 0:
        return {"ErrorCode": 0, "Message": "OK", "MessageID": str(uuid.uuid4()), "To": to}
    return {"ErrorCode": code, "Message": f"refused {code}", "To": to}


async def _state(db, email: str) -> tuple[str, str | None, bool, int]:
    """(subscription status, the outbox row's failure, sent, tokens stored)."""
    [row] = await outbox(db, email)
    status = (await rows(db, email))[0]["status"]
    tokens = [t async for t in inspect().tokens_for(db, email_index=index(email))]
    return status, row["failure"], row["sent_at"] is not None, len(tokens)


# Each row's own result, all different, so a result given to the wrong row shows: accepted; an
# inactive recipient (refused for good, suppressed); a message refused (failed, not
# suppressed); our sender signature pending (ours to fix: kept for a retry).
CODES = [0, 406, 402, 412]


async def test_rows_at_the_same_moment_share_one_call_and_keep_their_own_outcomes(queued, db):
    opened, ids, emails = queued
    code_for = dict(zip(emails, CODES, strict=True))

    def answer(request: httpx.Request) -> httpx.Response:
        results = []
        for to in _recipients(request):
            [email] = [e for e in emails if f"<{e}>" in to]
            results.append(_result(to, code_for[email]))
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
    assert outcomes[:3] == ["sent", "refused", "refused"]
    assert isinstance(outcomes[3], TransientMailError)
    assert [await _state(db, email) for email in emails] == [
        ("pending", None, True, 1),
        ("suppressed", "postmark 422/406", False, 0),
        ("pending", "postmark 422/402", False, 0),
        ("pending", None, False, 0),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(429),
        httpx.Response(401, json={"ErrorCode": 10, "Message": "bad token"}),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "429", "401", "connect-error"],
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
        assert await _state(db, email) == ("pending", None, False, 0)


async def test_a_call_refused_whole_is_sent_message_by_message_each_with_its_verdict(queued, db):
    opened, ids, emails = queued
    refused = emails[2]

    def alone(request: httpx.Request) -> httpx.Response:
        if f"<{refused}>" in json.loads(request.content)["To"]:
            return httpx.Response(422, json={"ErrorCode": 406, "Message": "inactive"})
        return httpx.Response(200, json={"ErrorCode": 0, "MessageID": "x"})

    with respx.mock() as mock:
        batch = mock.post(BATCH).respond(422, json={"ErrorCode": 402, "Message": "bad JSON"})
        single = mock.post(API).mock(side_effect=alone)
        outcomes = await _deliver_all(opened, ids)
    assert batch.call_count == 1 and single.call_count == ROWS
    assert outcomes == ["sent", "sent", "refused", "sent"]
    assert (await _state(db, refused))[:2] == ("suppressed", "postmark 422/406")
    for email in emails[:2] + emails[3:]:
        assert await _state(db, email) == ("pending", None, True, 1)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(200, text="<html>ok</html>"), httpx.Response(200, json=[{"ErrorCode": 0}])],
    ids=["not-json", "too-few-results"],
)
async def test_an_accepted_call_whose_answer_is_unreadable_is_not_sent_twice(queued, db, answer):
    opened, ids, emails = queued
    with respx.mock(assert_all_called=False) as mock:
        batch = mock.post(BATCH).mock(return_value=answer)
        single = mock.post(API).respond(200, json={"ErrorCode": 0})
        outcomes = await _deliver_all(opened, ids)
    assert batch.call_count == 1 and not single.called
    assert outcomes == ["sent"] * ROWS
    for email in emails:
        assert await _state(db, email) == ("pending", None, True, 1)


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


class Post:
    """The coalescer's post: records each call, answers when let go, and as `answer` says."""

    def __init__(self, answer=None) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()
        self.calls: list[tuple[str, list[str]]] = []
        self._answer = answer

    async def __call__(self, url: str, body) -> httpx.Response:
        sent = [m["To"] for m in body] if url == BATCH else [body["To"]]
        self.calls.append((url, sent))
        self.started.set()
        await self.go.wait()
        if self._answer is not None:
            return self._answer(url, sent)
        if url == BATCH:
            return httpx.Response(200, json=[{"ErrorCode": 0}] * len(body))
        return httpx.Response(200, json={"ErrorCode": 0})


def _calls(coalescer: Coalescer, *to: str) -> list[asyncio.Task]:
    return [asyncio.ensure_future(coalescer({"To": t})) for t in to]


async def test_a_row_cancelled_while_waiting_is_left_out_of_the_call(loose):
    post = Post()
    post.go.set()
    coalescer = Coalescer(post)
    a, b, c = _calls(coalescer, "a", "b", "c")
    await asyncio.sleep(0)  # all three wait for the call
    b.cancel()
    assert await asyncio.gather(a, c) == [0, 0]
    assert post.calls == [(BATCH, ["a", "c"])]


async def test_a_row_cancelled_during_the_call_leaves_the_others_their_results(loose):
    post = Post()
    coalescer = Coalescer(post)
    a, b, c = _calls(coalescer, "a", "b", "c")
    await asyncio.wait_for(post.started.wait(), 5)
    a.cancel()  # the row whose send started the call
    post.go.set()
    assert await asyncio.wait_for(asyncio.gather(b, c), 5) == [0, 0]
    assert post.calls == [(BATCH, ["a", "b", "c"])]


async def test_the_loop_closing_fails_every_waiting_row_for_a_retry(loose):
    post = Post()
    coalescer = Coalescer(post)
    calls = _calls(coalescer, "a", "b")
    await asyncio.wait_for(post.started.wait(), 5)
    [sender] = coalescer._tasks
    sender.cancel()
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    assert all(isinstance(r, TransientMailError) for r in results), results
    post.go.set()  # and the next send is not stuck behind the abandoned one
    [alone] = _calls(coalescer, "d")
    assert (await asyncio.wait_for(alone, 5)).status_code == 200


async def test_a_fault_in_one_mail_sent_alone_is_that_rows_only(loose):
    def answer(url: str, sent: list[str]) -> httpx.Response:
        if url == BATCH:
            return httpx.Response(422, json={"ErrorCode": 402})
        if sent == ["b"]:
            raise RuntimeError("a fault of ours")
        return httpx.Response(200, json={"ErrorCode": 0})

    post = Post(answer)
    post.go.set()
    coalescer = Coalescer(post)
    results = await asyncio.gather(*_calls(coalescer, "a", "b", "c"), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["Response", "RuntimeError", "Response"]


@pytest.mark.parametrize("status", [202, 204])
async def test_another_success_to_the_call_is_each_rows_answer_not_a_resend(loose, status):
    post = Post(lambda url, sent: httpx.Response(status))
    post.go.set()
    coalescer = Coalescer(post)
    results = await asyncio.gather(*_calls(coalescer, "a", "b"))
    assert [r.status_code for r in results] == [status, status]
    assert post.calls == [(BATCH, ["a", "b"])]


async def test_sends_beyond_postmarks_most_go_in_several_calls(monkeypatch, loose):
    monkeypatch.setattr(postmark, "MOST", 2)
    post = Post()
    post.go.set()
    coalescer = Coalescer(post)
    results = await asyncio.gather(*_calls(coalescer, *"abcde"))
    assert results[:4] == [0] * 4 and results[4].status_code == 200
    assert post.calls == [(BATCH, ["a", "b"]), (BATCH, ["c", "d"]), (API, ["e"])]
