"""Suppression belongs to the address: it holds on every list, for addresses with no row yet,
and on every path that mails."""

from __future__ import annotations

import uuid

import pytest

from signup_core.clock import FixedClock
from tests import providers as p
from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox, rows
from tests.integration.test_webhooks import POSTMARK_SECRET, postmark_bounce
from tests.support import app_client, eventually


@pytest.fixture
async def site(env, db):
    settings = {
        **env,
        "SIGNUP_LISTS": "newsletter,updates",
        "SIGNUP_POSTMARK_WEBHOOK_SECRET": POSTMARK_SECRET,
    }
    async with app_client(settings, clock=FixedClock(p.NOW)) as client:
        yield client


def person() -> str:
    return f"held-{uuid.uuid4().hex[:10]}@example.com"


async def _hard_bounce(site, email: str) -> None:
    response = await site.post(
        f"/webhooks/postmark?token={POSTMARK_SECRET}", json=postmark_bounce(email)
    )
    assert response.status_code == 200


async def _listed(db, email: str):
    return await db.fetchrow(
        "SELECT reason, provider FROM suppressions WHERE email_index = $1", index(email)
    )


async def _mailed_after_a_control(site, smtp_server, email: str) -> int:
    """Mails the address got, counted once a later signup's mail has arrived: the relay and
    the sender take rows in order, so by then the address's own would have come too."""
    control = person()
    assert (await site.post("/signup", json={"email": control})).status_code == 202
    smtp_server.wait_for(to(control), timeout=15)
    return len([m for m in smtp_server.messages if to(email)(m)])


async def test_a_hard_bounce_on_one_list_holds_on_another(site, db, worker, smtp_server):
    # Given a subscriber of one list whose address hard-bounced
    email = person()
    assert (await site.post("/signup", json={"email": email})).status_code == 202
    smtp_server.wait_for(to(email), timeout=15)
    await _hard_bounce(site, email)
    await eventually(lambda: _listed(db, email))
    # When the address signs up to the other list
    response = await site.post("/signup", json={"email": email, "list": "updates"})
    # Then the answer is the same 202, the new row is suppressed, and no mail goes out
    assert response.status_code == 202
    statuses = {r["list_name"]: r["status"] for r in await rows(db, email)}
    assert statuses == {"newsletter": "suppressed", "updates": "suppressed"}
    assert await _mailed_after_a_control(site, smtp_server, email) == 1


async def test_a_bounce_for_an_address_with_no_row_is_kept(site, db, worker, smtp_server):
    # Given a complaint for an address that never signed up here
    email = person()
    await _hard_bounce(site, email)
    listed = await eventually(lambda: _listed(db, email))
    assert (listed["reason"], listed["provider"]) == ("hard_bounce", "postmark")
    # When it signs up later
    assert (await site.post("/signup", json={"email": email})).status_code == 202
    # Then nothing is queued or sent to it
    assert await outbox(db, email) == []
    assert await _mailed_after_a_control(site, smtp_server, email) == 0


async def test_the_sender_checks_the_address_list_itself(site, db, worker, smtp_server):
    from signup_core import db as core_db
    from signup_core import sealing

    # Given a pending row with a confirmation queued, committed together with a listing of
    # its address by a path that did not touch the row
    email = person()
    async with db.transaction():
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
        await db.execute(
            "INSERT INTO suppressions (email_index, reason) VALUES ($1, 'complaint')", index(email)
        )
    # Then the sender refuses it
    [row] = await eventually(lambda: _failed(db, email))
    assert row["failure"] == "status suppressed"
    assert await _mailed_after_a_control(site, smtp_server, email) == 0


async def _failed(db, email):
    return [r for r in await outbox(db, email) if r["failed_at"] is not None]
