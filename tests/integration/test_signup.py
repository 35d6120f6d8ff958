"""POST /signup: accepted bodies, refused bodies, enumeration-safe answers, the resend window."""

from __future__ import annotations

import json
import uuid

import pytest

from signup_core.addresses import blind_index
from tests.support import BLIND_INDEX_KEY, app_client, eventually, inspect, unseal

PROBLEM = "application/problem+json"


def address() -> str:
    return f"reader-{uuid.uuid4().hex[:10]}@example.com"


def index(email: str) -> bytes:
    return blind_index(BLIND_INDEX_KEY.encode(), email)


async def rows(db, email):
    return [r async for r in inspect().subscriptions_by_index(db, email_index=index(email))]


async def outbox(db, email):
    return [r async for r in inspect().outbox_for(db, email_index=index(email))]


async def settled(db, email) -> None:
    """Wait until the worker has sent or given up every outbox row of the address: after that,
    a mail that was going to arrive has arrived (the catcher holds it before the commit)."""

    async def done() -> bool:
        return all(o["sent_at"] or o["failed_at"] for o in await outbox(db, email))

    await eventually(done)


async def test_json_signup_stores_a_pending_subscription_and_queues_one_mail(client, db):
    email = address()
    response = await client.post("/signup", json={"email": email, "name": "Ada", "locale": "en"})
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    [row] = await rows(db, email)
    assert row["status"] == "pending"
    assert unseal(row["email_sealed"]) == email
    assert unseal(row["name_sealed"], "subscriptions.name") == "Ada"
    assert row["consent_form_version"] == "1"
    assert row["consent_ip_hash"] is not None and b"203.0.113.7" not in row["consent_ip_hash"]
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation"]


async def test_form_signup_redirects_to_the_thank_you_page(client, db):
    email = address()
    response = await client.post("/signup", data={"email": email})
    assert response.status_code == 303
    assert response.headers["location"] == "/thanks"
    assert len(await rows(db, email)) == 1


async def test_form_with_invalid_address_shows_the_form_again_with_what_was_typed(client, db):
    response = await client.post("/signup", data={"email": "not an address", "name": "Ada"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'value="not an address"' in response.text and 'value="Ada"' in response.text
    assert 'aria-invalid="true" aria-describedby="signup-email-error"' in response.text
    assert "An email address must have an @-sign." in response.text
    assert (await inspect().count_rows(db))["subscriptions"] == 0


async def test_form_errors_go_to_the_configured_error_page_when_there_is_one(env, db):
    async with app_client({**env, "SIGNUP_ERROR_URL": "https://example.com/sorry"}) as c:
        response = await c.post("/signup", data={"email": "not an address"})
    assert response.status_code == 303
    assert response.headers["location"] == "https://example.com/sorry?reason=invalid-field"


async def test_form_with_undecodable_bytes_is_refused_and_stores_nothing(client, db):
    # %ff%fe is no UTF-8; decoding it with replacement characters stored "\ufffd\ufffd@…".
    response = await client.post(
        "/signup",
        content=b"email=%ff%fe%40example.com",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "We could not take your signup" in response.text
    assert (await inspect().count_rows(db))["subscriptions"] == 0


async def test_non_ascii_local_part_is_accepted_when_the_relay_takes_smtputf8(env, db):
    email = f"jürgen-{uuid.uuid4().hex[:6]}@example.com"
    async with app_client({**env, "SIGNUP_SMTPUTF8": "true"}) as c:
        response = await c.post("/signup", json={"email": email})
    assert response.status_code == 202
    [row] = await rows(db, email)
    assert unseal(row["email_sealed"]) == email


async def test_address_is_normalised_so_spellings_share_one_row(client, db):
    local = f"Mixed.{uuid.uuid4().hex[:8]}"
    for spelling in (f"{local}@Example.COM", f"{local.lower()}@example.com"):
        assert (await client.post("/signup", json={"email": spelling})).status_code == 202
    assert len(await rows(db, f"{local}@example.com")) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({}, "email"),
        ({"email": "a@b.test"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"email": "ok@example.com", "name": "bad\r\nBcc: victim@example.com"}, "name"),
        ({"email": "ok@example.com", "name": "n" * 101}, "name"),
        ({"email": "ok@example.com", "list": "no-such-list"}, "list"),
        # SIGNUP_SMTPUTF8 is off: a non-ASCII local part could never be delivered.
        ({"email": "jürgen@example.com"}, "email"),
        ({"email": "ok@example.com", "name": "Click https://evil.example/login now"}, "name"),
        (
            {"email": "ok@example.com", "name": "=?utf-8?b?PGF0dGFja2VyQGV2aWwuZXhhbXBsZT4=?="},
            "name",
        ),
        ({"email": "ok@example.com", "locale": "<script>"}, "locale"),
        ({"email": 42}, "email"),
    ],
)
async def test_invalid_input_is_a_400_problem_with_the_field(client, db, body, field):
    response = await client.post("/signup", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 400
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await inspect().count_rows(db))["subscriptions"] == 0


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b"\xff\xfe", b'"just a string"', b""],
)
async def test_malformed_json_is_a_400_problem(client, raw):
    response = await client.post(
        "/signup", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("malformed")


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
async def test_wrong_content_type_is_a_415_problem(client, content_type):
    response = await client.post(
        "/signup", content=b"email=a@example.com", headers={"content-type": content_type}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


async def test_oversized_body_is_a_413_problem(client, settings):
    padding = "x" * settings.max_body_bytes
    response = await client.post("/signup", json={"email": "a@example.com", "pad": padding})
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_oversized_chunked_body_without_length_is_a_413_problem(client, settings):
    async def chunks():
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b" " * 1000

    response = await client.post(
        "/signup", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_wrong_method_is_a_405_problem(client):
    response = await client.get("/signup")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_answers_are_identical_for_new_pending_and_confirmed(client, db):
    email = address()
    new = await client.post("/signup", json={"email": email})
    pending = await client.post("/signup", json={"email": email})
    await inspect().set_status(db, email_index=index(email), status="confirmed")
    confirmed = await client.post("/signup", json={"email": email})
    answers = {
        (r.status_code, json.dumps(r.json(), sort_keys=True)) for r in (new, pending, confirmed)
    }
    assert len(answers) == 1
    assert len(await rows(db, email)) == 1


async def test_pending_resubmission_inside_the_window_queues_nothing_more(client, db):
    email = address()
    for _ in range(3):
        assert (await client.post("/signup", json={"email": email})).status_code == 202
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation"]
    assert len(await rows(db, email)) == 1


async def test_pending_resubmission_after_the_window_queues_one_more(client, db, settings):
    email = address()
    await client.post("/signup", json={"email": email})
    await inspect().age_last_mailed(
        db, email_index=index(email), seconds=float(settings.resend_window + 1)
    )
    await client.post("/signup", json={"email": email})
    await client.post("/signup", json={"email": email})
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation", "confirmation"]


async def test_confirmed_resubmission_queues_an_already_subscribed_mail_once_per_window(
    client, db, settings
):
    email = address()
    await client.post("/signup", json={"email": email})
    await inspect().set_status(db, email_index=index(email), status="confirmed")
    await inspect().age_last_mailed(
        db, email_index=index(email), seconds=float(settings.resend_window + 1)
    )
    await client.post("/signup", json={"email": email})
    await client.post("/signup", json={"email": email})
    kinds = [o["kind"] for o in await outbox(db, email)]
    assert kinds == ["confirmation", "already_subscribed"]
    [row] = await rows(db, email)
    assert row["status"] == "confirmed"


async def test_concurrent_signups_of_one_address_make_one_row(client, db):
    import asyncio

    email = address()
    answers = await asyncio.gather(
        *(client.post("/signup", json={"email": email}) for _ in range(10))
    )
    assert {a.status_code for a in answers} == {202}
    assert len(await rows(db, email)) == 1
    assert len(await outbox(db, email)) == 1


async def test_database_down_is_a_503_problem_with_retry_after(env):
    from devstack.processes import free_port

    down = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    async with app_client({**env, "DATABASE_URL": down}) as c:
        response = await c.post("/signup", json={"email": address()})
        form = await c.post("/signup", data={"email": address()})
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"]
    assert form.status_code == 503 and form.headers["retry-after"]
    assert "try again in a minute" in form.text


@pytest.mark.parametrize(
    "path", ["/unsubscribe/?token=abc", "/thanks/", "/confirm/", "/oops/", "/readyz/"]
)
async def test_a_trailing_slash_is_not_redirected_to_the_host_header(client, path):
    response = await client.get(path, headers={"host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.headers["content-type"] == PROBLEM
