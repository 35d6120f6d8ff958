"""The admin listener in the real `signup-api` process, with keys and a token from `signupctl`:
erasure over the API and over the CLI give the same result, and the export streams 100,000
rows while the server's memory stays flat."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.processes import free_port, stop
from signup_core.addresses import blind_index
from tests.privacy_support import privacy, signupctl
from tests.support import (
    BLIND_INDEX_KEY,
    eventually,
    inspect,
    keyring,
    start_api,
    store_unmailed,
)


@pytest.fixture
def served(env, tmp_path) -> Iterator[tuple[dict[str, str], str]]:
    """signup-api with its admin listener; its env (keys file made by signupctl) and admin URL."""
    keys_file = tmp_path / "admin-keys.json"
    admin_port = free_port()
    server_env = {
        **env,
        "SIGNUP_ADMIN_PORT": str(admin_port),
        "SIGNUP_ADMIN_KEYS_FILE": str(keys_file),
    }
    made = signupctl(server_env, "keys", "generate")
    assert made.returncode == 0, made.stderr
    assert os.stat(keys_file).st_mode & 0o077 == 0  # private keys: owner only
    # One server on both ports: the public one answering means the admin one listens too.
    process, public = start_api(server_env, tmp_path / "api.log")
    server_env["_PID"], server_env["_PUBLIC"] = str(process.pid), public
    try:
        yield server_env, f"http://127.0.0.1:{admin_port}"
    finally:
        stop(process, timeout=20)


def _token(env: dict[str, str], *scopes: str) -> str:
    args = [a for s in scopes for a in ("--scope", s)]
    done = signupctl(env, "--actor", "oncall", "token", *args, "--ttl", "10m")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _peak_mib(pid: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


async def _erasable(db, tag: str) -> list[str]:
    emails = [f"{tag}-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(2)]
    for email in emails:
        index = blind_index(BLIND_INDEX_KEY.encode(), email)
        await store_unmailed(db, email)
        await store_unmailed(db, email, list_name="other")
        await privacy().insert_event(
            db, email_index=index, event_id=uuid.uuid4().hex, kind="hard_bounce", applied=True
        )
    return emails


async def test_erasure_over_the_api_and_the_cli_give_identical_results(db, served):
    env, url = served
    by_cli, by_api = await _erasable(db, "cli"), await _erasable(db, "api")
    # One of each pair suppressed, so the kept suppression entry is counted too
    for email in (by_cli[0], by_api[0]):
        assert signupctl(env, "suppress", email).returncode == 0
    done = signupctl(env, "--actor", "oncall", "erase", *by_cli)
    assert done.returncode == 0, done.stderr
    headers = {"authorization": f"Bearer {_token(env, 'signup:erase')}"}
    answer = httpx.post(f"{url}/admin/v1/erasures", json={"addresses": by_api}, headers=headers)
    assert answer.status_code == 200, answer.text
    cli_row, api_row = [a async for a in privacy().audit_actions(db) if a["action"] == "erase"]
    # Same counts in the audit trail, in the CLI's summary and in the API's answer
    assert json.loads(cli_row["counts"]) == json.loads(api_row["counts"])
    assert json.loads(cli_row["params"]) == json.loads(api_row["params"])
    assert cli_row["actor"] == api_row["actor"] == "oncall"
    counts = {k: v for k, v in answer.json().items() if k != "addresses"}
    assert json.loads(api_row["counts"]) == counts
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    assert f"erased 2 address(es): {summary}" in done.stderr
    # And the same state left behind: nothing but the suppression entries
    for email in by_cli + by_api:
        index = blind_index(BLIND_INDEX_KEY.encode(), email)
        assert [r async for r in inspect().subscriptions_by_index(db, email_index=index)] == []


async def test_export_streams_100000_rows_in_bounded_memory(db, served):
    env, url = served
    keys = keyring()
    sealed = {
        "email_sealed": keys.seal("bulk@example.com", "subscriptions.email"),
        "name_sealed": keys.seal("Bulk " + "x" * 200, "subscriptions.name"),
        "key_id": "t1",
    }
    await privacy().seed_confirmed(db, count=1_000, list_name="small", **sealed)
    await privacy().seed_confirmed(db, count=100_000, list_name="big", **sealed)
    headers = {"authorization": f"Bearer {_token(env, 'signup:export')}"}

    def export(list_name: str, fmt: str) -> tuple[int, int]:
        lines = size = 0
        params = {"list": list_name, "format": fmt}
        with httpx.stream(
            "GET", f"{url}/admin/v1/subscribers/export", params=params, headers=headers, timeout=120
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                lines += 1
                size += len(line)
        return lines, size

    assert export("small", "csv")[0] == 1_001
    small = _peak_mib(env["_PID"])
    lines, size = export("big", "jsonl")
    big = _peak_mib(env["_PID"])
    assert lines == 100_000 and size > 40 * 1024 * 1024
    # The body is >40 MiB; held in memory it would raise the peak by at least that much.
    print(f"admin export peak RSS: {small:.1f} MiB after 1,000 rows, {big:.1f} after 100,000")
    assert big - small < 20, (small, big)
    [entry] = [a async for a in privacy().audit_actions(db) if "big" in a["params"]]
    assert json.loads(entry["counts"]) == {"rows": 100_000} and entry["actor"] == "oncall"


def test_the_public_port_serves_no_admin_route(served):
    env, url = served
    token = _token(env, "signup:admin")
    for path in ("/admin/v1/stats", "/.well-known/jwks.json", "/admin/v1/openapi.json"):
        answer = httpx.get(env["_PUBLIC"] + path, headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 404
    ok = httpx.get(f"{url}/admin/v1/stats", headers={"authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and "lists" in ok.json()


async def test_an_export_the_client_leaves_is_audited_as_interrupted(db, served):
    env, url = served
    keys = keyring()
    sealed = keys.seal("left@example.com", "subscriptions.email")
    await privacy().seed_confirmed(
        db, count=20_000, email_sealed=sealed, name_sealed=None, key_id="t1", list_name="big"
    )
    headers = {"authorization": f"Bearer {_token(env, 'signup:export')}"}
    with httpx.stream(
        "GET", f"{url}/admin/v1/subscribers/export", headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200
        next(response.iter_bytes())  # the first rows, then the client is gone
    audit = await eventually(lambda: _audited(db, "export"), timeout=20)
    counts = json.loads(audit["counts"])
    assert counts["interrupted"] is True and 0 < counts["rows"] < 20_000


async def _audited(db, action: str):
    found = [a async for a in privacy().audit_actions(db) if a["action"] == action]
    return found[0] if found else None
