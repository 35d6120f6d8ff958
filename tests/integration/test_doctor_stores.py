"""signupctl doctor's store checks against the real servers: a schema behind (an empty
database), a blind-index rotation in progress and rows under an unknown key, and PostgreSQL or
Redis that do not answer."""

from __future__ import annotations

import pytest

from devstack.processes import free_port
from signup_core.diagnosis import stores
from signup_core.diagnosis.results import FAIL, PASS, SKIP
from signup_core.settings import load_settings
from tests.support import BLIND_INDEX_KEY, create_database, store_signup

NEW_KEY = "a-new-blind-index-key-0123456789abcdef"


async def checked(env: dict[str, str], **overrides: str) -> dict:
    return {r.name: r for r in await stores.check(load_settings({**env, **overrides}))}


async def test_an_empty_database_is_behind_and_the_rest_waits_for_it(env, pg_server):
    empty = await create_database(pg_server.url, "doctor")
    found = await checked(env, DATABASE_URL=empty)
    assert found["postgresql"].status == PASS
    schema = found["schema"]
    assert schema.status == FAIL and "migration(s) pending: 0001_initial" in schema.detail
    assert "signupctl migrate" in schema.fix
    assert found["seal-keyring"].status == found["blind-index"].status == SKIP


async def test_a_rotation_in_progress_passes_and_says_what_is_left(env, db):
    await store_signup(db, "rotating@example.com")  # filed under BLIND_INDEX_KEY
    during = await checked(
        env, SIGNUP_BLIND_INDEX_KEY=NEW_KEY, SIGNUP_BLIND_INDEX_KEY_PREVIOUS=BLIND_INDEX_KEY
    )
    assert during["blind-index"].status == PASS
    assert "rotation in progress: 1 row(s)" in during["blind-index"].detail
    assert "signupctl rotate-blind-index" in during["blind-index"].detail
    before = await checked(env)
    assert before["blind-index"].detail.startswith("no rotation in progress")


async def test_rows_under_a_key_neither_current_nor_previous_fail(env, db):
    await store_signup(db, "lost@example.com")
    found = await checked(env, SIGNUP_BLIND_INDEX_KEY=NEW_KEY)  # the old key dropped
    result = found["blind-index"]
    assert result.status == FAIL and "look-ups by address miss them" in result.detail
    assert "SIGNUP_BLIND_INDEX_KEY_PREVIOUS" in result.fix


@pytest.mark.parametrize("down", ["DATABASE_URL", "REDIS_URL"])
async def test_a_server_that_does_not_answer_fails_its_check(env, down):
    nowhere = {
        "DATABASE_URL": f"postgresql://signup@127.0.0.1:{free_port()}/signup",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }[down]
    found = await checked(env, **{down: nowhere})
    name, says = (
        ("postgresql", "cannot connect") if down == "DATABASE_URL" else ("redis", "cannot reach")
    )
    assert found[name].status == FAIL and found[name].detail.startswith(says), found[name]
    assert down in found[name].fix
    if down == "DATABASE_URL":
        assert found["schema"].status == SKIP and found["redis"].status == PASS
