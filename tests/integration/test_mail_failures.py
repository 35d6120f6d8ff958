"""The worker against an SMTP server that defers or refuses: retry, give up, never resend."""

from __future__ import annotations

import asyncio
import uuid

from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox, rows
from tests.support import eventually, inspect


def address() -> str:
    return f"fail-{uuid.uuid4().hex[:10]}@example.com"


async def test_deferral_is_retried_until_it_is_accepted(client, db, worker, smtp_server):
    smtp_server.next_replies = ["451 4.3.0 try again later", "421 4.7.0 busy"]
    email = address()
    await client.post("/signup", json={"email": email})
    smtp_server.wait_for(to(email), timeout=15)
    assert smtp_server.attempts == 3
    [row] = await eventually(lambda: _sent(db, email))
    assert row["failed_at"] is None


async def test_permanent_refusal_is_recorded_and_not_retried(client, db, worker, smtp_server):
    smtp_server.reply = "550 5.1.1 no such mailbox"
    email = address()
    await client.post("/signup", json={"email": email})
    [row] = await eventually(lambda: _failed(db, email))
    assert row["failure"] == "smtp 550" and row["sent_at"] is None
    # The token's hash is stored only with a sent mail: no link exists, so no token does.
    assert [t async for t in inspect().tokens_for(db, email_index=index(email))] == []
    await asyncio.sleep(1.5)  # longer than the retry backoff and several relay polls
    assert smtp_server.attempts == 1


async def test_deferral_past_the_retry_cap_is_dead_lettered(client, db, worker, smtp_server):
    smtp_server.reply = "450 4.2.1 mailbox busy"
    email = address()
    await client.post("/signup", json={"email": email})
    [row] = await eventually(lambda: _failed(db, email), timeout=20)
    assert row["failure"] == "gave up"
    attempts = smtp_server.attempts
    assert attempts == 1 + 3  # first try plus SIGNUP_MAIL_MAX_RETRIES
    await asyncio.sleep(1.5)
    assert smtp_server.attempts == attempts
    assert "dead-lettered" in worker.log()


async def test_relay_refusing_our_sender_keeps_the_mail_for_retries(
    client, db, worker, smtp_server
):
    # Given a relay that refuses our sender: our configuration, not the recipient's
    smtp_server.mail_reply = "550 5.7.1 sender not allowed"
    email = address()
    await client.post("/signup", json={"email": email})

    # Then the mail is retried, dead-lettered after the retries, and the address kept
    [row] = await eventually(lambda: _failed(db, email), timeout=20)
    assert row["failure"] == "gave up"
    assert (await rows(db, email))[0]["status"] == "pending"
    assert '"failure": "smtp sender 550"' in worker.log()

    # And once the relay takes our sender again, a new signup is delivered
    smtp_server.mail_reply = None
    await client.post("/signup", json={"email": address()})
    await eventually(lambda: smtp_server.messages)


async def test_a_burst_with_idn_and_refused_addresses_delivers_every_accepted_one(
    client, db, worker, smtp_server
):
    # Given a burst of signups, one on an IDN domain and one the relay could never take
    accepted = [address() for _ in range(11)] + [f"leser-{uuid.uuid4().hex[:6]}@bücher.de"]
    refused = f"jürgen-{uuid.uuid4().hex[:6]}@example.com"
    answers = await asyncio.gather(
        *(
            client.post("/signup", json={"email": e})
            for e in [*accepted[:6], refused, *accepted[6:]]
        )
    )

    # Then the one we cannot deliver is refused at signup, and every other gets its mail
    assert sorted(a.status_code for a in answers) == [202] * 12 + [400]
    for email in accepted[:-1]:
        smtp_server.wait_for(to(email), timeout=15)
    idn = accepted[-1].replace("bücher.de", "xn--bcher-kva.de")
    smtp_server.wait_for(to(idn), timeout=15)
    assert idn in smtp_server.recipients
    for email in accepted:
        [row] = await eventually(lambda e=email: _sent(db, e))
        assert row["failed_at"] is None


async def test_suppressed_address_is_never_mailed(client, db, worker, smtp_server):
    from tests.integration.test_signup import index
    from tests.support import inspect

    # Given a confirmation that the mail server keeps deferring
    smtp_server.reply = "451 4.3.0 hold on"
    email = address()
    await client.post("/signup", json={"email": email})
    await eventually(lambda: smtp_server.attempts >= 1)

    # When the address is suppressed before the retry
    await inspect().set_status(db, email_index=index(email), status="suppressed")

    # Then the retry gives up without mailing, and a new signup queues nothing
    [row] = await eventually(lambda: _failed(db, email), timeout=15)
    assert row["failure"] == "status suppressed"
    attempts = smtp_server.attempts
    smtp_server.reply = None
    assert (await client.post("/signup", json={"email": email})).status_code == 202
    await asyncio.sleep(1.0)
    assert smtp_server.attempts == attempts
    assert not [m for m in smtp_server.messages if to(email)(m)]
    assert len(await outbox(db, email)) == 1


async def _sent(db, email):
    return [r for r in await outbox(db, email) if r["sent_at"] is not None]


async def _failed(db, email):
    return [r for r in await outbox(db, email) if r["failed_at"] is not None]


async def test_one_deferred_row_does_not_resend_the_rest_of_its_chunk(db, worker, smtp_server):
    from signup_core import db as core_db
    from signup_core import sealing
    from tests.integration.test_signup import index

    # Given two rows committed together, so one relay pass puts them in one message
    addresses = [address(), address()]
    async with db.transaction():
        for email in addresses:
            await core_db.queries().upsert_signup(
                db,
                list_name="newsletter",
                email_index=index(email),
                email_sealed=sealing.seal(email),
                name_sealed=None,
                locale="en",
                form_version="1",
                ip_hash=None,
                resend_window=600.0,
                reveal_existing=False,
                traceparent=None,
            )
    # When the first delivery attempt is deferred
    smtp_server.next_replies = ["451 4.3.0 try again later"]

    # Then both arrive, each exactly once
    for email in addresses:
        smtp_server.wait_for(to(email), timeout=15)
    await asyncio.sleep(1.0)
    for email in addresses:
        assert len([m for m in smtp_server.messages if to(email)(m)]) == 1
    assert smtp_server.attempts == 3


async def test_a_deferral_is_one_warning_line_and_no_traceback(client, db, worker, smtp_server):
    import json

    # Given a relay that defers the next mail once
    seen = len(worker.log())
    smtp_server.next_replies = ["451 4.3.0 try again later"]
    email = address()
    # When the worker retries it and it goes through
    await client.post("/signup", json={"email": email})
    smtp_server.wait_for(to(email), timeout=15)
    # Then the retry is one warning line with its reason, and nothing is logged as an error
    lines = [json.loads(line) for line in worker.log()[seen:].splitlines() if line.startswith("{")]
    retries = [line for line in lines if line["msg"] == "will retry"]
    assert [(r["level"], r["reason"]) for r in retries] == [("warning", "smtp 451")]
    assert [line for line in lines if line["level"] in ("error", "critical")] == []
    assert "Traceback" not in worker.log()[seen:]
