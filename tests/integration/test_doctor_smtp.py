"""signupctl doctor's SMTP check through TLS: STARTTLS and implicit TLS with a certificate
trusted through SMTP_CA_FILE log in and send nothing; an untrusted certificate fails at the
TLS step, and a relay that offers AUTH only after STARTTLS is named when SMTP_TLS=none."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from devstack.mailcatcher import Catcher
from devstack.processes import free_port
from signup_core.diagnosis.results import FAIL, PASS
from signup_core.diagnosis.transport import smtp
from signup_core.settings import load_settings
from tests.integration.test_smtp_tls import GOOD, check_login, tls_files  # noqa: F401
from tests.unit.test_settings import BASE


@pytest.fixture
def starttls_relay(tls_files):  # noqa: F811
    cert, context = tls_files
    catcher, port = Catcher(), free_port()
    controller = Controller(
        catcher,
        hostname="127.0.0.1",
        port=port,
        authenticator=check_login,
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
    )
    controller.start()
    yield port, cert, catcher
    controller.stop()


def settings(port: int, mode: str, ca_file=None):
    env = {
        **BASE,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": mode,
        "SMTP_USERNAME": "relay-user",
        "SMTP_PASSWORD": GOOD,
        "SMTP_TIMEOUT": "3",
    }
    return load_settings({**env, **({"SMTP_CA_FILE": str(ca_file)} if ca_file else {})})


async def test_starttls_and_login_pass_and_nothing_is_sent(starttls_relay):
    port, cert, catcher = starttls_relay
    result = await smtp(settings(port, "starttls", cert))
    assert result.status == PASS, result
    assert "connected, EHLO, STARTTLS, AUTH accepted; nothing sent" in result.detail
    assert catcher.messages == []


async def test_an_untrusted_certificate_fails_at_starttls(starttls_relay):
    port, _, _ = starttls_relay
    result = await smtp(settings(port, "starttls"))
    assert result.status == FAIL and "STARTTLS failed" in result.detail, result
    assert "SMTP_CA_FILE" in result.fix


async def test_auth_offered_only_after_starttls_is_named(starttls_relay):
    port, _, _ = starttls_relay
    result = await smtp(settings(port, "none"))
    assert result.status == FAIL and "AUTH failed: the server offers no AUTH" in result.detail
    assert "SMTP_TLS=starttls" in result.fix
