"""Join with GitHub against GitHub's endpoints served by respx: the authorize redirect with
PKCE and a browser-bound state, success (a verified primary address joins without the
confirmation mail), a forged state, a replayed code, an unverified address, a refusal, a
cancel, GitHub being down; off unless configured."""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from signup_core import github_oauth
from tests.integration.test_signup import outbox, rows
from tests.privacy_support import privacy
from tests.subscriber_support import consent
from tests.support import app_client, inspect

CLIENT_ID = "Iv1.test-client-id"
SECRET = "test-github-client-secret-0123456789"
TOKEN = "gho_test-access-token-0123456789abcdef"


@pytest.fixture
def github_env(env):
    return {**env, "SIGNUP_GITHUB_CLIENT_ID": CLIENT_ID, "SIGNUP_GITHUB_CLIENT_SECRET": SECRET}


def person() -> str:
    return f"octo-{uuid.uuid4().hex[:10]}@example.com"


def emails(address: str, verified: bool = True) -> list[dict]:
    return [
        {"email": "other@example.org", "primary": False, "verified": True, "visibility": None},
        {"email": address, "primary": True, "verified": verified, "visibility": "public"},
    ]


async def start(client) -> dict[str, str]:
    """Press the form's GitHub button; returns the authorize URL's query."""
    answer = await client.post("/github/start", data={"list": "newsletter", "locale": "en"})
    assert answer.status_code == 303
    # The state is bound to this browser: a signed cookie, short-lived, sent back only on
    # GitHub's top-level redirect to us (SameSite=Lax), out of reach of scripts.
    cookie = answer.headers["set-cookie"].lower()
    for part in ("signup_github=", "httponly", "max-age=600", "path=/github", "samesite=lax"):
        assert part in cookie
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == github_oauth.AUTHORIZE_URL
    return {k: v[0] for k, v in parse_qs(location.query).items()}


class GitHub:
    """GitHub's two endpoints as respx routes; the token endpoint checks the PKCE verifier
    against the challenge the authorize redirect carried, and accepts each code once."""

    def __init__(self, mock: respx.MockRouter, address_list: list[dict]) -> None:
        self.challenge = ""
        self.used: set[str] = set()
        self.token = mock.post(github_oauth.TOKEN_URL).mock(side_effect=self._token)
        self.emails = mock.get(github_oauth.EMAILS_URL).mock(
            side_effect=lambda request: self._emails(request, address_list)
        )

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["client_id"] == CLIENT_ID and form["client_secret"] == SECRET
        assert request.headers["accept"] == "application/json"
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != self.challenge:
            return httpx.Response(200, json={"error": "invalid_grant"})
        if form["code"] in self.used:
            return httpx.Response(200, json={"error": "bad_verification_code"})
        self.used.add(form["code"])
        return httpx.Response(200, json={"access_token": TOKEN, "token_type": "bearer"})

    def _emails(self, request: httpx.Request, address_list: list[dict]) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        return httpx.Response(200, json=address_list)


async def test_verified_primary_address_joins_without_a_confirmation_mail(github_env, db, caplog):
    caplog.set_level(logging.DEBUG)
    email = person()
    with respx.mock(assert_all_called=True) as mock:
        github = GitHub(mock, emails(email))
        async with app_client(github_env) as client:
            # Given the visitor pressed the button: GitHub's page, with PKCE and a state
            query = await start(client)
            assert query["client_id"] == CLIENT_ID and query["scope"] == "user:email"
            assert query["redirect_uri"] == "http://signup.test/github/callback"
            assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 43
            github.challenge = query["code_challenge"]
            cookie = client.cookies.jar
            [set_cookie] = [c for c in cookie if c.name == "signup_github"]
            assert set_cookie.path == "/github" and set_cookie.has_nonstandard_attr("HttpOnly")

            # When GitHub sends them back with a code
            back = await client.get(
                "/github/callback", params={"code": "c0de", "state": query["state"]}
            )

    # Then they are on the list at once, the consent record says GitHub verified it
    assert back.status_code == 200 and "You are on the list" in back.text
    assert [r["status"] for r in await rows(db, email)] == ["confirmed"]
    [record] = await consent(db, email)
    assert record["consent_source"] == "github" and record["confirmed_via"] == "provider"
    assert [o["kind"] for o in await outbox(db, email)] == ["welcome"]
    # And the access token went nowhere: not in the logs, the database or the audit trail
    # (our own loggers: the session's SMTP catcher logs the welcome mail the worker sends)
    ours = [r for r in caplog.records if r.name.startswith("signup_")]
    assert any(r.name == "signup_api.github_join" for r in ours)
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in ours)
    assert TOKEN not in logged and email not in logged and SECRET not in logged
    dumped = str([dict(r) for r in await rows(db, email)]) + str(
        [dict(r) async for r in privacy().audit_actions(db)]
    )
    assert TOKEN not in dumped


async def test_forged_or_missing_state_is_refused_before_github_is_asked(github_env, db):
    with respx.mock(assert_all_called=False) as mock:
        github = GitHub(mock, emails(person()))
        async with app_client(github_env) as client:
            query = await start(client)
            forged = await client.get(
                "/github/callback", params={"code": "c0de", "state": "forged-" + query["state"][7:]}
            )
            assert forged.status_code == 400 and "This sign-in did not work" in forged.text
            client.cookies.clear()
            no_cookie = await client.get(
                "/github/callback", params={"code": "c0de", "state": query["state"]}
            )
            assert no_cookie.status_code == 400
        # Another browser's state, with this browser's (valid) cookie: refused as well.
        async with app_client(github_env) as other:
            theirs = await start(other)
        async with app_client(github_env) as client:
            await start(client)
            crossed = await client.get(
                "/github/callback", params={"code": "c0de", "state": theirs["state"]}
            )
            assert crossed.status_code == 400
    assert not github.token.called and not github.emails.called
    assert (await inspect().count_rows(db))["subscriptions"] == 0


async def test_a_replayed_code_is_refused(github_env, db):
    email = person()
    with respx.mock(assert_all_called=False) as mock:
        github = GitHub(mock, emails(email))
        async with app_client(github_env) as client:
            query = await start(client)
            github.challenge = query["code_challenge"]
            cookie = client.cookies.get("signup_github")
            params = {"code": "c0de", "state": query["state"]}
            assert (await client.get("/github/callback", params=params)).status_code == 200
            # The same request again, cookie and all: refused without asking GitHub
            client.cookies.set("signup_github", cookie, domain="signup.test", path="/github")
            again = await client.get("/github/callback", params=params)
            assert again.status_code == 400 and github.token.call_count == 1
            # The same code with a fresh sign-in: GitHub says it was used, and so do we
            query = await start(client)
            github.challenge = query["code_challenge"]
            replayed = await client.get(
                "/github/callback", params={"code": "c0de", "state": query["state"]}
            )
            assert replayed.status_code == 400 and "This sign-in did not work" in replayed.text
            assert github.token.call_count == 2
    assert len(await rows(db, email)) == 1


async def test_unverified_address_gets_the_normal_confirmation_mail(github_env, db):
    email = person()
    with respx.mock() as mock:
        github = GitHub(mock, emails(email, verified=False))
        async with app_client(github_env) as client:
            query = await start(client)
            github.challenge = query["code_challenge"]
            back = await client.get(
                "/github/callback", params={"code": "c0de", "state": query["state"]}
            )
    assert back.status_code == 303 and back.headers["location"] == "/thanks"
    assert [r["status"] for r in await rows(db, email)] == ["pending"]
    assert [o["kind"] for o in await outbox(db, email)] == ["confirmation"]
    assert (await consent(db, email))[0]["consent_source"] == "github"


async def test_no_primary_address_lands_on_the_address_form(github_env, db):
    with respx.mock() as mock:
        github = GitHub(mock, [{"email": "x@example.org", "primary": False, "verified": True}])
        async with app_client(github_env) as client:
            query = await start(client)
            github.challenge = query["code_challenge"]
            back = await client.get(
                "/github/callback", params={"code": "c0de", "state": query["state"]}
            )
    assert back.status_code == 200 and "GitHub gave us no verified address" in back.text
    assert 'action="/signup"' in back.text


async def test_cancel_on_github_lands_on_a_clear_page(github_env, db):
    with respx.mock(assert_all_called=False) as mock:
        github = GitHub(mock, [])
        async with app_client(github_env) as client:
            query = await start(client)
            back = await client.get(
                "/github/callback", params={"error": "access_denied", "state": query["state"]}
            )
    assert back.status_code == 200 and "You did not sign in with GitHub" in back.text
    assert not github.token.called


@pytest.mark.parametrize(
    "outage",
    [
        lambda mock: mock.post(github_oauth.TOKEN_URL).mock(side_effect=httpx.ConnectError("down")),
        lambda mock: mock.post(github_oauth.TOKEN_URL).respond(
            502, text="<html>Bad gateway</html>"
        ),
        lambda mock: (
            mock.post(github_oauth.TOKEN_URL).respond(200, json={"access_token": TOKEN}),
            mock.get(github_oauth.EMAILS_URL).respond(503),
        ),
        lambda mock: (
            mock.post(github_oauth.TOKEN_URL).respond(200, json={"access_token": TOKEN}),
            mock.get(github_oauth.EMAILS_URL).mock(side_effect=httpx.ReadTimeout("slow")),
        ),
    ],
    ids=["token-unreachable", "token-502", "emails-503", "emails-timeout"],
)
async def test_github_down_lands_on_a_page_that_says_so(github_env, db, outage):
    with respx.mock() as mock:
        outage(mock)
        async with app_client(github_env) as client:
            query = await start(client)
            back = await client.get(
                "/github/callback", params={"code": "c0de", "state": query["state"]}
            )
    assert back.status_code == 503 and "GitHub did not answer" in back.text
    assert back.headers["retry-after"] == "30"
    assert 'action="/signup"' in back.text  # the address form, as the other way in


async def test_off_unless_configured(client, db):
    landing = await client.get("/")
    assert "/github/start" not in landing.text
    assert (await client.post("/github/start", data={})).status_code == 404
    assert (
        await client.get("/github/callback", params={"code": "x", "state": "y"})
    ).status_code == 404


async def test_button_on_the_landing_page_and_the_kit_and_csp_allows_github(github_env, db):
    async with app_client(github_env) as client:
        landing = await client.get("/")
        kit = await client.get("/kit/form.html")
    assert 'formaction="/github/start"' in landing.text
    assert 'formaction="http://signup.test/github/start"' in kit.text
    assert "form-action 'self' https://github.com" in landing.headers["content-security-policy"]


async def test_only_one_half_of_the_credentials_stops_start_up(env):
    from signup_core.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="SIGNUP_GITHUB_CLIENT_SECRET is required"):
        load_settings({**env, "SIGNUP_GITHUB_CLIENT_ID": CLIENT_ID})
