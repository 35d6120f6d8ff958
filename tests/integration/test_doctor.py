"""`signupctl doctor` as on-call runs it, against the session's real PostgreSQL, Valkey and SMTP
servers and a DNS server on loopback: it passes on a healthy stack and names the check that
fails when a seal key is removed, the SMTP password is wrong or the domain lacks DMARC."""

from __future__ import annotations

import json

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from devstack.mailcatcher import Catcher
from devstack.processes import free_port
from tests.dns_zone import dns_server
from tests.privacy_support import signupctl
from tests.support import SEAL_KEYS, store_signup


@pytest.fixture(scope="module")
def resolver():
    with dns_server() as (host, port):
        yield f"{host}:{port}"


@pytest.fixture
def healthy(env, db) -> dict[str, str]:
    return {
        **env,
        "PUBLIC_BASE_URL": "https://signup.good.test",
        "SIGNUP_MAIL_FROM": "News <news@good.test>",
        "SIGNUP_DKIM_SELECTORS": "s1",
    }


def doctor(env, resolver, *args):
    done = signupctl(env, "doctor", "--resolver", resolver, *args)
    return done.returncode, done.stdout


def statuses(stdout: str) -> dict[str, str]:
    return {c["name"]: c["status"] for c in json.loads(stdout)["checks"]}


async def test_a_healthy_stack_passes_every_check_it_can_make(healthy, resolver, db):
    await store_signup(db, "healthy@example.com")
    code, out = doctor(healthy, resolver)
    assert code == 0, out
    lines = out.splitlines()
    names = "configuration public-base-url postgresql schema redis seal-keyring blind-index"
    for name in [*names.split(), "mail-transport", "spf", "dkim", "dmarc"]:
        assert any(line.startswith(f"✓ {name}: ") for line in lines), (name, out)
    assert "- webhooks: skipped: plain SMTP relay" in out
    assert lines[-1] == "all checks passed"
    code, out = doctor(healthy, resolver, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    assert statuses(out)["seal-keyring"] == "pass"


async def test_a_removed_seal_key_fails_the_keyring_check_naming_it(healthy, resolver, db):
    await store_signup(db, "sealed@example.com")  # sealed under t1, the current key
    without_t1 = ",".join(k for k in SEAL_KEYS.split(",") if not k.startswith("t1:"))
    code, out = doctor({**healthy, "SIGNUP_SEAL_KEYS": without_t1}, resolver)
    assert code == 1
    [line] = [x for x in out.splitlines() if x.startswith("✗ ")]
    assert (
        line.startswith("✗ seal-keyring: rows are sealed under key id(s) not in") and "t1" in line
    )
    assert "fix: put each missing id:key back into SIGNUP_SEAL_KEYS" in out
    assert out.splitlines()[-1] == "failed: seal-keyring"


@pytest.fixture
def relay():
    """An SMTP relay that wants a login (no TLS here: aiosmtpd allows AUTH in clear text when
    told to). handled=False: a refusal is answered 535, as relays do (aiosmtpd's default is
    to say nothing)."""

    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (auth_data.login, auth_data.password) == (b"user", b"right")
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        Catcher(), hostname="127.0.0.1", port=port, authenticator=check, auth_require_tls=False
    )
    controller.start()
    yield port
    controller.stop()


@pytest.mark.parametrize(("password", "code"), [("right", 0), ("wrong", 1)])
async def test_smtp_login_is_tried_without_sending(healthy, resolver, relay, password, code):
    env = {**healthy, "SMTP_PORT": str(relay), "SMTP_USERNAME": "user", "SMTP_PASSWORD": password}
    got, out = doctor(env, resolver, "--json")
    assert got == code, out
    [transport] = [c for c in json.loads(out)["checks"] if c["name"] == "mail-transport"]
    if password == "right":
        assert "AUTH accepted" in transport["detail"] and "nothing sent" in transport["detail"]
    else:
        assert transport["status"] == "fail" and "AUTH failed: 535" in transport["detail"]
        assert "SMTP_PASSWORD" in transport["fix"] and "wrong" not in transport["detail"]
        assert [n for n, s in statuses(out).items() if s == "fail"] == ["mail-transport"]


async def test_a_sender_domain_without_dmarc_fails_the_dmarc_check(healthy, resolver):
    env = {**healthy, "SIGNUP_MAIL_FROM": "news@nodmarc.test"}
    code, out = doctor(env, resolver)
    assert code == 1
    assert "✗ dmarc: no DMARC record at _dmarc.nodmarc.test" in out
    assert out.splitlines()[-1] == "failed: dmarc"


async def test_configuration_reports_every_error_and_still_checks_the_rest(healthy, resolver):
    env = {k: v for k, v in healthy.items() if k not in ("SIGNUP_SEAL_KEYS", "REDIS_URL")}
    env |= {"SIGNUP_ADMIN_PORT": env["SIGNUP_METRICS_PORT"], "PUBLIC_BASE_URL": "http://x.test"}
    code, out = doctor(env, resolver, "--json")
    assert code == 1
    found = json.loads(out)["checks"]
    [config] = [c for c in found if c["name"] == "configuration"]
    assert config["more"][:2] == [
        "REDIS_URL is required but not set",
        "SIGNUP_SEAL_KEYS is required but not set",
    ]
    assert "SIGNUP_ADMIN_PORT must differ from PORT and SIGNUP_METRICS_PORT" in config["more"]
    assert any("SIGNUP_ADMIN_PORT needs SIGNUP_ADMIN_JWKS" in m for m in config["more"])
    by_name = {c["name"]: c for c in found}
    assert by_name["postgresql"]["status"] == "pass"  # DATABASE_URL is fine: checked anyway
    assert by_name["redis"]["status"] == "skip"
    assert by_name["public-base-url"]["status"] == "fail"
    assert "clear text" in by_name["public-base-url"]["detail"]


def test_a_malformed_resolver_is_a_usage_error():
    done = signupctl(None, "doctor", "--resolver", "nowhere")
    assert done.returncode == 2 and "HOST:PORT" in done.stderr
