"""HTTP API transports (SendGrid, Mailgun, Resend, Brevo) through the worker's own code path:
each provider's documented answers (served by respx) for success, every refusal class, a 429
with its reset, a 5xx and a network error, and what the worker makes of each: the mail sent,
refused (and the address suppressed when the recipient was refused), or kept for a retry,
after the provider's reset when it gave one."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

import dramatiq
import httpx
import pytest
import respx

from signup_core import db as core_db
from signup_core.clock import FixedClock
from signup_core.mail import brevo, mailgun, resend, sendgrid
from signup_core.mail.failures import PermanentMailError
from signup_core.mail.transports import make_transport
from signup_core.settings import load_settings
from signup_worker import actors, mailer
from signup_worker.resources import Opened
from tests.integration.test_signup import index, outbox, rows
from tests.integration.test_transports import confirmation
from tests.support import inspect, store_signup

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.UTC)
MIN_BACKOFF_MS = 100  # tests/support.py's SIGNUP_MAIL_MIN_BACKOFF_MS

CONFIG = {
    "sendgrid": {"SIGNUP_SENDGRID_API_KEY": "SG.test-key"},
    "mailgun": {"SIGNUP_MAILGUN_API_KEY": "mg-test-key", "SIGNUP_MAILGUN_DOMAIN": "mg.example.org"},
    "resend": {"SIGNUP_RESEND_API_KEY": "re_test_key"},
    "brevo": {"SIGNUP_BREVO_API_KEY": "xkeysib-test-key"},
}
URLS = {
    "sendgrid": sendgrid.API,
    "mailgun": "https://api.mailgun.net/v3/mg.example.org/messages",
    "resend": resend.API,
    "brevo": brevo.API,
}


@dataclass
class Case:
    provider: str
    answer: httpx.Response | Exception
    outcome: str  # sent / recipient / message / retry
    delay_ms: int | None = None  # the retry's delay, when the provider said when to come back


def _json(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


RESET = str(int(NOW.timestamp()) + 120)  # SendGrid: the Unix time the limit resets
CASES = [
    # SendGrid v3 mail send
    Case("sendgrid", httpx.Response(202), "sent"),
    Case(
        "sendgrid",
        _json(
            400,
            {
                "errors": [
                    {
                        "message": "Does not contain a valid address.",
                        "field": "personalizations.0.to.0.email",
                        "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html",
                    }
                ]
            },
        ),
        "recipient",
    ),
    Case(
        "sendgrid",
        _json(400, {"errors": [{"message": "The subject is required.", "field": "subject"}]}),
        "message",
    ),
    Case(
        "sendgrid",
        _json(413, {"errors": [{"message": "The JSON payload is too large.", "field": None}]}),
        "message",
    ),
    Case(
        "sendgrid",
        _json(
            403,
            {
                "errors": [
                    {
                        "message": "The from address does not match a verified Sender Identity.",
                        "field": "from",
                    }
                ]
            },
        ),
        "retry",
    ),
    Case("sendgrid", _json(401, {"errors": [{"message": "authorization required"}]}), "retry"),
    Case(
        "sendgrid",
        _json(429, {"errors": [{"message": "too many requests"}]}, **{"X-RateLimit-Reset": RESET}),
        "retry",
        120_000,
    ),
    Case("sendgrid", httpx.Response(503), "retry"),
    Case("sendgrid", httpx.ConnectError("refused"), "retry"),
    # Mailgun messages API
    Case(
        "mailgun", _json(200, {"id": "<x@mg.example.org>", "message": "Queued. Thank you."}), "sent"
    ),
    Case(
        "mailgun",
        _json(
            400, {"message": "'to' parameter is not a valid address. please check documentation"}
        ),
        "recipient",
    ),
    Case(
        "mailgun",
        _json(400, {"message": "Need at least one of 'text' or 'html' parameters specified"}),
        "message",
    ),
    Case("mailgun", httpx.Response(401, text="Forbidden"), "retry"),
    Case("mailgun", _json(404, {"message": "Domain not found: mg.example.org"}), "retry"),
    Case(
        "mailgun",
        _json(429, {"message": "Too many requests"}, **{"Retry-After": "30"}),
        "retry",
        30_000,
    ),
    Case("mailgun", httpx.Response(500, text="Internal Server Error"), "retry"),
    Case("mailgun", httpx.ReadTimeout("slow"), "retry"),
    # Resend emails API
    Case("resend", _json(200, {"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}), "sent"),
    Case(
        "resend",
        _json(
            422,
            {
                "statusCode": 422,
                "name": "validation_error",
                "message": "Invalid `to` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format.",
            },
        ),
        "recipient",
    ),
    Case(
        "resend",
        _json(
            422,
            {"statusCode": 422, "name": "validation_error", "message": "Invalid `subject` field."},
        ),
        "message",
    ),
    Case(
        "resend",
        _json(
            422,
            {"statusCode": 422, "name": "invalid_from_address", "message": "Invalid `from` field."},
        ),
        "retry",
    ),
    Case(
        "resend",
        _json(
            403,
            {
                "statusCode": 403,
                "name": "validation_error",
                "message": "The example.org domain is not verified.",
            },
        ),
        "retry",
    ),
    Case(
        "resend",
        _json(
            429,
            {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests."},
            **{"ratelimit-reset": "7", "retry-after": "7"},
        ),
        "retry",
        7_000,
    ),
    Case(
        "resend",
        _json(500, {"statusCode": 500, "name": "application_error", "message": "unexpected"}),
        "retry",
    ),
    Case("resend", httpx.ConnectError("refused"), "retry"),
    # Brevo transactional email API
    Case("brevo", _json(201, {"messageId": "<201798300811.5787683@relay.domain.com>"}), "sent"),
    Case(
        "brevo",
        _json(400, {"code": "invalid_parameter", "message": "email is not valid in to"}),
        "recipient",
    ),
    Case(
        "brevo",
        _json(400, {"code": "missing_parameter", "message": "subject is missing"}),
        "message",
    ),
    Case(
        "brevo",
        _json(400, {"code": "account_under_validation", "message": "account under validation"}),
        "retry",
    ),
    Case("brevo", _json(401, {"code": "unauthorized", "message": "Key not found"}), "retry"),
    Case(
        "brevo",
        _json(429, {"code": "too_many_requests"}, **{"x-sib-ratelimit-reset": "45"}),
        "retry",
        45_000,
    ),
    Case("brevo", httpx.Response(502), "retry"),
    Case("brevo", httpx.ConnectTimeout("slow"), "retry"),
]


def _id(case: Case) -> str:
    answer = case.answer
    what = type(answer).__name__ if isinstance(answer, Exception) else answer.status_code
    return f"{case.provider}-{what}-{case.outcome}"


@pytest.fixture
async def queued(env, db, monkeypatch):
    """Per provider: the worker's resources with that transport, and one confirmation queued
    for it (created already relayed, so the session worker, if running, leaves it)."""
    made: list = []

    async def make(provider: str) -> tuple[Opened, int, str]:
        settings = load_settings({**env, "SIGNUP_MAIL_TRANSPORT": provider, **CONFIG[provider]})
        email = f"api-{uuid.uuid4().hex[:10]}@example.com"
        async with db.transaction():
            row = await store_signup(db, email, name="Pat")
            await inspect().mark_relayed(db, email_index=index(email))
        pool = await core_db.create_pool(settings, max_size=2)
        http = httpx.AsyncClient()
        transport = make_transport(settings, http)
        transport._clock = FixedClock(NOW)
        opened = Opened(settings, pool, transport, http)
        made.append(opened)
        # The actor's own loop over its rows, on these resources.
        monkeypatch.setattr(actors, "current", lambda: opened)
        monkeypatch.setattr(actors, "configured", lambda: settings)
        return opened, row["outbox_id"], email

    yield make
    for opened in made:
        await opened.http.aclose()
        await opened.pool.close()


@pytest.mark.parametrize("case", CASES, ids=_id)
async def test_answers_and_what_the_worker_makes_of_them(queued, db, case):
    # Given a queued confirmation and the provider's answer
    _, outbox_id, email = await queued(case.provider)
    with respx.mock() as mock:
        route = mock.post(URLS[case.provider])
        if isinstance(case.answer, Exception):
            route.mock(side_effect=case.answer)
        else:
            route.mock(return_value=case.answer)
        # When the worker's send_mail runs over it
        if case.outcome == "retry":
            with pytest.raises(dramatiq.Retry) as retried:
                await actors._each([outbox_id], mailer.deliver, actors._fail_mail)
        else:
            await actors._each([outbox_id], mailer.deliver, actors._fail_mail)
        assert route.called
    # Then the row, the subscription and the retry are as the policy table says
    [row] = await outbox(db, email)
    status = (await rows(db, email))[0]["status"]
    if case.outcome == "sent":
        assert row["sent_at"] is not None and status == "pending"
        assert [t async for t in inspect().tokens_for(db, email_index=index(email))]
    elif case.outcome == "retry":
        assert row["sent_at"] is None and row["failed_at"] is None and status == "pending"
        assert retried.value.delay == case.delay_ms
    else:
        assert row["failed_at"] is not None and row["failure"].startswith(case.provider)
        assert status == ("suppressed" if case.outcome == "recipient" else "pending")


def _sent(route) -> httpx.Request:
    return route.calls.last.request


@pytest.mark.parametrize("provider", sorted(CONFIG))
async def test_what_each_provider_is_sent(queued, provider):
    opened, outbox_id, email = await queued(provider)
    with respx.mock() as mock:
        route = mock.post(URLS[provider]).respond(200, json={})
        assert await mailer.deliver(opened, outbox_id) == "sent"
    request = _sent(route)
    if provider == "mailgun":
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert request.headers["authorization"].startswith("Basic ")
        assert form["to"] == f"Pat <{email}>"
        text, html = form["text"], form["html"]
        headers = {k[2:]: v for k, v in form.items() if k.startswith("h:")}
    else:
        body = httpx.Response(200, content=request.content).json()
        headers = body["headers"]
        if provider == "sendgrid":
            assert request.headers["authorization"] == "Bearer SG.test-key"
            assert body["personalizations"] == [{"to": [{"email": email, "name": "Pat"}]}]
            text, html = (c["value"] for c in body["content"])
        elif provider == "resend":
            assert request.headers["authorization"] == "Bearer re_test_key"
            assert body["to"] == [f"Pat <{email}>"]
            assert request.headers["idempotency-key"] == headers["Message-ID"].strip("<>")
            text, html = body["text"], body["html"]
        else:
            assert request.headers["api-key"] == "xkeysib-test-key"
            assert body["to"] == [{"email": email, "name": "Pat"}]
            text, html = body["textContent"], body["htmlContent"]
    assert "/confirm?token=" in text and "<a href=" in html
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Date" not in headers


def test_mailgun_eu_region_uses_the_eu_base_url(env):
    settings = load_settings(
        {
            **env,
            "SIGNUP_MAIL_TRANSPORT": "mailgun",
            **CONFIG["mailgun"],
            "SIGNUP_MAILGUN_REGION": "EU",
        }
    )
    transport = mailgun.MailgunTransport(settings, httpx.AsyncClient())
    assert transport.url == "https://api.eu.mailgun.net/v3/mg.example.org/messages"


@pytest.mark.parametrize("provider", sorted(CONFIG))
async def test_a_non_ascii_local_part_fails_that_mail_only(env, provider):
    settings = load_settings({**env, "SIGNUP_MAIL_TRANSPORT": provider, **CONFIG[provider]})
    async with httpx.AsyncClient() as http:
        transport = make_transport(settings, http)
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(URLS[provider]).respond(200, json={})
            with pytest.raises(PermanentMailError) as caught:
                await transport.send(confirmation("jürgen@example.com"))
            assert not route.called
    assert str(caught.value) == "unencodable address" and caught.value.recipient is False


@pytest.mark.parametrize("provider", ["sendgrid", "brevo"])
async def test_a_name_that_looks_like_an_encoded_word_is_sent_as_typed(env, provider):
    settings = load_settings({**env, "SIGNUP_MAIL_TRANSPORT": provider, **CONFIG[provider]})
    async with httpx.AsyncClient() as http:
        transport = make_transport(settings, http)
        with respx.mock() as mock:
            route = mock.post(URLS[provider]).respond(200, json={})
            await transport.send(confirmation("eve@example.com", name="=?utf-8?q?Bob?="))
    body = httpx.Response(200, content=_sent(route).content).json()
    to = body["personalizations"][0]["to"][0] if provider == "sendgrid" else body["to"][0]
    # Our own encoded word of the literal text: a reader shows "=?utf-8?q?Bob?=", not "Bob".
    assert to["name"].startswith("=?utf-8?") and to["name"] != "=?utf-8?q?Bob?="
