"""A write refused because another process made a newer blind-index key current."""

from __future__ import annotations

import contextlib
import logging

import asyncpg

from signup_api.problems import Problem, unavailable
from signup_core import key_registry
from signup_core.index_keys import IndexKeys

log = logging.getLogger(__name__)


async def stale_key(pool: asyncpg.Pool, keys: IndexKeys) -> Problem:
    """The answer when the database refused a write for a stale blind-index key: this process
    writes nothing more (503; a load balancer tries another). Registering again makes this
    process's key current if it is the newer one (its start could not reach the database)."""
    log.error("blind-index key is not the database's current one: restart with the current key")
    if keys.previous is not None:  # only a process with a previous key can be the newer one
        with contextlib.suppress(key_registry.KeyMismatch):
            await key_registry.register(pool, keys)
    return unavailable("The database")
