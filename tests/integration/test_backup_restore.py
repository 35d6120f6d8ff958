"""The backup runbook's steps against real PostgreSQL, with the embedded server's own pg_dump
and pg_restore: rows, decryption and the blind index survive the round trip."""

from __future__ import annotations

import subprocess
import uuid

import asyncpg

from devstack import postgres
from signup_core import sealing
from tests.integration.test_operator_cli import _signup, index
from tests.privacy_support import privacy, signupctl
from tests.support import inspect, keyring


def _tool(name: str) -> str:
    return str(postgres.install_dir(None) / "bin" / name)


async def test_dump_and_restore_keep_rows_sealing_and_index(db, migrated, env, tmp_path):
    email = f"backup-{uuid.uuid4().hex[:8]}@example.com"
    await _signup(db, email, "Barbara")
    assert signupctl(env, "suppress", email).returncode == 0
    dump = tmp_path / "signet.dump"
    # Given a dump made as the runbook says
    subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", migrated],
        check=True,
    )
    # When it is restored into an empty database, and migrate is run there
    await privacy().drop_restore_db(db)
    await privacy().create_restore_db(db)
    restored = migrated.rsplit("/", 1)[0] + "/restore_test"
    subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump)],
        check=True,
    )
    migrate = signupctl({"DATABASE_URL": restored}, "migrate")
    assert migrate.returncode == 0 and "applied 0 migration(s)" in migrate.stderr
    # Then the blind index finds the row, the keyring opens it, and the suppression is there
    conn = await asyncpg.connect(restored)
    try:
        [row] = [r async for r in inspect().subscriptions_by_index(conn, email_index=index(email))]
        assert keyring().unseal(row["email_sealed"], sealing.EMAIL) == email
        assert keyring().unseal(row["name_sealed"], sealing.NAME) == "Barbara"
        assert row["status"] == "suppressed"
        assert [a["action"] async for a in privacy().audit_actions(conn)] == ["suppress", "migrate"]
    finally:
        await conn.close()
        await privacy().drop_restore_db(db)
