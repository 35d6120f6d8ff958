"""GET /confirm changes nothing; POST /confirm spends a token once; bad tokens get a kind page."""

from __future__ import annotations

import asyncio

import pytest

from signup_core import tokens
from tests.integration.test_signup import address, index, outbox, rows, settled
from tests.support import app_client, inspect

# The session worker mails each signup here its own confirmation, minting its own token for
# the same row: every test runs with it, and waits for it (below) before minting the test's.
pytestmark = pytest.mark.usefixtures("worker")


async def pending_with_token(client, db, ttl: float = 3600.0) -> tuple[str, str]:
    """A pending subscription and a token for it, minted as the worker mints them, once the
    worker has minted (and mailed) its own: what the test reads next is its own doing."""
    email = address()
    assert (await client.post("/signup", json={"email": email})).status_code == 202
    await settled(db, email)
    [row] = await rows(db, email)
    token, token_hash = tokens.mint()
    await inspect().insert_token(
        db, token_hash=token_hash, subscription_id=row["id"], ttl_seconds=ttl
    )
    return email, token


async def own_token(db, email: str, token: str) -> dict:
    """The row of the test's token, beside the one the worker mailed."""
    digest = tokens.digest(token)
    found = [t async for t in inspect().tokens_for(db, email_index=index(email))]
    assert len(found) == 2  # the worker's and the test's
    [row] = [t for t in found if bytes(t["token_hash"]) == digest]
    return row


async def test_get_shows_a_button_and_changes_nothing(client, db):
    email, token = await pending_with_token(client, db)
    for _ in range(3):  # mail scanners fetch links, sometimes more than once
        page = await client.get(f"/confirm?token={token}")
        assert page.status_code == 200
        assert '<form method="post" action="/confirm">' in page.text
    assert (await rows(db, email))[0]["status"] == "pending"
    assert (await own_token(db, email, token))["consumed_at"] is None


async def test_post_confirms_once_and_queues_the_welcome(client, db):
    email, token = await pending_with_token(client, db)
    response = await client.post("/confirm", data={"token": token})
    assert response.status_code == 200
    assert "You are on the list" in response.text
    [row] = await rows(db, email)
    assert row["status"] == "confirmed" and row["confirmed_at"] is not None
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation", "welcome"]
    assert (await own_token(db, email, token))["consumed_at"] is not None


async def test_second_post_is_idempotent(client, db):
    email, token = await pending_with_token(client, db)
    await client.post("/confirm", data={"token": token})
    again = await client.post("/confirm", data={"token": token})
    assert again.status_code == 200
    assert "Already confirmed" in again.text
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation", "welcome"]


async def test_racing_posts_confirm_exactly_once(client, db):
    email, token = await pending_with_token(client, db)
    answers = await asyncio.gather(
        *(client.post("/confirm", data={"token": token}) for _ in range(8))
    )
    assert sum("You are on the list" in a.text for a in answers) == 1
    assert sum("Already confirmed" in a.text for a in answers) == 7
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation", "welcome"]


async def test_another_token_of_a_confirmed_subscription_says_already_confirmed(client, db):
    email, first = await pending_with_token(client, db)
    [row] = await rows(db, email)
    second, second_hash = tokens.mint()
    await inspect().insert_token(
        db, token_hash=second_hash, subscription_id=row["id"], ttl_seconds=3600.0
    )
    await client.post("/confirm", data={"token": first})
    response = await client.post("/confirm", data={"token": second})
    assert "Already confirmed" in response.text


async def test_expired_token_gets_a_page_to_start_again(client, db):
    email, token = await pending_with_token(client, db)
    await inspect().expire_tokens(db, email_index=index(email))
    response = await client.post("/confirm", data={"token": token})
    assert response.status_code == 410
    assert "expired" in response.text and "Send me a new link" in response.text
    shown = await client.get("/confirm", params={"token": token})
    assert shown.status_code == 410 and "expired" in shown.text
    assert 'action="/signup"' in shown.text and "Confirm my subscription" not in shown.text
    assert (await rows(db, email))[0]["status"] == "pending"
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation"]


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "../../etc/passwd" + "a" * 30])
async def test_unknown_or_malformed_token_gets_a_page_to_start_again(client, db, token):
    response = await client.post("/confirm", data={"token": token})
    assert response.status_code == 404
    assert "Send me a new link" in response.text


@pytest.mark.parametrize("token", ["", "short", "../../etc/passwd" + "a" * 30])
async def test_get_with_a_malformed_token_says_so_at_once(client, token):
    shown = await client.get("/confirm", params={"token": token})
    assert shown.status_code == 404
    assert "Send me a new link" in shown.text


async def test_get_with_an_unknown_well_formed_token_says_so_at_once(client, db):
    shown = await client.get("/confirm", params={"token": "x" * 43})
    assert shown.status_code == 404
    assert "We do not know this link" in shown.text and 'action="/signup"' in shown.text


async def test_get_of_a_spent_token_says_already_confirmed(client, db):
    _, token = await pending_with_token(client, db)
    await client.post("/confirm", data={"token": token})
    shown = await client.get("/confirm", params={"token": token})
    assert "Already confirmed" in shown.text and 'action="/confirm"' not in shown.text


async def test_token_of_an_unsubscribed_address_does_not_resubscribe(client, db):
    email, token = await pending_with_token(client, db)
    await inspect().set_status(db, email_index=index(email), status="unsubscribed")
    response = await client.post("/confirm", data={"token": token})
    assert response.status_code == 410
    assert (await rows(db, email))[0]["status"] == "unsubscribed"


async def test_confirm_redirects_to_the_configured_page(env, db):
    async with app_client({**env, "SIGNUP_CONFIRMED_URL": "https://example.com/welcome"}) as c:
        _, token = await pending_with_token(c, db)
        response = await c.post("/confirm", data={"token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "https://example.com/welcome"


async def test_confirm_page_does_not_leak_the_token_to_other_sites(client, db):
    _, token = await pending_with_token(client, db)
    page = await client.get(f"/confirm?token={token}")
    # Other sites get at most our origin, never the path and query that hold the token.
    assert page.headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin")
    assert page.headers["cache-control"] == "no-store"
