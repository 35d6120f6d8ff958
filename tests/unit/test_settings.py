"""Settings come from the environment once, fail fast by name, and hide secrets."""

from __future__ import annotations

import pytest

from signup_core.settings import ConfigError, load_settings

BASE = {
    "DATABASE_URL": "postgresql://u:pw@db/x",
    "REDIS_URL": "redis://r:6379/0",
    "PUBLIC_BASE_URL": "https://news.example.com/",
    "SIGNUP_BLIND_INDEX_KEY": "k" * 32,
    "SIGNUP_SIGNING_KEY": "s" * 32,
    "SIGNUP_SEAL_KEYS": "k1:" + "A" * 43,
}


def test_minimal_environment_gives_defaults():
    s = load_settings(BASE)
    assert s.port == 8000 and s.token_ttl == 48 * 3600 and s.lists == ("newsletter",)
    assert s.public_base_url == "https://news.example.com"
    assert s.mail_domain == "news.example.com"


@pytest.mark.parametrize("name", sorted(BASE))
def test_missing_required_variable_is_named(name):
    env = {k: v for k, v in BASE.items() if k != name}
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("DATABASE_URL", "mysql://x/y"),
        ("PUBLIC_BASE_URL", "news.example.com"),
        ("SIGNUP_BLIND_INDEX_KEY", "short"),
        ("SIGNUP_CHECK_DELIVERABILITY", "maybe"),
        ("SMTP_TLS", "sometimes"),
        ("SIGNUP_LISTS", " , "),
        ("SIGNUP_CONFIRMED_URL", "javascript:alert(1)"),
    ],
)
def test_malformed_variable_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({**BASE, name: value})


def test_secret_can_come_from_a_file(tmp_path):
    path = tmp_path / "key"
    path.write_text("f" * 40 + "\n")
    env = {k: v for k, v in BASE.items() if k != "SIGNUP_BLIND_INDEX_KEY"}
    s = load_settings({**env, "SIGNUP_BLIND_INDEX_KEY_FILE": str(path)})
    assert s.blind_index_key.value == "f" * 40


def test_unreadable_secret_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="SMTP_PASSWORD_FILE"):
        load_settings({**BASE, "SMTP_PASSWORD_FILE": str(tmp_path / "missing")})


def test_repr_hides_secrets():
    s = load_settings({**BASE, "SMTP_PASSWORD": "hunter2-password"})
    shown = repr(s)
    for secret in ("pw@db", "k" * 32, "hunter2-password", "r:6379"):
        assert secret not in shown


def test_smtputf8_is_off_by_default_and_only_for_smtp():
    assert load_settings(BASE).smtputf8 is False
    assert load_settings({**BASE, "SIGNUP_SMTPUTF8": "true"}).smtputf8 is True
    postmark = {
        **BASE,
        "SIGNUP_SMTPUTF8": "true",
        "SIGNUP_MAIL_TRANSPORT": "postmark",
        "SIGNUP_POSTMARK_SERVER_TOKEN": "t",
    }
    with pytest.raises(ConfigError, match="SIGNUP_SMTPUTF8"):
        load_settings(postmark)


@pytest.mark.parametrize(
    ("transport", "needed"),
    [
        ("sendgrid", "SIGNUP_SENDGRID_API_KEY"),
        ("mailgun", "SIGNUP_MAILGUN_API_KEY"),
        ("resend", "SIGNUP_RESEND_API_KEY"),
        ("brevo", "SIGNUP_BREVO_API_KEY"),
    ],
)
def test_each_http_transport_names_what_it_needs(transport, needed):
    with pytest.raises(ConfigError, match=needed):
        load_settings({**BASE, "SIGNUP_MAIL_TRANSPORT": transport})


def test_mailgun_needs_its_domain_and_takes_a_region():
    env = {**BASE, "SIGNUP_MAIL_TRANSPORT": "mailgun", "SIGNUP_MAILGUN_API_KEY": "k"}
    with pytest.raises(ConfigError, match="SIGNUP_MAILGUN_DOMAIN"):
        load_settings(env)
    with pytest.raises(ConfigError, match="SIGNUP_MAILGUN_REGION"):
        load_settings(
            {**env, "SIGNUP_MAILGUN_DOMAIN": "mg.example.org", "SIGNUP_MAILGUN_REGION": "ap"}
        )
    s = load_settings(
        {**env, "SIGNUP_MAILGUN_DOMAIN": "mg.example.org", "SIGNUP_MAILGUN_REGION": "EU"}
    )
    assert s.mailgun_region == "eu"


@pytest.mark.parametrize(
    "value", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ="]
)
def test_resend_webhook_secret_must_be_as_resend_shows_it(value):
    with pytest.raises(ConfigError, match="SIGNUP_RESEND_WEBHOOK_SECRET"):
        load_settings({**BASE, "SIGNUP_RESEND_WEBHOOK_SECRET": value})


def test_smtputf8_is_refused_with_any_http_transport():
    env = {**BASE, "SIGNUP_SMTPUTF8": "true", "SIGNUP_MAIL_TRANSPORT": "resend"}
    with pytest.raises(ConfigError, match="SIGNUP_SMTPUTF8"):
        load_settings({**env, "SIGNUP_RESEND_API_KEY": "re_x"})


def test_every_bad_variable_is_named_at_once():
    env = {k: v for k, v in BASE.items() if k not in ("REDIS_URL", "SIGNUP_SEAL_KEYS")}
    env["PORT"] = "eighty"
    with pytest.raises(ConfigError) as e:
        load_settings(env)
    for name in ("REDIS_URL", "SIGNUP_SEAL_KEYS", "PORT"):
        assert name in str(e.value)


def test_retention_takes_durations_and_guards_the_soft_bounce_window():
    s = load_settings({**BASE, "SIGNUP_RETAIN_PENDING": "14d", "SIGNUP_RETAIN_TOKENS": "12h"})
    assert s.retain_pending == 14 * 86400 and s.retain_tokens == 12 * 3600
    with pytest.raises(ConfigError, match="SIGNUP_RETAIN_EVENTS"):
        load_settings({**BASE, "SIGNUP_RETAIN_EVENTS": "1d"})


def test_log_format_is_json_unless_console_is_asked_for():
    assert load_settings(BASE).log_format == "json"
    assert load_settings({**BASE, "SIGNUP_LOG_FORMAT": "console"}).log_format == "console"
    with pytest.raises(ConfigError, match="SIGNUP_LOG_FORMAT"):
        load_settings({**BASE, "SIGNUP_LOG_FORMAT": "pretty"})


def test_the_admin_listener_names_what_it_lacks():
    from signup_core.settings import ConfigError, check_admin, load_settings

    base = {
        "DATABASE_URL": "postgresql://u@h/db",
        "REDIS_URL": "redis://h",
        "PUBLIC_BASE_URL": "https://s.test",
        "SIGNUP_BLIND_INDEX_KEY": "k" * 32,
        "SIGNUP_SIGNING_KEY": "s" * 32,
        "SIGNUP_SEAL_KEYS": "t1:dGVzdC1zZWFsLWtleS1vbmUtMDEyMzQ1Njc4OWFiY2Q",
    }
    check_admin(load_settings(base))  # off: nothing needed
    with pytest.raises(ConfigError) as e:
        check_admin(load_settings({**base, "SIGNUP_ADMIN_PORT": "9443"}))
    assert "SIGNUP_ADMIN_JWKS" in str(e.value)
    legacy = {**base, "SIGNUP_ADMIN_PORT": "9443", "SIGNUP_ADMIN_HS256_SECRET": "x" * 32}
    with pytest.raises(ConfigError) as e:
        check_admin(load_settings(legacy))
    assert "SIGNUP_ADMIN_HS256_UNTIL" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_settings(
            {
                **base,
                "SIGNUP_ADMIN_JWKS": "http://idp.test/jwks",
                "SIGNUP_ADMIN_JWT_ALGORITHMS": "HS256",
            }
        )
    assert "SIGNUP_ADMIN_JWKS" in str(e.value) and "SIGNUP_ADMIN_JWT_ALGORITHMS" in str(e.value)


def test_every_kind_of_problem_is_reported_at_once():
    env = {k: v for k, v in BASE.items() if k != "REDIS_URL"}
    env |= {
        "PORT": "0",  # malformed
        "SIGNUP_CAPTCHA": "altcha",  # needs a key it lacks
        "SIGNUP_RETAIN_EVENTS": "1d",  # shorter than the soft-bounce window
        "SIGNUP_ADMIN_PORT": "9443",  # the admin listener without a way to check tokens
    }
    with pytest.raises(ConfigError) as e:
        load_settings(env)
    problems = str(e.value).split("; ")
    assert len(problems) == 5, problems
    for name in (
        "REDIS_URL is required",
        "PORT is invalid",
        "SIGNUP_ALTCHA_HMAC_KEY is required when SIGNUP_CAPTCHA=altcha",
        "SIGNUP_RETAIN_EVENTS",
        "SIGNUP_ADMIN_PORT needs",
    ):
        assert any(p.startswith(name) for p in problems), (name, problems)


def test_load_settings_reports_what_the_admin_listener_lacks():
    with pytest.raises(ConfigError, match="SIGNUP_ADMIN_JWKS"):
        load_settings({**BASE, "SIGNUP_ADMIN_PORT": "9443"})
    with pytest.raises(ConfigError, match="SIGNUP_ADMIN_PORT must differ"):
        load_settings({**BASE, "SIGNUP_ADMIN_PORT": "8000", "SIGNUP_ADMIN_KEYS_FILE": "k.json"})
    # Off: the admin variables need nothing, whatever else is set.
    assert load_settings({**BASE, "SIGNUP_ADMIN_JWT_LEEWAY": "900"}).admin_port is None


def test_an_optional_secret_comes_from_its_file_and_stays_hidden(tmp_path):
    path = tmp_path / "captcha"
    path.write_text("turnstile-secret-value\n")
    env = {**BASE, "SIGNUP_CAPTCHA": "turnstile", "SIGNUP_CAPTCHA_SITE_KEY": "site"}
    s = load_settings({**env, "SIGNUP_CAPTCHA_SECRET_FILE": str(path)})
    assert s.captcha_secret.value == "turnstile-secret-value"
    assert "turnstile-secret-value" not in repr(s)
    # The file wins over the variable itself, and an empty variable counts as unset.
    s = load_settings({**env, "SIGNUP_CAPTCHA_SECRET": "", "SIGNUP_CAPTCHA_SECRET_FILE": str(path)})
    assert s.captcha_secret.value == "turnstile-secret-value"


@pytest.mark.parametrize(
    ("value", "seconds"), [("172800", 172800), ("48h", 172800), ("90m", 5400), ("2d", 172800)]
)
def test_durations_take_seconds_or_a_unit(value, seconds):
    assert load_settings({**BASE, "SIGNUP_TOKEN_TTL": value}).token_ttl == seconds


@pytest.mark.parametrize("value", ["0", "-1", "12x", "1.5h", "h"])
def test_a_malformed_duration_is_named(value):
    with pytest.raises(ConfigError, match="SIGNUP_TOKEN_TTL is invalid"):
        load_settings({**BASE, "SIGNUP_TOKEN_TTL": value})


def test_the_resend_window_may_be_zero():
    assert load_settings({**BASE, "SIGNUP_RESEND_WINDOW": "0"}).resend_window == 0
    assert load_settings({**BASE, "SIGNUP_RESEND_WINDOW": "10m"}).resend_window == 600


def test_rates_are_a_type_with_off():
    s = load_settings({**BASE, "SIGNUP_RATE_LIMIT_IP": "5/30s", "SIGNUP_RATE_LIMIT_GLOBAL": "off"})
    assert (s.rate_ip.limit, s.rate_ip.window, s.rate_global) == (5, 30, None)


def test_only_the_given_mapping_is_read(monkeypatch):
    monkeypatch.setenv("PORT", "1234")
    monkeypatch.setenv("SIGNUP_LOG_LEVEL", "nonsense")
    assert load_settings(BASE).port == 8000


def test_variables_describe_every_field():
    from signup_core.settings import Settings, variables

    found = {v.env: v for v in variables()}
    assert len(found) == len(Settings.model_fields)
    assert {v.env for v in found.values() if v.required} == set(BASE)
    assert {v.env for v in found.values() if v.generated} == {
        "SIGNUP_BLIND_INDEX_KEY",
        "SIGNUP_SIGNING_KEY",
        "SIGNUP_SEAL_KEYS",
        "SIGNUP_ALTCHA_HMAC_KEY",
    }
    assert found["SMTP_PASSWORD"].secret and not found["SMTP_PASSWORD"].generated
    assert found["DATABASE_URL"].secret and not found["SMTP_HOST"].secret
    assert found["SIGNUP_RATE_LIMIT_IP"].default == "10/minute"
    assert found["SIGNUP_TOKEN_TTL"].default == "2d" and found["SMTP_PORT"].default == "25"
    assert found["SIGNUP_MAIL_REPLY_TO"].default is None
    assert all(v.description and v.group for v in found.values())


def test_load_for_needs_only_the_required_variables_named():
    from signup_core.settings import load_for

    only_db = load_for(["DATABASE_URL"], {"DATABASE_URL": BASE["DATABASE_URL"]})
    assert only_db.database_url.value == BASE["DATABASE_URL"]
    assert only_db.redis_url is None and only_db.public_base_url is None
    with pytest.raises(ConfigError, match="DATABASE_URL is required") as missing:
        load_for(["DATABASE_URL"], {})
    assert "REDIS_URL" not in str(missing.value)
    # A variable that is set is still checked, needed or not.
    with pytest.raises(ConfigError, match="REDIS_URL is invalid"):
        load_for(["DATABASE_URL"], {"DATABASE_URL": BASE["DATABASE_URL"], "REDIS_URL": "x"})


def test_dkim_selectors_are_a_comma_list_and_default_to_none():
    assert load_settings(BASE).dkim_selectors == ()
    env = {**BASE, "SIGNUP_DKIM_SELECTORS": "pm, s1 ,"}
    assert load_settings(env).dkim_selectors == ("pm", "s1")
