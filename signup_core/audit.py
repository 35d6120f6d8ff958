"""The operator's audit trail: who did what, when, with which parameters and counts; never PII."""

from __future__ import annotations

import getpass
import json
from typing import Any

import asyncpg

from signup_core import db


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return "unknown"


async def record(
    pool_or_conn: asyncpg.Pool | asyncpg.Connection,
    actor: str,
    action: str,
    params: dict[str, Any],
    counts: dict[str, Any],
    outcome: str = "done",
) -> None:
    """Write one audit row: the one writer the CLI, the admin API and the operations share.

    Given a pool, the named query takes a connection for this row alone (aiosql acquires one),
    so a failed operation's row is written even when its own transaction rolled back."""
    await db.queries().record_audit(
        pool_or_conn,
        actor=actor,
        action=action,
        params=json.dumps(params, sort_keys=True, default=str),
        counts=json.dumps(counts, sort_keys=True),
        outcome=outcome,
    )
