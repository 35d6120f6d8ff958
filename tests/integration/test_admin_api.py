"""The admin API against real PostgreSQL and Redis, with real keys: who gets in, what each refusal
leaves behind (nothing), key rotation and a JWKS outage without restart, and the routes against
their OpenAPI document."""

from __future__ import annotations

import datetime
import json
import uuid

import httpx
import pytest
import respx
from prometheus_client import REGISTRY
from starlette.routing import Route

from signup_api.admin import app as admin_app
from signup_api.admin import openapi, routes
from signup_api.admin.jwks import MAX_AGE
from signup_core.addresses import blind_index
from signup_core.clock import FixedClock
from signup_core.settings import load_settings
from tests import admin_support as a
from tests.privacy_support import privacy
from tests.support import BLIND_INDEX_KEY, inspect, store_unmailed

ES = a.ec_key("es-1")
RS = a.rsa_key("rs-1")


def index(email: str) -> bytes:
    return blind_index(BLIND_INDEX_KEY.encode(), email)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(a.NOW)


@pytest.fixture
def idp():
    """The identity provider's JWKS endpoint; tests change `idp.document` to rotate keys."""
    with respx.mock(assert_all_called=False) as mock:
        state = {"document": a.jwks(ES, RS), "down": False}

        def answer(request: httpx.Request) -> httpx.Response:
            if state["down"]:
                raise httpx.ConnectError("identity provider unreachable")
            return httpx.Response(200, json=state["document"])

        route = mock.get(a.JWKS_URL).mock(side_effect=answer)
        route.state = state
        yield route


@pytest.fixture
async def admin(db, env, idp, clock):
    async with a.admin_client(load_settings(a.admin_env(env)), clock) as client:
        yield client


def _tokens(clock: FixedClock) -> dict[str, str]:
    later = a.NOW + datetime.timedelta(days=60)
    return {
        "expired": a.sign(ES, now=a.NOW - datetime.timedelta(hours=2)),
        "not yet valid": a.sign(ES, nbf=int(a.NOW.timestamp()) + 3600),
        "issued in the future": a.sign(ES, iat=int(a.NOW.timestamp()) + 3600),
        "wrong iss": a.sign(ES, iss="https://evil.test/"),
        "wrong aud": a.sign(ES, aud="another-service"),
        "missing kid": a.sign(ES, kid=None),
        "unknown kid": a.sign(a.ec_key("nobody"), kid="nobody"),
        "alg none": a.unsigned(),
        "HS256 with the public key as secret": a.hs256(
            ES.export_to_pem(private_key=False), kid="es-1"
        ),
        "HS256 after the grace date": a.hs256(a.HS256_SECRET.encode(), now=later),
        "tampered payload": a.tampered(a.sign(ES, scope="signup:read"), sub="someone-else"),
        "RS256 token under the EC key's kid": a.sign(RS, alg="RS256", kid="es-1"),
        "no sub": a.sign(ES, sub=None),
        "missing scope": a.sign(ES, scope="signup:read signup:export"),
        "sub with a lone surrogate": a.sign_raw(ES, sub='"ops\\ud800"'),
        "sub with a control character": a.sign_raw(ES, sub='"ops\\u0000"'),
        "exp 1e400": a.sign_raw(ES, exp="1e400"),
        "exp NaN": a.sign_raw(ES, exp="NaN"),
        "exp Infinity": a.sign_raw(ES, exp="Infinity"),
        "exp not whole seconds": a.sign_raw(ES, exp=f"{a.NOW.timestamp() + 600.5}"),
        "exp beyond the year 9999": a.sign_raw(ES, exp=str(10**30)),
        "nbf NaN": a.sign_raw(ES, nbf="NaN"),
        "nbf -Infinity": a.sign_raw(ES, nbf="-Infinity"),
        "iat NaN": a.sign_raw(ES, iat="NaN"),
        "iat 1.5": a.sign_raw(ES, iat="1.5"),
    }


REFUSALS = list(_tokens(FixedClock(a.NOW)))


@pytest.mark.parametrize("case", REFUSALS)
async def test_a_refused_token_gets_401_or_403_and_writes_nothing(admin, db, clock, idp, case):
    email = f"keep-{uuid.uuid4().hex[:8]}@example.com"
    await store_unmailed(db, email)
    if case == "HS256 after the grace date":
        clock.at = a.NOW + datetime.timedelta(days=60)
    token = _tokens(clock)[case]
    answer = await admin.post(
        "/admin/v1/erasures", json={"addresses": [email]}, headers=a.bearer(token)
    )
    assert answer.status_code == (403 if case == "missing scope" else 401), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    # Nothing written: the subscription is still there and the audit trail is empty.
    assert [r async for r in inspect().subscriptions_by_index(db, email_index=index(email))]
    assert [r async for r in privacy().audit_actions(db)] == []
    if case == "HS256 after the grace date":
        assert "2026-06-30" in answer.json()["detail"]


@pytest.mark.parametrize("key", [ES, RS], ids=["ES256", "RS256"])
async def test_valid_tokens_pass_and_the_subject_is_the_audit_actor(admin, db, key):
    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    await store_unmailed(db, email)
    token = a.sign(key, sub=f"robot-{key.get('alg')}")
    answer = await admin.post(
        "/admin/v1/erasures", json={"address": email}, headers=a.bearer(token)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["addresses"] == 1 and answer.json()["subscriptions"] == 1
    assert not [r async for r in inspect().subscriptions_by_index(db, email_index=index(email))]
    [row] = [r async for r in privacy().audit_actions(db)]
    assert (row["actor"], row["action"]) == (f"robot-{key.get('alg')}", "erase")


async def test_hs256_is_accepted_until_its_date_and_counted_by_algorithm(admin, clock):
    def count(alg: str, outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "signup_admin_tokens_total", {"algorithm": alg, "outcome": outcome}
        )
        return value or 0.0

    before = (count("HS256", "accepted"), count("HS256", "hs256-ended"), count("ES256", "accepted"))
    legacy = a.hs256(a.HS256_SECRET.encode())  # legacy tokens carry no kid
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(legacy))).status_code == 200
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(a.sign(ES)))).status_code == 200
    clock.at = datetime.datetime(2026, 6, 30, 23, 59, tzinfo=datetime.UTC)
    late = a.hs256(a.HS256_SECRET.encode(), now=clock.at)
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(late))).status_code == 200
    clock.at = datetime.datetime(2026, 7, 1, 0, 0, tzinfo=datetime.UTC)
    ended = a.hs256(a.HS256_SECRET.encode(), now=clock.at)
    refused = await admin.get("/admin/v1/stats", headers=a.bearer(ended))
    assert refused.status_code == 401 and "until 2026-06-30" in refused.json()["detail"]
    after = (count("HS256", "accepted"), count("HS256", "hs256-ended"), count("ES256", "accepted"))
    assert [x - y for x, y in zip(after, before, strict=True)] == [2, 1, 1]


async def test_an_unknown_kid_refetches_once_then_is_refused(admin, idp, clock):
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(a.sign(ES)))).status_code == 200
    fetched = idp.call_count
    stranger = a.sign(a.ec_key("nobody"))
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(stranger))).status_code == 401
    assert idp.call_count == fetched  # the first fetch was under a minute ago
    clock.at += datetime.timedelta(seconds=61)
    for _ in range(3):
        assert (await admin.get("/admin/v1/stats", headers=a.bearer(stranger))).status_code == 401
    assert idp.call_count == fetched + 1  # one refetch, not one per token


async def test_key_rotation_works_without_restart(admin, idp, clock):
    old, new = ES, a.ec_key("es-2")
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(a.sign(old)))).status_code == 200
    # The identity provider publishes the new key beside the old one
    idp.state["document"] = a.jwks(old, new, RS)
    clock.at += datetime.timedelta(minutes=2)
    for key in (new, old):
        token = a.sign(key, now=clock.at)
        assert (await admin.get("/admin/v1/stats", headers=a.bearer(token))).status_code == 200
    # Then removes the old one: within MAX_AGE its tokens stop verifying
    idp.state["document"] = a.jwks(new, RS)
    clock.at += MAX_AGE
    refused = await admin.get("/admin/v1/stats", headers=a.bearer(a.sign(old, now=clock.at)))
    assert refused.status_code == 401
    token = a.sign(new, now=clock.at)
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(token))).status_code == 200


async def test_a_jwks_outage_keeps_the_cached_keys(admin, idp, clock):
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(a.sign(ES)))).status_code == 200
    idp.state["down"] = True
    clock.at += MAX_AGE * 3
    calls = idp.call_count
    token = a.sign(RS, now=clock.at)
    assert (await admin.get("/admin/v1/stats", headers=a.bearer(token))).status_code == 200
    assert idp.call_count == calls + 1  # it did try, failed, and served from the cache


async def test_scopes_per_route_and_admin_holds_them_all(admin, db):
    read = a.bearer(a.sign(ES, scope="signup:read"))
    assert (await admin.get("/admin/v1/stats", headers=read)).status_code == 200
    assert (await admin.get("/admin/v1/audit", headers=read)).status_code == 200
    assert (await admin.get("/admin/v1/subscribers/export", headers=read)).status_code == 403
    assert (
        await admin.post("/admin/v1/dead-letters/replay", json={"all": True}, headers=read)
    ).status_code == 403
    scp = a.bearer(a.sign(ES, scope=None, scp=["signup:export"]))
    assert (await admin.get("/admin/v1/subscribers/export", headers=scp)).status_code == 200
    everything = a.bearer(a.sign(ES, scope="signup:admin"))
    assert (await admin.get("/admin/v1/subscribers/export", headers=everything)).status_code == 200


async def test_a_nul_in_a_reason_or_a_list_name_is_a_400_not_a_500(admin, db):
    # PostgreSQL text refuses NUL: stored as a reason, or looked up as a list, it failed the
    # statement (a 500).
    headers = a.bearer(a.sign(ES, sub="dpo"))
    body = {"addresses": ["n@example.com"], "reason": "asked\x00"}
    refused = await admin.post("/admin/v1/suppressions", json=body, headers=headers)
    assert refused.status_code == 400 and refused.json()["type"].endswith(":invalid-field")
    listed = await admin.get("/admin/v1/subscribers/export?list=news%00", headers=headers)
    assert listed.status_code == 400 and "There is no list" in listed.json()["detail"]


async def test_suppress_unsuppress_dead_letters_and_audit_over_the_api(admin, db):
    email = f"s-{uuid.uuid4().hex[:8]}@example.com"
    await store_unmailed(db, email)
    headers = a.bearer(a.sign(ES, sub="dpo"))
    done = await admin.post(
        "/admin/v1/suppressions", json={"addresses": [email], "reason": "asked"}, headers=headers
    )
    assert done.status_code == 200 and done.json()["email_indexes"] == [index(email).hex()]
    lifted = await admin.delete(f"/admin/v1/suppressions/{index(email).hex()}", headers=headers)
    assert lifted.status_code == 200 and lifted.json()["suppressions"] == 1
    again = await admin.delete(f"/admin/v1/suppressions/{index(email).hex()}", headers=headers)
    assert again.status_code == 404
    assert (await admin.delete("/admin/v1/suppressions/zz", headers=headers)).status_code == 400
    listed = await admin.get("/admin/v1/dead-letters", headers=headers)
    assert listed.status_code == 200 and listed.json() == {"dead_letters": []}
    replay = await admin.post("/admin/v1/dead-letters/replay", json={"id": 5}, headers=headers)
    assert replay.status_code == 404
    bad = await admin.post("/admin/v1/dead-letters/replay", json={}, headers=headers)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    trail = (await admin.get("/admin/v1/audit", headers=headers)).json()["entries"]
    assert {e["actor"] for e in trail} == {"dpo"}
    assert [e["action"] for e in reversed(trail)] == [
        "suppress", "unsuppress", "unsuppress", "dead-letters-list", "dead-letters-replay",
    ]  # fmt: skip
    invalid = await admin.post(
        "/admin/v1/erasures", json={"addresses": ["not an address"]}, headers=headers
    )
    assert invalid.status_code == 400 and "not an address" not in invalid.text
    wrong_type = await admin.post("/admin/v1/erasures", content=b"[]", headers=headers)
    assert wrong_type.status_code == 415


async def test_admin_calls_are_rate_limited_per_subject(db, env, idp, clock):
    settings = load_settings(a.admin_env(env, SIGNUP_ADMIN_RATE_LIMIT="2/minute"))
    async with a.admin_client(settings, clock) as admin:
        first, second = (a.bearer(a.sign(ES, sub=s)) for s in ("one", "two"))
        codes = [(await admin.get("/admin/v1/stats", headers=first)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await admin.get("/admin/v1/stats", headers=second)).status_code == 200


def test_every_route_is_in_the_openapi_document_with_its_scope():
    documented = {
        (path, method.upper()): op["security"][0]["bearer"][0]
        for path, ops in openapi.PATHS.items()
        for method, op in ops.items()
    }
    served = {}
    for route in admin_app.ROUTES:
        assert isinstance(route, Route)
        for method in route.methods - {"HEAD"}:
            served[(route.path, method)] = routes.SCOPES[route.endpoint.__name__]
    assert served == documented
    assert openapi.DOCUMENT["openapi"].startswith("3.1")


async def test_openapi_and_jwks_are_served_and_the_public_port_has_no_admin_route(
    db, env, idp, clock, tmp_path
):
    from signup_api.app import create_app
    from signup_core import admin_keys

    keys_file = tmp_path / "keys.json"
    admin_keys.generate(keys_file, a.NOW)
    admin_keys.generate(keys_file, a.NOW)
    settings = load_settings(a.admin_env(env, SIGNUP_ADMIN_KEYS_FILE=str(keys_file)))
    public, admin = create_app(settings), admin_app.create_admin_app(settings, clock=clock)
    both = admin_app.ByPort(public, admin, 9443)
    async with public.router.lifespan_context(public), admin.router.lifespan_context(admin):
        transport = httpx.ASGITransport(app=both)
        async with httpx.AsyncClient(transport=transport) as c:
            document = (await c.get("http://x:9443/admin/v1/openapi.json")).json()
            assert document == json.loads(json.dumps(openapi.DOCUMENT))
            published = (await c.get("http://x:9443/.well-known/jwks.json")).json()["keys"]
            assert [k["kid"] for k in published] == [k["kid"] for k in admin_keys.read(keys_file)]
            assert all("d" not in k and k["alg"] == "ES256" for k in published)
            token = admin_keys.mint(settings, "cli", ["signup:read"], 900, a.NOW)
            ok = await c.get("http://x:9443/admin/v1/stats", headers=a.bearer(token))
            assert ok.status_code == 200, ok.text
            for path in ("/admin/v1/stats", "/admin/v1/openapi.json", "/.well-known/jwks.json"):
                answer = await c.get(f"http://x:8000{path}", headers=a.bearer(token))
                assert answer.status_code == 404


async def test_a_time_with_no_utc_form_is_a_400_before_the_export_starts(admin, db):
    # 0001-01-01T00:00+01:00 is before UTC's year 1: the database driver cannot send it, and it
    # failed the export after its 200 and header (a cut, empty download).
    headers = a.bearer(a.sign(ES, sub="dpo"))
    for name in ("since", "until"):
        query = {name: "0001-01-01T00:00:00+01:00"}
        got = await admin.get("/admin/v1/subscribers/export", params=query, headers=headers)
        assert got.status_code == 400, got.text
        assert f"{name} must be an ISO 8601 time" in got.json()["detail"]
    ok = await admin.get(
        "/admin/v1/subscribers/export", params={"since": "2026-12-07T09:30:00.5+01:00"},
        headers=headers,
    )  # fmt: skip
    assert ok.status_code == 200
