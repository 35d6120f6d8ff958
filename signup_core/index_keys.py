"""The blind-index keys: the current one files every row, the previous one (during a rotation)
is still looked under. Each row records a fingerprint of the key its index was made with."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg

from signup_core import db
from signup_core.addresses import blind_index, keyed_hash
from signup_core.settings import Settings


@functools.lru_cache(maxsize=8)
def fingerprint(key: bytes) -> str:
    """A short public name for a key (a keyed hash of nothing: it reveals nothing of the key)."""
    return keyed_hash(key, "index-key-id", b"", 8).hex()


@dataclass(frozen=True)
class IndexKeys:
    current: bytes = field(repr=False)
    previous: bytes | None = field(default=None, repr=False)

    @property
    def current_id(self) -> str:
        return fingerprint(self.current)

    @property
    def previous_id(self) -> str | None:
        return None if self.previous is None else fingerprint(self.previous)

    def index(self, address: str) -> bytes:
        return blind_index(self.current, address)

    def previous_index(self, address: str) -> bytes | None:
        return None if self.previous is None else blind_index(self.previous, address)


def index_keys(settings: Settings) -> IndexKeys:
    previous = settings.blind_index_key_previous
    return IndexKeys(
        settings.blind_index_key.bytes(), previous.bytes() if previous is not None else None
    )


async def refile(conn: asyncpg.Connection, keys: IndexKeys, address: str) -> None:
    """Move what is filed under the address's previous index to its current one, so a look-up
    by the current index that follows (in the same transaction) finds it. Nothing to do, and
    no round trip, outside a rotation."""
    old = keys.previous_index(address)
    if old is None:
        return
    await db.queries().refile_address(
        conn, old_index=old, new_index=keys.index(address), index_key=keys.current_id
    )


@contextlib.asynccontextmanager
async def rotating(conn: asyncpg.Connection, keys: IndexKeys) -> AsyncIterator[None]:
    """A transaction around refiling and what follows it, only while there is something to
    refile: outside a rotation a one-statement write needs no BEGIN and COMMIT round trips."""
    if keys.previous is None:
        yield
        return
    async with conn.transaction():
        yield
