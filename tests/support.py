"""Helpers shared by the tests: environments for the app, queries for inspection, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosql
import httpx

from devstack.processes import die_with_parent, free_port, stop

BLIND_INDEX_KEY = "test-blind-index-key-0123456789abcdef"
SIGNING_KEY = "test-signing-key-0123456789abcdef0123"
# Two keys: "t1" seals; "t0" stands for a retired key that still opens old rows.
SEAL_KEYS = (
    "t1:dGVzdC1zZWFsLWtleS1vbmUtMDEyMzQ1Njc4OWFiY2Q,t0:dGVzdC1zZWFsLWtleS16ZXJvLTAxMjM0NTY3ODlhYmM"
)


@functools.cache
def inspect() -> Any:
    return aiosql.from_path(Path(__file__).parent / "fixtures" / "inspect.sql", "asyncpg")


@functools.cache
def keyring() -> Any:
    from signup_core.sealing import parse_keyring

    return parse_keyring(SEAL_KEYS)


def seal_params(email: str, name: str | None = None) -> dict[str, Any]:
    """The sealed columns of upsert_signups for an address (and name), as the API seals them."""
    from signup_core import sealing

    keys = keyring()
    return {
        "email_sealed": keys.seal(email, sealing.EMAIL),
        "name_sealed": keys.seal(name, sealing.NAME),
        "seal_key_id": keys.current_id,
    }


def unseal(blob: bytes | None, purpose: str = "subscriptions.email") -> str | None:
    return keyring().unseal(blob, purpose)


def app_env(database_url: str, redis_url: str, smtp_port: int, **overrides: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "PUBLIC_BASE_URL": "http://signup.test",
        "SIGNUP_BLIND_INDEX_KEY": BLIND_INDEX_KEY,
        "SIGNUP_SIGNING_KEY": SIGNING_KEY,
        "SIGNUP_SEAL_KEYS": SEAL_KEYS,
        "SIGNUP_RELAY_INTERVAL": "0.1",
        "SIGNUP_MAIL_MIN_BACKOFF_MS": "100",
        "SIGNUP_MAIL_MAX_BACKOFF_MS": "400",
        "SIGNUP_MAIL_MAX_RETRIES": "3",
        "SIGNUP_WORKER_THREADS": "4",
        "SIGNUP_SOFT_BOUNCE_LIMIT": "2",
        # On, so every test goes through the limiter, but out of the way of all but its own.
        "SIGNUP_RATE_LIMIT_IP": "1000/minute",
        "SIGNUP_RATE_LIMIT_NETWORK": "1000/minute",
        "SIGNUP_RATE_LIMIT_ADDRESS": "1000/minute",
        "SIGNUP_RATE_LIMIT_GLOBAL": "10000/minute",
        # Never the default ports: two checkouts' test runs may share the machine.
        "SIGNUP_METRICS_PORT": str(free_port()),
        "SIGNUP_WORKER_METRICS_PORT": str(free_port()),
    }
    env.update(overrides)
    return env


async def empty_tables(conn: Any) -> None:
    """Every table emptied (inspect.sql's truncate_all), again if PostgreSQL chose this TRUNCATE
    to break a deadlock: a worker finishing a test's rows locks the outbox, then its
    subscription, while TRUNCATE locks the tables in its own order."""
    import asyncpg

    for attempt in range(5):
        try:
            await inspect().truncate_all(conn)
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.1)


async def eventually(check: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Await check() until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def app_client(env: dict[str, str], clock: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app built from `env`, its lifespan running (and its clock set)."""
    from signup_api.app import create_app
    from signup_core.settings import load_settings

    app = create_app(load_settings(env))
    async with app.router.lifespan_context(app):
        if clock is not None:
            app.state.clock = clock
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://signup.test") as c:
            yield c


async def store_signup(
    conn: Any,
    email: str,
    *,
    name: str | None = None,
    list_name: str = "newsletter",
    key: str = BLIND_INDEX_KEY,
    index_key: str | None = None,
) -> Any:
    """A signup stored as the API stores it (its one statement), without the API: for tests
    that commit rows together with something else, or rows the API would refuse. Filed under
    `key`'s index, recorded (and guarded) as made with `index_key` (by default `key`)."""
    from signup_api.signup_batch import Fixed, SignupRow, upsert
    from signup_core.addresses import blind_index
    from signup_core.index_keys import fingerprint

    sealed = seal_params(email, name)
    index = blind_index(key.encode(), email)
    row = SignupRow(
        list_name=list_name,
        email_index=index,
        held_index=index,
        email_sealed=sealed["email_sealed"],
        name_sealed=sealed["name_sealed"],
        locale="en",
    )
    alike = Fixed(
        index_key=fingerprint((index_key or key).encode()),
        seal_key_id=sealed["seal_key_id"],
        form_version="1",
        resend_window=600.0,
        reveal_existing=False,
    )
    [stored] = await upsert(conn, alike, [row])
    return stored


async def store_unmailed(
    conn: Any, email: str, *, name: str | None = None, list_name: str = "newsletter"
) -> Any:
    """store_signup, its outbox rows committed already marked relayed: the session worker, if
    it runs, never mails them, so a test reads only its own work in the rows (tokens, sent
    marks, locks). Marked in the same transaction: a relay poll between the two would win."""
    from signup_core.addresses import blind_index

    async with conn.transaction():
        row = await store_signup(conn, email, name=name, list_name=list_name)
        await inspect().mark_relayed(conn, email_index=blind_index(BLIND_INDEX_KEY.encode(), email))
    return row


async def create_database(server_url: str, prefix: str) -> str:
    """A new, empty database on the server; returns its URL."""
    import uuid

    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def mailed_token(smtp_server: Any, db: Any, email: str, timeout: float = 10) -> tuple:
    """The confirmation mail to `email` and its token, once the token can be used: the catcher
    holds a mail a moment before the worker commits the token's hash with its sent mark."""
    import re

    from signup_core.addresses import blind_index

    [mail] = smtp_server.wait_for(lambda m: email in str(m["To"]), timeout=timeout)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    token = re.search(r"/confirm\?token=([A-Za-z0-9_-]+)", text).group(1)
    index = blind_index(BLIND_INDEX_KEY.encode(), email)

    async def stored() -> bool:
        return bool([t async for t in inspect().tokens_for(db, email_index=index)])

    await eventually(stored, timeout)
    return mail, token


def signup_confirm_over_http(
    base: str, smtp_server: Any, tag: str, public: str | None = None
) -> None:
    """A visitor's whole path against a served API and worker: a form signup, the confirmation
    mail with a link to `public` (PUBLIC_BASE_URL; default `base`), the confirm button posted to
    `base`, the welcome mail."""
    import re
    import uuid

    from devstack.mailcatcher import text_part

    email = f"{tag}-{uuid.uuid4().hex[:10]}@example.com"
    signup = httpx.post(f"{base}/signup", data={"email": email}, timeout=10)
    assert signup.status_code == 303, signup.text
    [mail] = smtp_server.wait_for(lambda m: email in str(m["To"]), timeout=30)
    link = re.search(
        rf"{re.escape(public or base)}/confirm\?token=([A-Za-z0-9_-]+)", text_part(mail)
    )
    assert link, text_part(mail)
    confirm = httpx.post(f"{base}/confirm", data={"token": link.group(1)}, timeout=10)
    assert confirm.status_code == 200, confirm.text
    smtp_server.wait_for(
        lambda m: email in str(m["To"]) and "Welcome" in str(m["Subject"]), timeout=30
    )


async def migrated_database(server_url: str, prefix: str) -> str:
    """A new database with every migration applied; returns its URL."""
    import asyncpg

    from signup_core.migrations import migrate

    url = await create_database(server_url, prefix)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


def killed_after(batches: int) -> Callable[[int], None]:
    """An on_batch callback for the batched commands that stops the run after `batches`
    batches, as a kill between two transactions would (one inside a batch rolls back)."""
    done: list[int] = []

    def on_batch(n: int) -> None:
        done.append(n)
        if len(done) == batches:
            raise KeyboardInterrupt

    return on_batch


def start_api(env: dict[str, str], log: Path, **more: str) -> tuple[subprocess.Popen, str]:
    """The installed signup-api on a free port, its output appended to `log`, once /healthz
    answers: the process and its URL. One that exits or is not up in 30 s is stopped and its
    log's tail raised."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("signup-api"))],
            env={**os.environ, **env, "PORT": str(port), **more},
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process, timeout=5)
                raise RuntimeError(log.read_text()[-3000:]) from None
            time.sleep(0.1)
