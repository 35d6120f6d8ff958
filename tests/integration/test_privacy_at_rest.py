"""Encryption at rest: no address or name in any column of any table after a full flow; rows
stay readable through a key rotation, even one killed midway; unknown key ids stop the start."""

from __future__ import annotations

import uuid

import pytest

from signup_core import db as core_db
from signup_core import rotation, sealing
from signup_core.sealing import UnknownKeyId, parse_keyring
from signup_core.settings import load_settings
from tests.integration.test_flow import to
from tests.privacy_support import fetch, privacy, signupctl
from tests.support import SEAL_KEYS, app_env, eventually, killed_after, mailed_token

OLD_ONLY = SEAL_KEYS.split(",")[1]  # "t0:...": the retired key, as the only one


async def test_no_address_or_name_at_rest_after_a_full_flow(client, db, worker, smtp_server, env):
    email = f"rest-{uuid.uuid4().hex[:10]}@example.com"
    name = f"Hedy {uuid.uuid4().hex[:6]}"
    # Given a signup, confirmed, welcomed, then exported and suppressed by the operator
    assert (await client.post("/signup", json={"email": email, "name": name})).status_code == 202
    _, token = await mailed_token(smtp_server, db, email)
    assert (await client.post("/confirm", data={"token": token})).status_code == 200
    smtp_server.wait_for(lambda m: to(email)(m) and "Welcome" in m["Subject"], timeout=10)
    exported = signupctl(env, "export")
    assert exported.returncode == 0 and email in exported.stdout  # readable through the keys
    assert signupctl(env, "suppress", email).returncode == 0
    # When every table is read raw
    await privacy().create_dump_function(db)
    dump = "\n".join([r["dump"] async for r in privacy().dump_tables(db)])
    tables = {r["table_name"] async for r in privacy().dump_tables(db)}
    assert {"subscriptions", "outbox", "provider_events", "audit_log", "suppressions"} <= tables
    assert "confirmation_tokens" in tables and ",t1," in dump
    # Then neither the address nor the name is there, as text or as bytes
    for secret in (email, email.split("@")[0], name):
        assert secret.lower() not in dump.lower()
        assert secret.encode().hex() not in dump.lower()


async def _seed_under_old_key(db, count: int) -> None:
    old = parse_keyring(OLD_ONLY)
    await privacy().seed_confirmed(
        db,
        count=count,
        email_sealed=old.seal("kept@example.com", sealing.EMAIL),
        name_sealed=old.seal("Kept", sealing.NAME),
        key_id="t0",
        list_name="newsletter",
    )


async def test_rotation_killed_midway_resumes_and_every_row_reads(db, migrated, env):
    settings = load_settings(env)
    keys = settings.seal_keys
    await _seed_under_old_key(db, 230)
    pool = await core_db.create_pool(settings, max_size=2)
    try:
        # Given a rotation killed after two batches of 50
        with pytest.raises(KeyboardInterrupt):
            await rotation.reseal(pool, keys, batch=50, on_batch=killed_after(2))
        counts = {r["seal_key_id"]: r["n"] async for r in privacy().key_id_counts(db)}
        assert counts == {"t0": 130, "t1": 100}
        # Then old and new rows both read meanwhile
        rows = [r async for r in privacy().sealing_of_all(db)]
        assert {keys.unseal(r["email_sealed"], sealing.EMAIL) for r in rows} == {"kept@example.com"}
        # When it runs again, it finishes what is left, and only that
        assert await rotation.reseal(pool, keys, batch=50) == 130
        assert await rotation.remaining(pool, keys) == 0
    finally:
        await pool.close()
    # Then the new key alone opens every row: the old one can be dropped
    new_only = parse_keyring(SEAL_KEYS.split(",")[0])
    for r in [r async for r in privacy().sealing_of_all(db)]:
        assert new_only.unseal(r["name_sealed"], sealing.NAME) == "Kept"


async def test_rotate_keys_command_seals_legacy_plaintext_rows_and_is_audited(db, migrated, env):
    await privacy().seed_confirmed(
        db,
        count=3,
        email_sealed=b"legacy@example.com",
        name_sealed=None,
        key_id=None,
        list_name="newsletter",
    )
    done = signupctl(env, "--actor", "oncall", "rotate-keys", "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert "re-sealed 3 row(s) under t1; 0 left" in done.stderr
    rows = [r async for r in privacy().sealing_of_all(db)]
    assert {r["seal_key_id"] for r in rows} == {"t1"}
    assert b"legacy" not in b"".join(bytes(r["email_sealed"]) for r in rows)
    [entry] = [a async for a in privacy().audit_actions(db)]
    assert (entry["actor"], entry["action"], entry["outcome"]) == ("oncall", "rotate-keys", "done")


async def test_api_and_worker_refuse_to_start_on_a_key_id_not_in_the_keyring(
    db, migrated, redis_server, smtp_server, tmp_path
):
    from signup_api.app import create_app
    from tests.conftest import Worker

    gone = parse_keyring("gone:" + "A" * 43)
    await privacy().seed_confirmed(
        db,
        count=1,
        email_sealed=gone.seal("x@example.com", sealing.EMAIL),
        name_sealed=None,
        key_id="gone",
        list_name="newsletter",
    )
    env = app_env(migrated, redis_server.url, smtp_server.port)
    app = create_app(load_settings(env))
    with pytest.raises(UnknownKeyId, match="gone"):
        async with app.router.lifespan_context(app):
            pass
    worker = Worker(env, tmp_path / "worker.log")
    try:
        await eventually(lambda: worker.process.poll() is not None, timeout=30)
        assert worker.process.returncode != 0 and "gone" in worker.log()
    finally:
        worker.stop()
    assert await fetch(migrated, "key_id_counts") == [{"seal_key_id": "gone", "n": 1}]
