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
    conn: asyncpg.Connection,
    actor: str,
    action: str,
    params: dict[str, Any],
    counts: dict[str, Any],
    outcome: str = "done",
) -> None:
    await db.queries().record_audit(
        conn,
        actor=actor,
        action=action,
        params=json.dumps(params, sort_keys=True, default=str),
        counts=json.dumps(counts, sort_keys=True),
        outcome=outcome,
    )
