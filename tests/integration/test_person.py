"""Finding one person and answering their access request: signupctl show (summary and the
complete --json export), the admin API's look-up, import and unsuppress by address, and the
small operator gaps (empty dead letters, unknown list, problem titles)."""

from __future__ import annotations

import json
import uuid

from signup_core import tokens
from tests import admin_support as a
from tests.integration.test_admin_api import ES, admin, clock, idp  # noqa: F401 (fixtures)
from tests.integration.test_operator_cli import _signup, index
from tests.privacy_support import privacy, signupctl
from tests.support import inspect


async def _person(db, env) -> str:
    """One address pending on one list, unsubscribed on another, then suppressed by a hard
    bounce; with a mail queued, an outstanding token and a provider event."""
    email = f"P-{uuid.uuid4().hex[:8]}@Example.com".lower()
    pending = await _signup(db, email, name="Pat")
    await _signup(db, email, list_name="other")
    await db.execute(
        "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now() "
        "WHERE email_index = $1 AND list_name = 'other'",
        index(email),
    )
    await inspect().mark_relayed(db, email_index=index(email))
    [sub] = await db.fetch(
        "SELECT id FROM subscriptions WHERE email_index = $1 AND list_name = 'newsletter'",
        index(email),
    )
    _, digest = tokens.mint()
    await inspect().insert_token(db, token_hash=digest, subscription_id=sub["id"], ttl_seconds=3600)
    await privacy().insert_event(
        db, email_index=index(email), event_id=uuid.uuid4().hex, kind="delivered", applied=True
    )
    assert pending["status"] == "pending"
    return email


async def test_show_finds_a_pending_subscriber_the_export_does_not_list(db, env):
    email = await _person(db, env)
    export = signupctl(env, "export")
    assert export.returncode == 0 and email not in export.stdout  # nobody confirmed
    done = signupctl(env, "--actor", "dpo", "show", email.upper())
    assert done.returncode == 0, done.stderr
    assert email.upper().split("@")[0] in done.stdout  # as given: found by its index
    assert "newsletter: pending (name Pat, locale en)" in done.stdout
    assert "other: unsubscribed" in done.stdout
    assert "1 outstanding token(s)" in done.stdout
    assert "mail confirmation (newsletter)" in done.stdout
    assert "event postmark delivered" in done.stdout
    # The look-up wrote one audit row, by blind index, without the address
    [row] = [r async for r in privacy().audit_actions(db) if r["action"] != "export"]
    assert (row["actor"], row["action"]) == ("dpo", "lookup")
    assert json.loads(row["params"]) == {"email_index": index(email).hex(), "how": "summary"}
    assert "@" not in row["params"] + row["counts"]


async def test_show_json_is_the_complete_access_export(db, env):
    email = await _person(db, env)
    assert signupctl(env, "suppress", "--reason", "complaint", email).returncode == 0
    done = signupctl(env, "show", email, "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["address"] == email and record["email_index"] == index(email).hex()
    subs = {s["list"]: s for s in record["subscriptions"]}
    assert set(subs) == {"newsletter", "other"}
    assert {s["status"] for s in subs.values()} == {"suppressed"}
    assert subs["newsletter"]["name"] == "Pat" and subs["newsletter"]["address"] == email
    assert subs["newsletter"]["tokens_outstanding"] == 1
    assert subs["newsletter"]["consent"]["consent_source"] == "landing"
    assert "unsubscribe_url" in subs["newsletter"]
    assert record["suppression"]["reason"] == "complaint"
    assert sorted((m["list"], m["kind"]) for m in record["mails"]) == [
        ("newsletter", "confirmation"), ("other", "confirmation"),
    ]  # fmt: skip
    assert [e["kind"] for e in record["provider_events"]] == ["delivered"]
    assert [e["action"] for e in record["audit"]] == ["suppress"]
    # Nothing to find is an empty record, not an error (and still audited)
    nobody = json.loads(signupctl(env, "show", "nobody@example.com", "--json").stdout)
    assert nobody["subscriptions"] == [] and nobody["suppression"] is None
    assert signupctl(env, "show", "not an address").returncode == 1


async def test_admin_lookup_takes_the_address_in_the_body(admin, db, env):  # noqa: F811
    email = await _person(db, env)
    token = a.sign(ES, sub="dpo-robot")
    answer = await admin.post(
        "/admin/v1/subscribers/lookup", json={"address": email}, headers=a.bearer(token)
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert {s["list"] for s in answer.json()["subscriptions"]} == {"newsletter", "other"}
    [row] = [r async for r in privacy().audit_actions(db)]
    assert (row["actor"], row["action"]) == ("dpo-robot", "lookup") and "@" not in row["params"]
    bad = await admin.post(
        "/admin/v1/subscribers/lookup", json={"address": "x@@y"}, headers=a.bearer(token)
    )
    assert bad.status_code == 400 and "x@@y" not in bad.text
    reader = a.sign(ES, scope="signup:read")
    denied = await admin.post(
        "/admin/v1/subscribers/lookup", json={"address": email}, headers=a.bearer(reader)
    )
    assert denied.status_code == 403


async def test_admin_import_streams_a_body_and_refuses_a_bad_row(admin, db):  # noqa: F811
    token = a.bearer(a.sign(ES))
    body = "email,name,consent_at\nq1@example.org,Q,2020-01-01T00:00:00Z\nnope,Q2,2020-01-01\n"

    async def chunks():
        for i in range(0, len(body), 7):  # a streamed body, in small pieces
            yield body[i : i + 7].encode()

    url = "/admin/v1/subscribers/import?mode=confirmed&source=old%20form"
    headers = {**token, "content-type": "text/csv"}
    refused = await admin.post(url, content=chunks(), headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [{"line": 3, "reason": "not a valid address"}]
    assert (await inspect().count_rows(db))["subscriptions"] == 0
    done = await admin.post(url + "&skip_invalid=true", content=body.encode(), headers=headers)
    assert done.status_code == 200, done.text
    assert (done.json()["imported"], done.json()["invalid"]) == (1, 1)
    no_mode = await admin.post("/admin/v1/subscribers/import", content=b"x", headers=headers)
    assert no_mode.status_code == 400
    actions = [(r["action"], r["actor"]) async for r in privacy().audit_actions(db)]
    assert actions == [("import", "oncall@example.org")] * 2


async def test_unsuppress_by_address_in_the_body_and_on_the_command_line(admin, db, env):  # noqa: F811
    email = f"s-{uuid.uuid4().hex[:8]}@example.com"
    await _signup(db, email)
    assert signupctl(env, "suppress", email).returncode == 0
    token = a.bearer(a.sign(ES))
    lifted = await admin.post("/admin/v1/suppressions/lift", json={"address": email}, headers=token)
    assert lifted.status_code == 200 and lifted.json() == {"suppressions": 1, "subscriptions": 1}
    again = await admin.post("/admin/v1/suppressions/lift", json={"address": email}, headers=token)
    assert again.status_code == 404
    assert signupctl(env, "suppress", email).returncode == 0
    done = signupctl(env, "unsuppress", email)
    assert done.returncode == 0 and "lifted 1 suppression(s)" in done.stderr


async def test_problem_titles_are_consistent_for_401_403_404(admin):  # noqa: F811
    unauth = await admin.get("/admin/v1/stats")
    forbidden = await admin.get(
        "/admin/v1/stats", headers=a.bearer(a.sign(ES, scope="signup:export"))
    )
    missing = await admin.get("/admin/v1/nothing-here", headers=a.bearer(a.sign(ES)))
    titles = {r.status_code: r.json()["title"] for r in (unauth, forbidden, missing)}
    assert titles == {401: "Unauthorized", 403: "Forbidden", 404: "Not found"}
    for r in (unauth, forbidden, missing):
        assert r.headers["content-type"] == "application/problem+json"


async def test_dead_letters_list_says_when_there_are_none_and_unknown_lists_exit_2(db, env):
    empty = signupctl(env, "dead-letters", "list")
    assert empty.returncode == 0 and empty.stdout == ""
    assert "no dead letters" in empty.stderr
    unknown = signupctl(env, "export", "--list", "nosuchlist")
    assert unknown.returncode == 2 and "nosuchlist" in unknown.stderr
