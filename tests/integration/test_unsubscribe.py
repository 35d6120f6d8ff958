"""Unsubscribing: a signed link in every mail's headers, one-click POST (RFC 8058), a page
with a button, idempotent, and a receipt mail."""

from __future__ import annotations

import re
import uuid

import pytest

from devstack.mailcatcher import text_part
from signup_core import unsubscribe_links
from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox, rows
from tests.support import SIGNING_KEY, app_client, eventually, inspect

LINK = re.compile(r"<(http://signup\.test/unsubscribe\?token=[^>]+)>")


def person() -> str:
    return f"leaver-{uuid.uuid4().hex[:10]}@example.com"


async def test_every_mail_carries_one_click_unsubscribe_headers(client, db, worker, smtp_server):
    email = person()
    await client.post("/signup", json={"email": email, "locale": "de"})
    [mail] = smtp_server.wait_for(to(email))
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = LINK.search(mail["List-Unsubscribe"]).group(1)
    assert link in text_part(mail)
    assert "bestätigen" in mail["Subject"]  # the German template, though the app's default is en

    # One click: a bare POST to the header's URL, no cookie, no page
    response = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"
    [receipt] = smtp_server.wait_for(lambda m: to(email)(m) and "verlassen" in m["Subject"])
    assert receipt["List-Unsubscribe"]

    again = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation", "unsubscribed"]


async def test_get_shows_a_button_and_changes_nothing(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    token = unsubscribe_links.sign(client_settings(), row["id"])
    page = await client.get("/unsubscribe", params={"token": token})
    assert page.status_code == 200 and 'action="/unsubscribe"' in page.text
    assert (await rows(db, email))[0]["status"] == "pending"
    done = await client.post("/unsubscribe", data={"token": token})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert (await rows(db, email))[0]["status"] == "unsubscribed"


@pytest.mark.parametrize("token", ["", "garbage", "MQ.forged-signature"])
async def test_bad_links_are_refused(client, db, token):
    response = await client.post(
        f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 404
    assert (await client.get("/unsubscribe", params={"token": token})).status_code == 404


async def test_link_signed_with_the_previous_key_still_works(env, db):
    from signup_core.settings import load_settings

    old = load_settings(env)
    rotated = {
        **env,
        "SIGNUP_SIGNING_KEY": "a-brand-new-signing-key-0123456789ab",
        "SIGNUP_SIGNING_KEY_PREVIOUS": SIGNING_KEY,
    }
    async with app_client(rotated) as client:
        email = person()
        await client.post("/signup", json={"email": email})
        [row] = await rows(db, email)
        response = await client.post(
            f"/unsubscribe?token={unsubscribe_links.sign(old, row['id'])}",
            data={"List-Unsubscribe": "One-Click"},
        )
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"


async def test_signing_up_again_after_unsubscribing_starts_over(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    await client.post(f"/unsubscribe?token={unsubscribe_links.sign(client_settings(), row['id'])}")
    await client.post("/signup", json={"email": email})
    assert (await rows(db, email))[0]["status"] == "pending"
    kinds = [o["kind"] for o in await outbox(db, email)]
    assert kinds == ["confirmation", "unsubscribed", "confirmation"]


async def test_suppressed_address_gets_no_mail_from_any_path(client, db, worker, smtp_server):
    email = person()
    await client.post("/signup", json={"email": email})
    smtp_server.wait_for(to(email))
    [row] = await rows(db, email)
    await inspect().set_status(db, email_index=index(email), status="suppressed")
    before = len(smtp_server.messages)

    await client.post("/signup", json={"email": email})  # signup again
    await client.post(f"/unsubscribe?token={unsubscribe_links.sign(client_settings(), row['id'])}")
    [tok] = [t async for t in inspect().tokens_for(db, email_index=index(email))]
    assert tok is not None
    await eventually(lambda: _quiet(smtp_server, before), timeout=3)
    assert not [m for m in smtp_server.messages[before:] if to(email)(m)]
    assert (await rows(db, email))[0]["status"] == "suppressed"


async def _quiet(smtp_server, before: int) -> bool:
    import asyncio

    await asyncio.sleep(1.0)
    return True


def client_settings():
    from signup_core.settings import load_settings
    from tests.support import app_env

    return load_settings(app_env("postgresql://x@localhost/x", "redis://localhost/0", 25))
