"""Abuse controls besides rate limits: domains, honeypot, proof-of-work, captchas, CORS,
origin check, the signup switch."""

from __future__ import annotations

import datetime

import altcha
import httpx
import pytest
import respx

from signup_api.captcha import REMOTE
from signup_core import consent
from signup_core.settings import load_settings
from tests.integration.test_flow import to
from tests.integration.test_signup import PROBLEM, address, index, outbox, rows, settled
from tests.support import app_client, inspect

ALTCHA_KEY = "altcha-test-hmac-key-0123456789abcdef"


async def stored(db) -> int:
    return (await inspect().count_rows(db))["subscriptions"]


# --- disposable and operator-listed domains


@pytest.mark.parametrize("domain", ["mailinator.com", "eu.mailinator.com", "yopmail.com"])
async def test_disposable_domain_and_its_subdomains_are_refused(client, db, domain):
    response = await client.post("/signup", json={"email": f"x@{domain}"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"
    assert "mailinator" not in response.text and "disposable" not in response.text.lower()
    assert await stored(db) == 0


async def test_operator_lists_override_and_extend_the_disposable_list(env, db):
    settings = {
        **env,
        "SIGNUP_ALLOWED_DOMAINS": "mailinator.com",
        "SIGNUP_BLOCKED_DOMAINS": "competitor.example",
    }
    async with app_client(settings) as client:
        allowed = await client.post("/signup", json={"email": "x@mailinator.com"})
        blocked = await client.post("/signup", json={"email": "x@mail.competitor.example"})
    assert allowed.status_code == 202 and blocked.status_code == 400


# --- honeypot


async def test_filled_honeypot_gets_the_normal_answer_and_stores_nothing(
    client, db, worker, smtp_server
):
    email = address()
    as_json = await client.post("/signup", json={"email": email, "website": "http://spam"})
    as_form = await client.post("/signup", data={"email": email, "website": "spam"})
    honest_email = address()
    honest = await client.post("/signup", json={"email": honest_email})
    assert as_json.status_code == 202 and as_json.json() == honest.json()
    assert as_form.status_code == 303 and as_form.headers["location"] == "/thanks"
    smtp_server.wait_for(to(honest_email))
    await settled(db, email)
    assert not [m for m in smtp_server.messages if to(email)(m)]
    assert await stored(db) == 1  # only the honest one


# --- ALTCHA proof-of-work


def solved(max_number: int = 2000, expires_in: int = 300, key: str = ALTCHA_KEY) -> str:
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expires_in)
    c = altcha.create_challenge_v1(hmac_key=key, max_number=max_number, expires=expires)
    solution = altcha.solve_challenge_v1(c.challenge, c.salt, c.algorithm, c.max_number)
    return altcha.v1.Payload(
        c.algorithm, c.challenge, solution.number, c.salt, c.signature
    ).to_base64()


@pytest.fixture
async def pow_client(env, db):
    async with app_client(
        {
            **env,
            "SIGNUP_CAPTCHA": "altcha",
            "SIGNUP_ALTCHA_HMAC_KEY": ALTCHA_KEY,
            "SIGNUP_ALTCHA_MAX_NUMBER": "2000",
        }
    ) as client:
        yield client


async def test_served_challenge_can_be_solved_and_is_accepted(pow_client, db):
    c = (await pow_client.get("/altcha/challenge")).json()
    solution = altcha.solve_challenge_v1(c["challenge"], c["salt"], c["algorithm"], c["maxNumber"])
    payload = altcha.v1.Payload(
        c["algorithm"], c["challenge"], solution.number, c["salt"], c["signature"]
    ).to_base64()
    response = await pow_client.post("/signup", json={"email": address(), "altcha": payload})
    assert response.status_code == 202
    assert await stored(db) == 1


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "bm90IGpzb24=",
        solved(expires_in=-5),
        solved(key="another-key-entirely-0123456789abcdef"),
    ],
    ids=["missing", "garbage", "expired", "forged"],
)
async def test_bad_proof_of_work_is_refused(pow_client, db, payload):
    body = {"email": address(), **({"altcha": payload} if payload else {})}
    response = await pow_client.post("/signup", json=body)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert await stored(db) == 0


async def test_replayed_proof_of_work_is_refused(pow_client, db):
    payload = solved()
    first = await pow_client.post("/signup", json={"email": address(), "altcha": payload})
    again = await pow_client.post("/signup", json={"email": address(), "altcha": payload})
    assert (first.status_code, again.status_code) == (202, 403)
    assert await stored(db) == 1


async def test_challenge_endpoint_is_absent_when_pow_is_off(client):
    assert (await client.get("/altcha/challenge")).status_code == 404


# --- Turnstile and hCaptcha, verified by their siteverify APIs


@pytest.fixture(params=["turnstile", "hcaptcha"])
async def remote(request, env, db):
    kind = request.param
    settings = {
        **env,
        "SIGNUP_CAPTCHA": kind,
        "SIGNUP_CAPTCHA_SITE_KEY": "site-key",
        "SIGNUP_CAPTCHA_SECRET": "server-secret",
    }
    async with app_client(settings) as client:
        yield kind, client


async def test_remote_captcha_success(remote, db):
    kind, client = remote
    url, field = REMOTE[kind]
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).respond(json={"success": True})
        response = await client.post("/signup", json={"email": address(), field: "tok"})
    assert response.status_code == 202
    sent = dict(httpx.QueryParams(route.calls.last.request.content.decode()))
    assert sent["secret"] == "server-secret" and sent["response"] == "tok"
    assert await stored(db) == 1


async def test_remote_captcha_failure_is_403(remote, db):
    kind, client = remote
    url, field = REMOTE[kind]
    with respx.mock() as mock:
        mock.post(url).respond(json={"success": False, "error-codes": ["invalid-input"]})
        response = await client.post("/signup", json={"email": address(), field: "tok"})
    assert response.status_code == 403
    assert await stored(db) == 0


async def test_remote_captcha_timeout_is_503(remote, db):
    kind, client = remote
    url, field = REMOTE[kind]
    with respx.mock() as mock:
        mock.post(url).mock(side_effect=httpx.ReadTimeout("slow"))
        response = await client.post("/signup", json={"email": address(), field: "tok"})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert await stored(db) == 0


async def test_missing_remote_captcha_token_is_403_without_asking(remote, db):
    _, client = remote
    with respx.mock() as mock:
        response = await client.post("/signup", json={"email": address()})
        assert not mock.calls
    assert response.status_code == 403


async def test_landing_page_carries_the_widget(remote):
    kind, client = remote
    page = await client.get("/")
    assert 'data-sitekey="site-key"' in page.text
    assert REMOTE[kind][0].split("/")[2].split(".")[-2] in page.headers["content-security-policy"]


# --- CORS and origin check


@pytest.fixture
async def cors_client(env, db):
    async with app_client({**env, "SIGNUP_CORS_ORIGINS": "https://www.example.com"}) as client:
        yield client


async def preflight(client, origin: str = "https://www.example.com", asked: str | None = None):
    headers = {"origin": origin, "access-control-request-method": "POST"}
    if asked is not None:
        headers["access-control-request-headers"] = asked
    return await client.options("/signup", headers=headers)


async def test_preflight_from_an_allowed_origin(cors_client):
    response = await preflight(cors_client, asked="content-type")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "access-control-allow-credentials" not in response.headers


async def test_preflight_names_what_may_be_sent_and_for_how_long(cors_client):
    response = await preflight(cors_client)
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"]
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in response.headers["vary"]


async def test_preflight_asking_for_another_header_is_refused(cors_client):
    response = await preflight(cors_client, asked="content-type, x-secret")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:signet-signup:problem:cors-refused"


async def test_an_options_request_that_is_not_a_preflight_reaches_the_app(cors_client):
    response = await cors_client.options("/signup", headers={"origin": "https://www.example.com"})
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_post_from_an_allowed_origin_may_be_read_by_its_page(cors_client, db):
    response = await cors_client.post(
        "/signup", json={"email": address()}, headers={"origin": "https://WWW.example.com"}
    )
    assert response.status_code == 202
    assert response.headers["access-control-allow-origin"] == "https://WWW.example.com"
    assert response.headers["vary"] == "Origin"


async def test_an_answer_to_another_origin_is_not_marked_readable(cors_client, db):
    response = await cors_client.post(
        "/signup", json={"email": address()}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


async def test_without_cors_origins_no_cors_headers_are_sent(client, db):
    response = await client.post(
        "/signup", json={"email": address()}, headers={"origin": "http://signup.test"}
    )
    assert response.status_code == 202
    assert "access-control-allow-origin" not in response.headers
    assert "vary" not in response.headers


async def test_preflight_from_another_origin_is_refused(cors_client):
    response = await preflight(cors_client, origin="https://evil.example")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"origin": "https://www.example.com"}, 202),
        ({"origin": "http://signup.test"}, 202),  # our own landing page
        ({}, 202),  # not a browser
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"referer": "https://evil.example/page"}, 403),
        ({"referer": "https://www.example.com/join"}, 202),
    ],
)
async def test_origin_check(cors_client, db, headers, expected):
    response = await cors_client.post("/signup", json={"email": address()}, headers=headers)
    assert response.status_code == expected
    assert await stored(db) == (1 if expected == 202 else 0)


async def test_cross_site_form_post_gets_a_page_that_says_why(cors_client, db):
    response = await cors_client.post(
        "/signup", data={"email": address()}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert "may not send signups to this list" in response.text
    assert 'action="/signup"' not in response.text
    assert await stored(db) == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # A page with a privacy-sensitive referrer policy: the browser says it is ours.
        ({"origin": "null", "sec-fetch-site": "same-origin"}, 202),
        # A sandboxed frame anywhere: null, and the browser says it is another site.
        ({"origin": "null", "sec-fetch-site": "cross-site"}, 403),
        (
            {
                "origin": "null",
                "sec-fetch-site": "cross-site",
                "referer": "https://www.example.com/x",
            },
            202,
        ),
        ({"origin": "null", "sec-fetch-site": "same-site"}, 403),
    ],
)
async def test_null_origin_is_judged_by_what_the_browser_says(cors_client, db, headers, expected):
    response = await cors_client.post("/signup", json={"email": address()}, headers=headers)
    assert response.status_code == expected
    assert await stored(db) == (1 if expected == 202 else 0)


# --- the switches


@pytest.fixture
async def closed(env, db):
    switched_off = {
        **env,
        "SIGNUP_ENABLED": "false",
        "SIGNUP_CAPTCHA": "altcha",
        "SIGNUP_ALTCHA_HMAC_KEY": ALTCHA_KEY,
    }
    async with app_client(switched_off) as client:
        yield client


async def test_switched_off_json_signup_is_a_404_problem(closed, db):
    response = await closed.post("/signup", json={"email": address()})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:signet-signup:problem:signup-closed"
    assert await stored(db) == 0


async def test_switched_off_landing_page_says_signups_are_closed(closed):
    page = await closed.get("/")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Signups are closed" in page.text
    assert 'action="/signup"' not in page.text


async def test_switched_off_form_post_says_signups_are_closed(closed, db):
    response = await closed.post("/signup", data={"email": address()})
    assert response.status_code == 404
    assert "Signups are closed" in response.text
    assert await stored(db) == 0


async def test_switched_off_challenge_is_a_404_problem(closed):
    response = await closed.get("/altcha/challenge")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:signet-signup:problem:signup-closed"


async def test_reveal_switch_answers_409_for_a_confirmed_address(env, db):
    email = address()
    async with app_client({**env, "SIGNUP_REVEAL_EXISTING": "true"}) as client:
        assert (await client.post("/signup", json={"email": email})).status_code == 202
        await inspect().set_status(db, email_index=index(email), status="confirmed")
        response = await client.post("/signup", json={"email": email})
    assert response.status_code == 409


async def test_reveal_switch_409_sends_no_already_subscribed_mail(
    env, db, settings, worker, smtp_server
):
    # Given a confirmed address whose resend window is over, so a mail would be due
    email = address()
    async with app_client({**env, "SIGNUP_REVEAL_EXISTING": "true"}) as client:
        assert (await client.post("/signup", json={"email": email})).status_code == 202
        smtp_server.wait_for(to(email))
        await settled(db, email)
        await inspect().set_status(db, email_index=index(email), status="confirmed")
        await inspect().age_last_mailed(
            db, email_index=index(email), seconds=float(settings.resend_window + 1)
        )
        # When it signs up again and is told so on screen
        response = await client.post("/signup", json={"email": email})
    assert response.status_code == 409
    # Then no mail says it again
    await settled(db, email)
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation"]
    assert len([m for m in smtp_server.messages if to(email)(m)]) == 1


# --- the client address behind a proxy

PROXY = "203.0.113.7"  # the test transport's peer


@pytest.mark.parametrize(
    ("written_by_proxy", "forged_by_client"),
    [
        ("x-forwarded-for", {"forwarded": "for=198.51.100.66"}),
        ("forwarded", {"x-forwarded-for": "198.51.100.66"}),
    ],
)
async def test_only_the_header_the_proxy_writes_names_the_client(
    env, db, written_by_proxy, forged_by_client
):
    proxied = {
        **env,
        "SIGNUP_TRUSTED_PROXIES": f"{PROXY}/32",
        "SIGNUP_FORWARDED_HEADER": written_by_proxy,
    }
    real = "192.0.2.10"
    written = {
        "x-forwarded-for": {"x-forwarded-for": real},
        "forwarded": {"forwarded": f"for={real};proto=https"},
    }[written_by_proxy]
    email, spoofed = address(), address()
    async with app_client(proxied) as client:
        await client.post("/signup", json={"email": email}, headers={**forged_by_client, **written})
        # A proxy that wrote nothing (a path it does not front) leaves only the forgery
        await client.post("/signup", json={"email": spoofed}, headers=forged_by_client)
    settings = load_settings(proxied)
    assert (await rows(db, email))[0]["consent_ip_hash"] == consent.hash_ip(settings, real)[0]
    assert (await rows(db, spoofed))[0]["consent_ip_hash"] == consent.hash_ip(settings, PROXY)[0]
