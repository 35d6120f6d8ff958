"""signupctl doctor's configuration-only checks: every error at once, PUBLIC_BASE_URL, and a
webhook secret for the provider mail goes through."""

from __future__ import annotations

import pytest

from signup_core.diagnosis import configuration
from signup_core.diagnosis.results import FAIL, PASS, SKIP
from signup_core.settings import load_settings
from tests.unit.test_settings import BASE

SENDGRID_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"


def webhooks(**env: str):
    return configuration.webhooks(load_settings({**BASE, **env}))


@pytest.mark.parametrize(
    ("env", "status", "says"),
    [
        ({}, SKIP, "plain SMTP relay"),
        (
            {"SIGNUP_MAIL_TRANSPORT": "postmark", "SIGNUP_POSTMARK_SERVER_TOKEN": "t"},
            FAIL,
            "SIGNUP_POSTMARK_WEBHOOK_SECRET is not set",
        ),
        (
            {
                "SIGNUP_MAIL_TRANSPORT": "postmark",
                "SIGNUP_POSTMARK_SERVER_TOKEN": "t",
                "SIGNUP_POSTMARK_WEBHOOK_SECRET": "w" * 32,
            },
            PASS,
            "https://news.example.com/webhooks/postmark",
        ),
        # An SMTP relay of a provider counts as that provider's transport.
        ({"SMTP_HOST": "smtp.sendgrid.net"}, FAIL, "SIGNUP_SENDGRID_PUBLIC_KEY is not set"),
        (
            {"SMTP_HOST": "smtp.sendgrid.net", "SIGNUP_SENDGRID_PUBLIC_KEY": SENDGRID_KEY},
            PASS,
            "secret set for sendgrid",
        ),
        (
            {"SMTP_HOST": "email-smtp.eu-west-1.amazonaws.com"},
            FAIL,
            "SIGNUP_SES_TOPIC_ARNS is not set",
        ),
        ({"SIGNUP_BREVO_WEBHOOK_NETWORKS": "1.179.112.0/20"}, FAIL, "BREVO_WEBHOOK_SECRET"),
    ],
)
def test_the_provider_mail_goes_through_needs_its_webhook_secret(env, status, says):
    result = webhooks(**env)
    assert result.status == status and says in result.detail + (result.fix or ""), result


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://news.example.com", PASS),
        ("http://127.0.0.1:8000", PASS),
        ("http://localhost:8000", PASS),
        ("http://news.example.com", FAIL),
        ("https://user:pw@news.example.com", FAIL),
        ("https://signup", FAIL),
    ],
)
def test_public_base_url_is_https_outside_local_runs(url, status):
    result = configuration.public_base_url(load_settings({**BASE, "PUBLIC_BASE_URL": url}))
    assert result.status == status, result
    if status == FAIL:
        assert "pw" not in result.detail and result.fix.startswith("set PUBLIC_BASE_URL")


def test_every_error_at_once_the_admin_listeners_included():
    env = {k: v for k, v in BASE.items() if k != "SIGNUP_SIGNING_KEY"}
    env |= {"PORT": "8000", "SIGNUP_ADMIN_PORT": "8000", "SMTP_PORT": "none"}
    settings, [result] = configuration.check(env)
    assert settings is None  # a malformed variable: the other checks cannot run
    assert result.status == FAIL
    assert "SIGNUP_SIGNING_KEY is required but not set" in result.more
    assert any(line.startswith("SMTP_PORT is invalid") for line in result.more)
    env.pop("SMTP_PORT")
    settings, [result, _] = configuration.check(env)
    assert settings is not None and settings.signing_key is None
    assert "SIGNUP_ADMIN_PORT must differ from PORT and SIGNUP_METRICS_PORT" in result.more


def test_error_lines_reads_a_list_newlines_or_semicolons():
    from signup_core.settings import ConfigError

    listed = ConfigError("two")
    listed.errors = ["A is bad", "B is bad"]
    assert configuration.error_lines(listed) == ["A is bad", "B is bad"]
    assert configuration.error_lines(ConfigError("A is bad\nB is bad")) == ["A is bad", "B is bad"]
    assert configuration.error_lines(ConfigError("A is bad; B is bad")) == ["A is bad", "B is bad"]
