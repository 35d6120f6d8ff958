"""The asyncpg pool and the named queries, loaded from the installed package signup_core.sql."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import aiosql
import asyncpg
from aiosql.adapters.asyncpg import AsyncPGAdapter

from signup_core.settings import Settings


def _folder_on_disk(package: str) -> Path:
    """Where a data-only package was installed: aiosql and the migration runner read by path."""
    folder = resources.files(package)
    if not isinstance(folder, Path):
        raise RuntimeError(f"{package} must be installed as a folder on disk, not zipped")
    return folder


# The repository's sql/ folder, which the wheel and the editable install both map to this name.
SQL_DIR = _folder_on_disk("signup_core.sql")

# Errors that mean "the database is unreachable right now", as opposed to a bug in a query.
# Every form a lost or refused connection takes in asyncpg: a socket error (reset, refused:
# OSError), a timeout, SQLSTATE class 08 (the connection is gone), class 57 (the server shuts
# down or is starting: AdminShutdown, CrashShutdown, CannotConnectNow), too many connections,
# a connection in a bad state (InterfaceError: closed, or another operation in progress) and
# the client's own protocol errors (InternalClientError) that a connection cut mid-message
# leaves behind. A standby that became read-only after a switchover is an outage as well.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,
)


class _Adapter(AsyncPGAdapter):
    """aiosql's asyncpg adapter without its test for a pool on every query, which lists the
    connection's attributes (`"acquire" in dir(conn)`: ~13 µs for a pooled connection, so
    ~2 % of a mail's CPU over the sender's four queries). Given a connection, the query runs
    on it; a pool (or a record class, which we do not use) still goes through aiosql, which
    acquires a connection."""

    async def select(self, conn, query_name, sql, parameters, record_class=None):
        if isinstance(conn, asyncpg.Pool) or record_class is not None:
            async for row in super().select(conn, query_name, sql, parameters, record_class):
                yield row
            return
        for row in await conn.fetch(sql, *self.maybe_order_params(query_name, parameters)):
            yield row

    async def select_one(self, conn, query_name, sql, parameters, record_class=None):
        if isinstance(conn, asyncpg.Pool) or record_class is not None:
            return await super().select_one(conn, query_name, sql, parameters, record_class)
        return await conn.fetchrow(sql, *self.maybe_order_params(query_name, parameters))

    async def select_value(self, conn, query_name, sql, parameters):
        if isinstance(conn, asyncpg.Pool):
            return await super().select_value(conn, query_name, sql, parameters)
        return await conn.fetchval(sql, *self.maybe_order_params(query_name, parameters))

    async def insert_update_delete(self, conn, query_name, sql, parameters):
        if isinstance(conn, asyncpg.Pool):
            return await super().insert_update_delete(conn, query_name, sql, parameters)
        return await conn.execute(sql, *self.maybe_order_params(query_name, parameters))


@functools.cache
def queries() -> Any:
    """Every named query in signup_core.sql's queries/, loaded once per process."""
    return aiosql.from_path(SQL_DIR / "queries", _Adapter)


def session_options(mode: str) -> dict[str, Any]:
    """asyncpg options for a pool mode. Behind PgBouncer in transaction pooling each statement
    may run on another server connection: asyncpg's named prepared statements (its statement
    cache) would be missing or duplicated there, so the cache is off and asyncpg uses unnamed
    statements, parsed and run in one go. Nothing else of ours needs a session: no SET, no
    LISTEN, no session advisory lock (the purge loop holds a lease row instead)."""
    return {"statement_cache_size": 0} if mode == "transaction" else {}


async def connect(url: str, mode: str, **options: Any) -> asyncpg.Connection:
    """One connection (signupctl, the worker's scrape) with the pool mode's options."""
    return await asyncpg.connect(url, **session_options(mode), **options)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to undo: no query of ours changes session state (SET, LISTEN, session locks,
    cursors). asyncpg's default reset sends four statements on every release, a second round
    trip for each signup; an open transaction is still rolled back before this is called."""


async def create_pool(settings: Settings, *, max_size: int | None = None) -> asyncpg.Pool:
    """A pool that opens connections lazily, so a process can start while PostgreSQL is down."""
    return await asyncpg.create_pool(
        settings.database_url.value,
        min_size=0,
        max_size=max_size or settings.db_pool_max,
        command_timeout=5,
        timeout=2,
        reset=_keep_session,
        **session_options(settings.database_pool_mode),
    )
