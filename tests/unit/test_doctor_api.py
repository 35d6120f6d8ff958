"""signupctl doctor asks each HTTP API provider its cheapest authenticated read (respx stands in
for the provider): an accepted key passes, a refused one fails naming the provider."""

from __future__ import annotations

import httpx
import pytest
import respx

from signup_core.diagnosis import transport
from signup_core.diagnosis.results import FAIL, PASS
from signup_core.settings import load_settings
from tests.unit.test_settings import BASE

PROVIDERS = {
    "postmark": (
        "https://api.postmarkapp.com/server",
        {"SIGNUP_POSTMARK_SERVER_TOKEN": "pm-token"},
        ("X-Postmark-Server-Token", "pm-token"),
    ),
    "sendgrid": (
        "https://api.sendgrid.com/v3/scopes",
        {"SIGNUP_SENDGRID_API_KEY": "SG.key"},
        ("Authorization", "Bearer SG.key"),
    ),
    "mailgun": (
        "https://api.eu.mailgun.net/v3/domains/mg.example.com",
        {
            "SIGNUP_MAILGUN_API_KEY": "mg-key",
            "SIGNUP_MAILGUN_DOMAIN": "mg.example.com",
            "SIGNUP_MAILGUN_REGION": "eu",
        },
        ("Authorization", "Basic " + "YXBpOm1nLWtleQ=="),  # api:mg-key
    ),
    "resend": (
        "https://api.resend.com/domains",
        {"SIGNUP_RESEND_API_KEY": "re_key"},
        ("Authorization", "Bearer re_key"),
    ),
    "brevo": (
        "https://api.brevo.com/v3/account",
        {"SIGNUP_BREVO_API_KEY": "xkeysib-key"},
        ("api-key", "xkeysib-key"),
    ),
}


def settings(provider: str):
    _, env, _ = PROVIDERS[provider]
    return load_settings({**BASE, "SIGNUP_MAIL_TRANSPORT": provider, **env})


async def probe(provider: str, response: httpx.Response):
    url, _, (header, value) = PROVIDERS[provider]
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(url).mock(return_value=response)
        async with httpx.AsyncClient() as client:
            result = await transport.check(settings(provider), client)
    assert route.calls.last.request.headers[header] == value
    return result


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_an_accepted_key_passes_and_nothing_is_sent(provider):
    body = {"scopes": ["mail.send"], "domain": {"state": "active"}}
    result = await probe(provider, httpx.Response(200, json=body))
    assert result.status == PASS and "key accepted" in result.detail, result
    assert "nothing sent" in result.detail


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_a_refused_key_fails_naming_the_provider(provider):
    result = await probe(provider, httpx.Response(401, json={"message": "bad key"}))
    assert result.status == FAIL and result.name == "mail-transport"
    assert f"{provider}: the API key was refused" in result.detail and result.fix
    key = next(iter(PROVIDERS[provider][1].values()))  # the secret, never shown
    assert key not in result.detail + result.fix


async def test_provider_specific_answers():
    scopes = await probe("sendgrid", httpx.Response(200, json={"scopes": ["stats.read"]}))
    assert scopes.status == FAIL and "mail.send" in scopes.detail
    missing = await probe("mailgun", httpx.Response(404, json={"message": "Domain not found"}))
    assert missing.status == FAIL and "SIGNUP_MAILGUN_REGION" in missing.fix
    unverified = await probe(
        "mailgun", httpx.Response(200, json={"domain": {"state": "unverified"}})
    )
    assert unverified.status == FAIL and "unverified" in unverified.detail
    # Resend's sending-only keys may not read domains; being told so proves the key is valid.
    restricted = {"name": "restricted_api_key", "message": "This API key is restricted"}
    sending_only = await probe("resend", httpx.Response(401, json=restricted))
    assert sending_only.status == PASS and "sending-only" in sending_only.detail


async def test_an_unreachable_api_fails_with_the_way_out():
    with respx.mock() as mock:
        mock.get(PROVIDERS["brevo"][0]).mock(side_effect=httpx.ConnectError("refused"))
        async with httpx.AsyncClient() as client:
            result = await transport.check(settings("brevo"), client)
    assert result.status == FAIL and "unreachable: ConnectError" in result.detail
