"""Unsubscribing: a signed link in every mail's headers, one-click POST (RFC 8058), a page
with a button, idempotent, and a receipt mail."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
from itsdangerous import URLSafeSerializer

from devstack.mailcatcher import text_part
from signup_core import unsubscribe_links
from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox, rows, settled
from tests.support import SIGNING_KEY, app_client, empty_tables, inspect

LINK = re.compile(r"<(http://signup\.test/unsubscribe\?token=[^>]+)>")


def person() -> str:
    return f"leaver-{uuid.uuid4().hex[:10]}@example.com"


async def test_every_mail_carries_one_click_unsubscribe_headers(client, db, worker, smtp_server):
    email = person()
    await client.post("/signup", json={"email": email, "locale": "de"})
    [mail] = smtp_server.wait_for(to(email))
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Id"] == '"newsletter" <newsletter.signup.test>'
    link = LINK.search(mail["List-Unsubscribe"]).group(1)
    assert link in text_part(mail)
    assert "bestätigen" in mail["Subject"]  # the German template, though the app's default is en

    # One click: a bare POST to the header's URL, no cookie, no page
    response = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"
    [receipt] = smtp_server.wait_for(lambda m: to(email)(m) and "verlassen" in m["Subject"])
    assert receipt["List-Unsubscribe"] and receipt["List-Id"] == mail["List-Id"]

    again = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation", "unsubscribed"]


async def test_get_shows_a_button_and_changes_nothing(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    token = unsubscribe_links.sign(client_settings(), row["unsubscribe_id"])
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
            f"/unsubscribe?token={unsubscribe_links.sign(old, row['unsubscribe_id'])}",
            data={"List-Unsubscribe": "One-Click"},
        )
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"


async def test_signing_up_again_after_unsubscribing_starts_over(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    await client.post(
        f"/unsubscribe?token={unsubscribe_links.sign(client_settings(), row['unsubscribe_id'])}"
    )
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
    # Past the resend window, so only the suppression stands between a signup and a mail
    await inspect().age_last_mailed(db, email_index=index(email), seconds=86400.0)
    before = len(smtp_server.messages)

    await client.post("/signup", json={"email": email})  # signup again
    await client.post(
        f"/unsubscribe?token={unsubscribe_links.sign(client_settings(), row['unsubscribe_id'])}"
    )
    await settled(db, email)
    assert not [m for m in smtp_server.messages[before:] if to(email)(m)]
    assert (await rows(db, email))[0]["status"] == "suppressed"


def payload(token: str) -> bytes:
    head = token.split(".", 1)[0]
    return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))


async def test_a_link_names_an_opaque_id_not_the_row_number(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    link = unsubscribe_links.url(client_settings(), row["unsubscribe_id"])
    token = link.split("token=", 1)[1]
    assert json.loads(payload(token)) == row["unsubscribe_id"].hex
    response = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"


async def test_unsubscribe_ids_are_random_not_counting(client, db):
    first, second = person(), person()
    await client.post("/signup", json={"email": first})
    await client.post("/signup", json={"email": second})
    [a], [b] = await rows(db, first), await rows(db, second)
    assert a["unsubscribe_id"].version == 4 and b["unsubscribe_id"].version == 4
    assert a["unsubscribe_id"] != b["unsubscribe_id"]


async def test_a_link_already_sent_with_the_row_number_still_works(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    # What earlier versions put into mails: the integer id, same key and salt
    old_token = URLSafeSerializer(SIGNING_KEY, salt="signet-signup.unsubscribe").dumps(row["id"])
    assert (await client.get("/unsubscribe", params={"token": old_token})).status_code == 200
    response = await client.post(f"/unsubscribe?token={old_token}")
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"


@pytest.mark.parametrize("value", [2**63, 2**64, 10**40, -(2**63) - 1, 0, -1, 1.5, True])
async def test_a_signed_row_number_that_fits_no_row_is_unknown_not_an_error(client, db, value):
    # Signed with the real key (a leaked key, or a bug of ours): the number still names no row.
    token = URLSafeSerializer(SIGNING_KEY, salt="signet-signup.unsubscribe").dumps(value)
    assert (await client.get("/unsubscribe", params={"token": token})).status_code == 404
    assert (await client.post(f"/unsubscribe?token={token}")).status_code == 404
    assert (await client.post("/unsubscribe", data={"token": token})).status_code == 404


async def test_a_link_to_an_erased_subscription_is_unknown(client, db):
    email = person()
    await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    link = unsubscribe_links.url(client_settings(), row["unsubscribe_id"])
    await empty_tables(db)
    assert (await client.post(link)).status_code == 404


def client_settings():
    from signup_core.settings import load_settings
    from tests.support import app_env

    return load_settings(app_env("postgresql://x@localhost/x", "redis://localhost/0", 25))


async def test_the_mailed_link_signs_the_opaque_id(client, db, worker, smtp_server):
    from tests.integration.test_flow import to

    # Given a signup whose confirmation the worker mails
    email = person()
    await client.post("/signup", json={"email": email})
    [mail] = smtp_server.wait_for(to(email), timeout=15)
    [row] = await rows(db, email)
    # Then the mail's List-Unsubscribe link carries the random id, not the row number
    link = "".join(str(mail["List-Unsubscribe"]).split()).strip("<>")
    assert json.loads(payload(link.split("token=", 1)[1])) == row["unsubscribe_id"].hex
    # And it works as the one-click POST
    response = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert (await rows(db, email))[0]["status"] == "unsubscribed"
