"""Every form a lost or refused PostgreSQL connection takes in asyncpg counts as "the database
is unavailable" (503 + Retry-After on the API, a retry in the worker), never as a bug."""

from __future__ import annotations

import asyncpg
import pytest

from signup_core import db

CONNECTION_ERRORS = [
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.ConnectionFailureError,
    asyncpg.ClientCannotConnectError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.ProtocolError,
    asyncpg.OutdatedSchemaCacheError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,
    ConnectionResetError,
    ConnectionRefusedError,
    BrokenPipeError,
    OSError,
    TimeoutError,
]


@pytest.mark.parametrize("error", CONNECTION_ERRORS, ids=lambda e: e.__name__)
def test_every_connection_error_means_unavailable(error):
    assert issubclass(error, db.UNAVAILABLE)


@pytest.mark.parametrize(
    "error", [asyncpg.UniqueViolationError, asyncpg.SyntaxOrAccessError, asyncpg.DataError]
)
def test_a_query_error_is_not_an_outage(error):
    assert not issubclass(error, db.UNAVAILABLE)
