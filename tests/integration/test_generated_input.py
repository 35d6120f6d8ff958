"""Generated hostile input (Hypothesis), one test per route: whatever the body, the headers or
the query string, the answer is never a 5xx, and an API's 4xx is a problem document. Webhook
bodies are also generated as genuine events with fields changed, signed with the test keys, so
that the parsers behind each signature check are reached."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests import providers as p

# One app and one database for all examples of a test: the property (no 5xx) holds whatever
# earlier examples stored, and a fresh app per example would cost ~50 ms each. No example
# database: a failure prints its example, and the checkout stays clean.
FAST = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROBLEM = "application/problem+json"
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

# Text with everything in it, lone surrogates included, and some values that broke things.
nasty_text = st.text(st.characters(exclude_categories=()), max_size=24) | st.sampled_from(
    ["", "a@example.com", "5.1.1", "550 5.7.1 no", "\ud800", "²", "9" * 20, "https://[::1"]
)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.integers(-(2**70), 2**70)
) | nasty_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=8,
)
deep = st.integers(30, 1500).map(lambda n: ("[" * n + "]" * n).encode())
raw_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=120),
    deep,
    st.sampled_from([b"", b"{}", b"[]", b"null", b'{"a": NaN}', b"1" * 5000]),
)
header_bytes = st.binary(max_size=40).filter(lambda b: not set(b) & {0, 10, 13}) | st.sampled_from(
    [b"\xb2", b"9" * 20, b"9" * 5000, b"Basic \xe9\xe9", b"Basic " + b"A" * 40, b"-1", b""]
)
headers = st.dictionaries(
    st.sampled_from(
        [
            "content-type",
            "content-length",
            "origin",
            "referer",
            "x-request-id",
            "authorization",
            "x-forwarded-for",
            "x-twilio-email-event-webhook-signature",
            "x-twilio-email-event-webhook-timestamp",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
        ]
    ),
    header_bytes,
    max_size=4,
)
content_types = st.sampled_from([JSON_TYPE, FORM_TYPE, "text/plain", b"application/json; x=\xe9"])


def form_of(fields: dict[str, str]) -> bytes:
    return b"&".join(
        quote_from_bytes(k.encode("utf-8", "surrogatepass")).encode()
        + b"="
        + quote_from_bytes(v.encode("utf-8", "surrogatepass")).encode()
        for k, v in fields.items()
    )


def fields(*names: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={n: json_values | nasty_text for n in names})


def assert_no_server_error(response, api: bool = True) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if api and response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM


# --- changing genuine events: every node of a template may be replaced or removed

DELETE = object()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _apply(template: Any, changes: list[tuple[tuple, Any]]) -> Any:
    result = copy.deepcopy(template)
    for path, new in changes:
        if not path:
            result = new if new is not DELETE else {}
            continue
        parent = result
        try:
            for step in path[:-1]:
                parent = parent[step]
            if new is DELETE:
                del parent[path[-1]]
            else:
                parent[path[-1]] = new
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed this path
    return result


def changed(*templates: Any) -> st.SearchStrategy[Any]:
    def of(template: Any) -> st.SearchStrategy[Any]:
        change = st.tuples(st.sampled_from(_paths(template)), json_values | st.just(DELETE))
        return st.lists(change, min_size=1, max_size=3).map(lambda c: _apply(template, c))

    return st.one_of(*(of(t) for t in templates))


EMAIL = "reader@example.com"
SES_MESSAGES = [
    p.ses_bounce([(EMAIL, "5.1.1"), ("other@example.com", None)]),
    p.ses_complaint(EMAIL),
    {
        "eventType": "Delivery",
        "mail": {"messageId": "m-1"},
        "delivery": {"timestamp": "2026-11-23T11:59:00Z", "recipients": [EMAIL]},
    },
]
SENDGRID_BATCH = [
    {"email": EMAIL, "event": "bounce", "type": "blocked", "status": "5.7.1", "sg_event_id": "a"},
    {"email": EMAIL, "event": "dropped", "reason": "Bounced Address", "sg_event_id": "b"},
    {"email": EMAIL, "event": "delivered", "timestamp": 1, "sg_event_id": "c"},
]
POSTMARK_RECORDS = [
    {"RecordType": "Bounce", "ID": 1, "Type": "HardBounce", "Email": EMAIL, "Details": "5.1.1"},
    {
        "RecordType": "SubscriptionChange",
        "MessageID": "m",
        "Recipient": EMAIL,
        "ChangedAt": "2026-11-23T11:59:00Z",
        "SuppressSending": True,
        "SuppressionReason": "HardBounce",
    },
    {"RecordType": "Delivery", "MessageID": "m", "Recipient": EMAIL, "DeliveredAt": "x"},
]
MAILGUN_EVENTS = [
    {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": EMAIL,
        "id": "mg-1",
        "timestamp": p.NOW.timestamp(),
        "delivery-status": {"code": 550, "message": "5.1.1 no such user", "enhanced-code": ""},
    },
    {"event": "complained", "recipient": EMAIL, "id": "mg-2", "timestamp": 1.0},
]
RESEND_EVENTS = [
    {
        "type": "email.bounced",
        "created_at": "2026-11-23T11:59:12.126Z",
        "data": {
            "email_id": "e-1",
            "to": [EMAIL, f"Pat <{EMAIL}>"],
            "bounce": {"diagnosticCode": ["550 5.1.1"], "message": "m", "type": "Permanent"},
        },
    },
    {"type": "email.delivery_delayed", "created_at": 1, "data": {"to": EMAIL}},
    {"type": "email.suppressed", "data": {"to": [EMAIL], "suppressed": {"message": "x"}}},
]
BREVO_EVENTS = [
    {
        "event": "hard_bounce",
        "email": EMAIL,
        "id": 1,
        "message-id": "<m@relay>",
        "ts_event": 1795003140,
        "ts_epoch": 1795003140223,
        "reason": "550 5.1.1 unknown",
    },
    [{"event": "deferred", "email": EMAIL, "reason": "5.1.1"}, {"event": "spam", "email": EMAIL}],
]


# --- one test per route


@FAST
@given(body=fields("email", "name", "list", "locale", "website", "altcha"), extra=headers)
async def test_signup_json(armed, body, extra):
    response = await armed.post(
        "/signup", content=json.dumps(body).encode(), headers={**extra, "content-type": JSON_TYPE}
    )
    assert_no_server_error(response)


@FAST
@given(
    body=fields("email", "name", "list", "locale", "website").map(
        lambda f: form_of({k: v if isinstance(v, str) else json.dumps(v) for k, v in f.items()})
    )
    | raw_bodies,
    kind=content_types,
    extra=headers,
)
async def test_signup_form_and_raw(armed, body, kind, extra):
    response = await armed.post("/signup", content=body, headers={**extra, "content-type": kind})
    if response.status_code == 303:
        return  # a form's answer, even to an error: the error page
    if kind == FORM_TYPE and response.status_code < 500:
        # A refused form post shows the form again, with the error, as a page for the browser.
        assert response.headers["content-type"].startswith("text/html")
        return
    assert_no_server_error(response)


@FAST
@given(
    path=st.sampled_from(["/confirm", "/unsubscribe"]),
    query=st.binary(max_size=60),
    body=fields("token", "List-Unsubscribe").map(lambda f: json.dumps(f).encode()) | raw_bodies,
    kind=content_types,
    extra=headers,
)
async def test_confirm_and_unsubscribe_posts(armed, path, query, body, kind, extra):
    url = f"{path}?token={quote_from_bytes(query)}"
    response = await armed.post(url, content=body, headers={**extra, "content-type": kind})
    assert_no_server_error(response, api=False)


@FAST
@given(
    path=st.sampled_from(
        ["/", "/thanks", "/oops", "/confirm", "/unsubscribe", "/healthz", "/altcha/challenge"]
    ),
    query=st.binary(max_size=80).map(lambda b: quote_from_bytes(b, safe="=&%;+")),
    extra=headers,
)
async def test_get_pages_with_odd_query_strings(armed, path, query, extra):
    response = await armed.get(f"{path}?{query}", headers=extra)
    assert_no_server_error(response, api=False)


unsigned = st.tuples(raw_bodies, headers)


@FAST
@given(signed=st.booleans(), message=changed(*SES_MESSAGES), hostile=unsigned)
async def test_ses_webhook(armed, signed, message, hostile):
    body, extra = (json.dumps(p.sns(message)).encode(), {}) if signed else hostile
    response = await armed.post("/webhooks/ses", content=body, headers=extra)
    assert_no_server_error(response)


@FAST
@given(signed=st.booleans(), batch=changed(SENDGRID_BATCH), hostile=unsigned)
async def test_sendgrid_webhook(armed, signed, batch, hostile):
    body = json.dumps(batch).encode()
    body, extra = (body, p.sendgrid_headers(body)) if signed else hostile
    response = await armed.post("/webhooks/sendgrid", content=body, headers=extra)
    assert_no_server_error(response)


@FAST
@given(signed=st.booleans(), record=changed(*POSTMARK_RECORDS), hostile=unsigned)
async def test_postmark_webhook(armed, signed, record, hostile):
    body, extra = (json.dumps(record).encode(), {}) if signed else hostile
    url = f"/webhooks/postmark?token={p.POSTMARK_SECRET}" if signed else "/webhooks/postmark"
    response = await armed.post(url, content=body, headers=extra)
    assert_no_server_error(response)


@FAST
@given(signed=st.booleans(), data=changed(*MAILGUN_EVENTS), token=st.uuids(), hostile=unsigned)
async def test_mailgun_webhook(armed, signed, data, token, hostile):
    signed_body = json.dumps(p.mailgun(data, token=token.hex)).encode()
    body, extra = (signed_body, {}) if signed else hostile
    response = await armed.post("/webhooks/mailgun", content=body, headers=extra)
    assert_no_server_error(response)


@FAST
@given(
    signed=st.booleans(),
    event=changed(*RESEND_EVENTS),
    msg_id=nasty_text.filter(lambda t: t.isprintable() and t.isascii() and t.strip() == t),
    hostile=unsigned,
)
async def test_resend_webhook(armed, signed, event, msg_id, hostile):
    body = json.dumps(event).encode()
    body, extra = (body, p.svix_headers(body, msg_id or "msg_x")) if signed else hostile
    response = await armed.post("/webhooks/resend", content=body, headers=extra)
    assert_no_server_error(response)


@FAST
@given(signed=st.booleans(), event=changed(*BREVO_EVENTS), hostile=unsigned)
async def test_brevo_webhook(armed, signed, event, hostile):
    auth = {"authorization": f"Bearer {p.BREVO_SECRET}"}
    body, extra = (json.dumps(event).encode(), auth) if signed else hostile
    response = await armed.post("/webhooks/brevo", content=body, headers=extra)
    assert_no_server_error(response)


LEGACY_FIELDS = st.dictionaries(
    st.sampled_from(
        ["event", "recipient", "code", "error", "reason", "description", "Message-Id", "domain"]
    ),
    nasty_text,
    max_size=6,
)


def _form(fields: dict[str, str]) -> bytes:
    # Lone surrogates go out as the bytes a broken client would send: invalid UTF-8 escapes.
    return "&".join(
        f"{quote_from_bytes(k.encode())}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in fields.items()
    ).encode()


@FAST
@given(signed=st.booleans(), fields=LEGACY_FIELDS, token=st.uuids(), hostile=unsigned)
async def test_mailgun_legacy_form_webhook(armed, signed, fields, token, hostile):
    signature = p.mailgun({}, token=token.hex)["signature"]
    body = _form({**fields, **signature}) if signed else hostile[0]
    response = await armed.post(
        "/webhooks/mailgun", content=body, headers={"content-type": FORM_TYPE}
    )
    assert_no_server_error(response)


@FAST
@given(value=json_values | st.integers(-(2**80), 2**80), kind=st.sampled_from(["get", "post"]))
async def test_signed_unsubscribe_links_holding_anything(armed, value, kind):
    from itsdangerous import URLSafeSerializer

    from tests.support import SIGNING_KEY

    try:
        token = URLSafeSerializer(SIGNING_KEY, salt="signet-signup.unsubscribe").dumps(value)
    except UnicodeEncodeError:  # a lone surrogate: nothing anyone could sign
        assume(False)
    if kind == "get":
        response = await armed.get("/unsubscribe", params={"token": token})
    else:
        response = await armed.post("/unsubscribe", data={"token": token})
    assert_no_server_error(response, api=False)
