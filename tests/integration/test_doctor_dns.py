"""signupctl doctor's sender-domain checks against a real DNS server on loopback: a domain that
passes, and domains that each miss one record (SPF, DKIM, DMARC) or get one wrong."""

from __future__ import annotations

import pytest

from devstack.processes import free_port
from signup_core.diagnosis import sender_domain
from signup_core.diagnosis.results import FAIL, PASS, SKIP
from signup_core.settings import load_settings
from tests.dns_zone import dns_server
from tests.unit.test_settings import BASE


@pytest.fixture(scope="module")
def resolver():
    with dns_server() as address:
        yield address


def settings_for(domain: str, **env: str):
    values = {
        **BASE,
        "SIGNUP_MAIL_FROM": f"News <news@{domain}>",
        "SMTP_HOST": "smtp.relay.test",
        "SIGNUP_DKIM_SELECTORS": "s1",
        **env,
    }
    return load_settings(values)


async def checked(resolver, domain: str, **env: str) -> dict:
    results = await sender_domain.check(settings_for(domain, **env), resolver)
    return {r.name: r for r in results}


async def test_a_domain_with_every_record_passes_and_says_how(resolver):
    found = await checked(resolver, "good.test")
    assert [r.status for r in found.values()] == [PASS, PASS, PASS], found
    assert "by include:_spf.relay.test" in found["spf"].detail
    assert "198.51.100.7" in found["spf"].detail
    assert "s1 (rsa)" in found["dkim"].detail
    dmarc = found["dmarc"].detail
    assert "p=reject, adkim=s, aspf=r" in dmarc and "DKIM (d=good.test)" in dmarc


@pytest.mark.parametrize(
    ("domain", "failing", "says"),
    [
        ("nospf.test", "spf", "no SPF record (TXT v=spf1) at nospf.test"),
        ("nodkim.test", "dkim", "no DKIM key at s1._domainkey.nodkim.test"),
        ("nodmarc.test", "dmarc", "no DMARC record at _dmarc.nodmarc.test"),
        ("revoked.test", "dkim", "revoked (empty p=)"),
        ("uncovered.test", "spf", "does not authorise SMTP_HOST smtp.relay.test (198.51.100.7)"),
    ],
)
async def test_a_domain_missing_one_record_fails_that_check_only(resolver, domain, failing, says):
    found = await checked(resolver, domain)
    assert found[failing].status == FAIL and says in found[failing].detail, found[failing]
    assert found[failing].fix
    assert {n for n, r in found.items() if r.status == FAIL} == {failing}, found


async def test_spf_names_the_term_that_refused_and_follows_mx(resolver):
    uncovered = await checked(resolver, "uncovered.test")
    assert "(-all matched first)" in uncovered["spf"].detail
    assert "ip4:198.51.100.7" in uncovered["spf"].fix
    by_mx = await checked(resolver, "by-mx.test")
    assert by_mx["spf"].status == PASS and "by mx" in by_mx["spf"].detail
    redirected = await checked(resolver, "by-redirect.test")
    assert redirected["spf"].status == PASS and "by ip4:198.51.100.0/24" in redirected["spf"].detail
    # What is not evaluated is said, not taken for a failure of the relay.
    macro = await checked(resolver, "by-macro.test")
    assert macro["spf"].status == FAIL
    assert "not evaluated: macros, ptr" in macro["spf"].detail


async def test_what_was_not_checked_is_said(resolver):
    # DMARC p=none passes, saying what it means; no selectors: DKIM skipped, alignment unknown.
    found = await checked(resolver, "nodkim.test", SIGNUP_DKIM_SELECTORS="")
    assert found["dkim"].status == SKIP and "SIGNUP_DKIM_SELECTORS" in found["dkim"].fix
    assert found["dmarc"].status == PASS
    assert "p=none only asks for reports" in found["dmarc"].detail
    assert "DKIM alignment not checked" in found["dmarc"].detail
    # A local relay: its outbound address is unknown, so coverage is not claimed.
    local = await checked(resolver, "good.test", SMTP_HOST="127.0.0.1")
    assert local["spf"].status == PASS and "coverage not checked" in local["spf"].detail
    # An HTTP API provider sends with its own return path.
    api = await checked(
        resolver,
        "good.test",
        SIGNUP_MAIL_TRANSPORT="postmark",
        SIGNUP_POSTMARK_SERVER_TOKEN="server-token",
    )
    assert "whether it covers postmark is not checked" in api["spf"].detail


async def test_dmarc_fails_when_nothing_aligns_with_the_from_domain(resolver):
    # Mailgun signs and bounces on its sending domain; under another organisation it cannot
    # align with good.test (adkim=s there), so receivers applying p=reject drop the mail.
    found = await checked(
        resolver,
        "good.test",
        SIGNUP_MAIL_TRANSPORT="mailgun",
        SIGNUP_MAILGUN_API_KEY="key-1",
        SIGNUP_MAILGUN_DOMAIN="mg.other.test",
    )
    assert found["dmarc"].status == FAIL, found["dmarc"]
    assert "nothing that sends or signs for good.test aligns" in found["dmarc"].detail


async def test_a_local_sender_skips_and_a_silent_resolver_fails_naming_it():
    local = await sender_domain.check(load_settings(BASE), ("127.0.0.1", free_port()))
    assert {r.status for r in local} == {SKIP}  # noreply@localhost: a local run
    silent = ("127.0.0.1", free_port())  # nothing answers there
    found = await sender_domain.check(settings_for("good.test"), silent, lifetime=0.3)
    assert {r.status for r in found} == {FAIL}
    assert all("DNS look-up failed" in r.detail and "--resolver" in r.fix for r in found)
