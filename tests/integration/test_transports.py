"""Transports: Postmark's API (respx) through the real mailer, an SMTP server that refuses
the recipient, which suppresses the address, and addresses beyond ASCII: IDNA domains and
local parts that only SMTPUTF8 carries."""

from __future__ import annotations

import asyncio
import uuid
from email.utils import parseaddr

import httpx
import pytest
import respx

from devstack import mailcatcher
from devstack.processes import free_port
from signup_core import db as core_db
from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.postmark import API, PostmarkTransport
from signup_core.mail.render import Envelope, render
from signup_core.mail.smtp_transport import SmtpTransport
from signup_core.settings import load_settings
from signup_worker import mailer
from signup_worker.resources import Opened
from tests.integration.test_mail_failures import _failed
from tests.integration.test_signup import index, outbox, rows
from tests.support import eventually, inspect, store_signup


def person() -> str:
    return f"pm-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
async def postmark(env, db):
    """The mailer wired to the Postmark transport, and one queued confirmation for it,
    created already marked relayed (in one transaction) so the session worker leaves it."""
    settings = load_settings(
        {
            **env,
            "SIGNUP_MAIL_TRANSPORT": "postmark",
            "SIGNUP_POSTMARK_SERVER_TOKEN": "pm-server-token",
        }
    )
    email = person()
    async with db.transaction():
        row = await store_signup(db, email, name="Pat")
        await inspect().mark_relayed(db, email_index=index(email))
    pool = await core_db.create_pool(settings, max_size=2)
    async with httpx.AsyncClient() as http:
        opened = Opened(settings, pool, PostmarkTransport(settings, http), http)
        yield opened, row["outbox_id"], email
    await pool.close()


async def test_postmark_send(postmark, db):
    opened, outbox_id, email = postmark
    with respx.mock() as mock:
        route = mock.post(API).respond(200, json={"ErrorCode": 0, "MessageID": "x"})
        assert await mailer.deliver(opened, outbox_id) == "sent"
    sent = route.calls.last.request
    assert sent.headers["X-Postmark-Server-Token"] == "pm-server-token"
    body = httpx.Response(200, content=sent.content).json()
    assert email in body["To"] and "Pat" in body["To"]
    assert "/confirm?token=" in body["TextBody"] and "<a href=" in body["HtmlBody"]
    headers = {h["Name"]: h["Value"] for h in body["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (await outbox(db, email))[0]["sent_at"] is not None


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (httpx.Response(500), "TransientMailError"),
        (httpx.Response(429), "TransientMailError"),
        (httpx.Response(401, json={"ErrorCode": 10}), "TransientMailError"),
        # Our sender signature unconfirmed, our account pending: ours to fix, the mail is kept.
        (httpx.Response(422, json={"ErrorCode": 401}), "TransientMailError"),
        (httpx.Response(422, json={"ErrorCode": 412}), "TransientMailError"),
        (httpx.ConnectTimeout("slow"), "TransientMailError"),
    ],
)
async def test_postmark_transient_failures_roll_back_for_a_retry(postmark, db, answer, raised):
    opened, outbox_id, email = postmark
    with respx.mock() as mock:
        route = mock.post(API)
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        with pytest.raises(Exception) as caught:
            await mailer.deliver(opened, outbox_id)
    assert type(caught.value).__name__ == raised
    [row] = await outbox(db, email)
    assert row["sent_at"] is None and row["failed_at"] is None
    assert [t async for t in inspect().tokens_for(db, email_index=index(email))] == []


async def test_postmark_inactive_recipient_suppresses(postmark, db):
    opened, outbox_id, email = postmark
    with respx.mock() as mock:
        mock.post(API).respond(422, json={"ErrorCode": 406, "Message": "inactive"})
        assert await mailer.deliver(opened, outbox_id) == "refused"
    [row] = await outbox(db, email)
    assert row["failure"] == "postmark 422/406"
    assert (await rows(db, email))[0]["status"] == "suppressed"


async def test_postmark_refused_message_is_recorded_without_suppressing(postmark, db):
    opened, outbox_id, email = postmark
    with respx.mock() as mock:
        mock.post(API).respond(422, json={"ErrorCode": 402, "Message": "invalid JSON"})
        assert await mailer.deliver(opened, outbox_id) == "refused"
    assert (await rows(db, email))[0]["status"] == "pending"
    assert (await outbox(db, email))[0]["failed_at"] is not None


async def test_smtp_recipient_refusal_suppresses_and_is_not_retried(
    client, db, worker, smtp_server
):
    smtp_server.rcpt_reply = "550 5.1.1 no such mailbox"
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await eventually(lambda: _failed(db, email))
    assert row["failure"] == "smtp 550"
    await eventually(lambda: _status_is(db, email, "suppressed"))
    [why] = [r async for r in inspect().suppression(db, email_index=index(email))]
    assert why["suppression_reason"] == "refused"


async def _status_is(db, email, wanted) -> bool:
    return (await rows(db, email))[0]["status"] == wanted


def confirmation(to_address: str, name: str | None = "Jürgen") -> object:
    envelope = Envelope(
        to_address=to_address,
        to_name=name,
        sender="News <news@example.org>",
        reply_to=None,
        domain="example.org",
        unsubscribe_url="https://x/unsubscribe?token=u",
    )
    context = {"name": name, "list_name": "news", "confirm_url": "https://x/c", "ttl_hours": 48}
    return render("confirmation", "de", envelope, context)


@pytest.fixture
def utf8_relay():
    """A second catcher that offers SMTPUTF8, as a relay that takes such addresses does."""
    catcher = mailcatcher.Catcher()
    catcher.port = free_port()
    controller = mailcatcher.start(catcher.port, catcher, smtputf8=True)
    yield catcher
    controller.stop()


async def test_non_ascii_local_part_is_delivered_with_smtputf8(env, utf8_relay):
    settings = load_settings({**env, "SMTP_PORT": str(utf8_relay.port), "SIGNUP_SMTPUTF8": "true"})
    transport = SmtpTransport(settings)
    try:
        await transport.send(confirmation("jürgen@bücher.de"))
    finally:
        await transport.close()
    [mail] = utf8_relay.wait_for(lambda m: True)
    assert utf8_relay.recipients == ["jürgen@xn--bcher-kva.de"]
    [to] = mail["To"].addresses
    assert to.display_name == "Jürgen" and to.addr_spec == "jürgen@xn--bcher-kva.de"


async def test_relay_without_smtputf8_refuses_that_mail_only(settings, db, smtp_server):
    # SIGNUP_SMTPUTF8 says the relay takes it, but this one does not offer it (any more).
    transport = SmtpTransport(load_settings({**_env(settings), "SIGNUP_SMTPUTF8": "true"}))
    try:
        with pytest.raises(PermanentMailError) as caught:
            await transport.send(confirmation("jürgen@example.com"))
        assert str(caught.value) == "smtp relay lacks smtputf8"
        assert caught.value.recipient is False  # the message is refused, not the mailbox
        # The connection is still good for everybody else's mail.
        await transport.send(confirmation("ada@example.com", name="Ada"))
    finally:
        await transport.close()
    assert smtp_server.recipients == ["ada@example.com"]


@pytest.mark.parametrize(
    ("address", "failure"),
    [
        ("jürgen@example.com", "smtputf8 off"),  # a row from before signup refused it
        ("eve@\u2603\u0300.example", "unencodable address"),  # no IDNA 2008 form
        # An older row holding what would end the address in MAIL / RCPT and add its own
        # options or commands: never sent
        ("eve@example.com> NOTIFY=SUCCESS", "unencodable address"),
        ("eve@example.com>\r\nRCPT TO:<mallory@example.com", "unencodable address"),
        ("e ve@example.com", "unencodable address"),
    ],
)
async def test_what_cannot_be_encoded_fails_that_mail_permanently(
    settings, smtp_server, address, failure
):
    transport = SmtpTransport(settings)
    try:
        with pytest.raises(PermanentMailError) as caught:
            await transport.send(confirmation(address))
    finally:
        await transport.close()
    assert str(caught.value) == failure and caught.value.recipient is False
    assert address not in smtp_server.recipients


async def test_an_unusable_envelope_sender_keeps_the_mail_for_a_retry(settings, smtp_server):
    # Our own setting, wrong: every mail waits for the fix (retried, then dead-lettered)
    env = {**_env(settings), "SIGNUP_MAIL_FROM": 'News <"n ews"@example.com>'}
    transport = SmtpTransport(load_settings(env))
    try:
        with pytest.raises(TransientMailError) as caught:
            await transport.send(confirmation(person()))
    finally:
        await transport.close()
    assert str(caught.value) == "smtp sender unusable"


def _env(settings) -> dict[str, str]:
    from tests.support import app_env

    return app_env(settings.database_url.value, settings.redis_url.value, settings.smtp_port)


class CountingCatcher(mailcatcher.Catcher):
    """Counts the connections made to it: every SMTP session starts with one EHLO."""

    sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses


async def test_many_mails_go_over_the_configured_smtp_connections(settings):
    # Given a relay that counts connections, and a transport allowed two of them
    catcher = CountingCatcher()
    port = free_port()
    controller = mailcatcher.start(port, catcher)
    env = {**_env(settings), "SMTP_PORT": str(port), "SIGNUP_SMTP_CONNECTIONS": "2"}
    transport = SmtpTransport(load_settings(env))
    try:
        # When twelve mails are handed to it at once, and then six more one after another
        addresses = [f"many-{n}@example.com" for n in range(18)]
        await asyncio.gather(*(transport.send(confirmation(a)) for a in addresses[:12]))
        for a in addresses[12:]:
            await transport.send(confirmation(a))
    finally:
        await transport.close()
        controller.stop()
    # Then every mail arrived, over no more than the two connections
    assert sorted(catcher.recipients) == sorted(addresses)
    assert 1 <= catcher.sessions <= 2


@pytest.mark.parametrize(
    ("step", "reply", "raised"),
    [
        ("rcpt_reply", "550 5.1.1 no such mailbox", "smtp 550"),
        ("rcpt_reply", "452 4.2.2 mailbox full", "smtp 452"),
        ("mail_reply", "451 4.3.0 try later", "smtp 451"),
    ],
)
async def test_a_refused_envelope_fails_that_mail_only(settings, smtp_server, step, reply, raised):
    # Given one SMTP connection, whose relay refuses one mail's envelope
    env = {**_env(settings), "SIGNUP_SMTP_CONNECTIONS": "1"}
    transport = SmtpTransport(load_settings(env))
    refused, next_one = person(), person()
    try:
        setattr(smtp_server, step, reply)
        try:
            with pytest.raises((PermanentMailError, TransientMailError)) as caught:
                await transport.send(confirmation(refused))
        finally:
            setattr(smtp_server, step, None)
        assert str(caught.value) == raised
        assert isinstance(caught.value, PermanentMailError) is (raised == "smtp 550")
        # When the next mail goes out (on a new connection: send() closes one that raised)
        await transport.send(confirmation(next_one, name="Ada"))
    finally:
        await transport.close()
    # Then it arrives, with the envelope sender the settings give, and the refused one never
    [got] = smtp_server.wait_for(lambda m: next_one in str(m["To"]))
    at = smtp_server.messages.index(got)
    assert refused not in smtp_server.recipients
    assert smtp_server.senders[at] == parseaddr(settings.mail_from)[1]
