"""The subscriber's signed links and the GitHub flow's pure parts: no I/O, the clock injected."""

from __future__ import annotations

import datetime
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from signup_core import github_oauth, manage_links, unsubscribe_links
from signup_core.clock import FixedClock
from signup_core.settings import ConfigError, load_settings
from tests.unit.test_settings import BASE

MADE = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
ID = uuid.UUID("2b1f6f1e-8a57-4d7e-9c9e-0d3c1b6a4f10")


def at(seconds: int) -> FixedClock:
    return FixedClock(MADE + datetime.timedelta(seconds=seconds))


@pytest.fixture
def settings():
    return load_settings({**BASE, "SIGNUP_MANAGE_LINK_TTL": "1d", "SIGNUP_DATA_LINK_TTL": "600"})


@pytest.mark.parametrize(("purpose", "ttl"), [("manage", 86400), ("data", 600)])
def test_a_link_works_for_its_lifetime_and_not_a_second_longer(settings, purpose, ttl):
    token = manage_links.sign(settings, purpose, ID, at(0))
    assert manage_links.verify(settings, purpose, token, at(ttl)).unsubscribe_id == ID
    late = manage_links.verify(settings, purpose, token, at(ttl + 1))
    assert late.unsubscribe_id is None and late.expired


def test_each_kind_of_link_opens_only_its_own_door(settings):
    manage = manage_links.sign(settings, "manage", ID, at(0))
    data = manage_links.sign(settings, "data", ID, at(0))
    unsubscribe = unsubscribe_links.sign(settings, ID)
    assert manage_links.verify(settings, "data", manage, at(1)).unsubscribe_id is None
    assert manage_links.verify(settings, "manage", data, at(1)).unsubscribe_id is None
    assert manage_links.verify(settings, "manage", unsubscribe, at(1)).unsubscribe_id is None
    assert unsubscribe_links.verify(settings, manage) is None


def test_a_link_names_no_address_and_survives_a_signing_key_rotation(settings):
    token = manage_links.sign(settings, "manage", ID, at(0))
    assert "@" not in token and "example" not in token
    rotated = load_settings(
        {
            **BASE,
            "SIGNUP_SIGNING_KEY": "a-brand-new-signing-key-0123456789ab",
            "SIGNUP_SIGNING_KEY_PREVIOUS": BASE["SIGNUP_SIGNING_KEY"],
        }
    )
    assert manage_links.verify(rotated, "manage", token, at(1)).unsubscribe_id == ID
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    assert manage_links.verify(settings, "manage", forged, at(1)).unsubscribe_id is None


def test_pkce_challenge_matches_rfc_7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert github_oauth.challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_new_flow_has_a_fresh_state_and_a_verifier_rfc_7636_accepts():
    one, two = github_oauth.begin("newsletter", "de"), github_oauth.begin("newsletter", "de")
    assert one.state != two.state and one.verifier != two.verifier
    assert 43 <= len(one.verifier) <= 128 and len(one.state) >= 43


def test_the_state_cookie_is_signed_and_short_lived():
    settings = load_settings(
        {**BASE, "SIGNUP_GITHUB_CLIENT_ID": "id", "SIGNUP_GITHUB_CLIENT_SECRET": "secret"}
    )
    flow = github_oauth.begin("newsletter", "en")
    sealed = github_oauth.seal(settings, flow, at(0))
    assert github_oauth.unseal(settings, sealed, at(github_oauth.STATE_TTL)) == flow
    assert github_oauth.unseal(settings, sealed, at(github_oauth.STATE_TTL + 1)) is None
    assert github_oauth.unseal(settings, sealed[:-2] + "xx", at(1)) is None
    assert github_oauth.unseal(settings, None, at(1)) is None
    query = parse_qs(urlsplit(github_oauth.authorize_url(settings, flow)).query)
    assert query["code_challenge"] == [github_oauth.challenge(flow.verifier)]
    assert query["state"] == [flow.state] and "client_secret" not in query


@pytest.mark.parametrize("only", ["SIGNUP_GITHUB_CLIENT_ID", "SIGNUP_GITHUB_CLIENT_SECRET"])
def test_github_needs_both_halves_of_its_credentials(only):
    with pytest.raises(ConfigError, match="SIGNUP_GITHUB_CLIENT_"):
        load_settings({**BASE, only: "value"})
    assert not load_settings(BASE).github_join
