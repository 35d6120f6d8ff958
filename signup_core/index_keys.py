"""The blind-index keys: the current one files every row, the previous one (during a rotation)
is still looked under. Each row records a fingerprint of the key its index was made with.

Suppression entries are filed under a third, long-lived key (SIGNUP_SUPPRESSION_KEY; the
blind-index key when unset), so an erased address's entry, which keeps no address to recompute
it from, outlives every blind-index key. Every suppression check looks under all three."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg

from signup_core import db
from signup_core.addresses import blind_index, derived_ip_key, hash_ip, keyed_hash
from signup_core.settings import Settings

# What blind_index_key_guard raises in a process whose key is no longer the current one.
StaleIndexKey = asyncpg.ObjectNotInPrerequisiteStateError


@functools.lru_cache(maxsize=8)
def fingerprint(key: bytes) -> str:
    """A short public name for a key (a keyed hash of nothing: it reveals nothing of the key)."""
    return keyed_hash(key, "index-key-id", b"", 8).hex()


@dataclass(frozen=True)
class Lookup:
    """One address's hashes: its blind index under the current key (where its rows are filed),
    under the previous one, and under the suppression key (where its suppression is filed)."""

    index: bytes
    held: bytes
    previous: bytes | None = None

    @property
    def every(self) -> list[bytes]:
        """Every hash a suppression entry of this address may be filed under."""
        found = [self.held, self.index]
        if self.previous is not None:
            found.append(self.previous)
        return list(dict.fromkeys(found))


@dataclass(frozen=True)
class IndexKeys:
    current: bytes = field(repr=False)
    previous: bytes | None = field(default=None, repr=False)
    suppression: bytes | None = field(default=None, repr=False)

    @property
    def current_id(self) -> str:
        return fingerprint(self.current)

    @property
    def previous_id(self) -> str | None:
        return None if self.previous is None else fingerprint(self.previous)

    @property
    def held_key(self) -> bytes:
        """The key suppressions (and consent IP hashes) are made with."""
        return self.suppression if self.suppression is not None else self.current

    @property
    def held_id(self) -> str:
        return fingerprint(self.held_key)

    @property
    def known_ids(self) -> set[str]:
        return {i for i in (self.current_id, self.previous_id, self.held_id) if i is not None}

    def index(self, address: str) -> bytes:
        return blind_index(self.current, address)

    def previous_index(self, address: str) -> bytes | None:
        return None if self.previous is None else blind_index(self.previous, address)

    def held(self, address: str) -> bytes:
        # The blind index's own hash, under the suppression key: set to the blind-index key
        # in force, it finds every entry filed before it was set.
        return blind_index(self.held_key, address)

    def lookup(self, address: str) -> Lookup:
        return Lookup(self.index(address), self.held(address), self.previous_index(address))

    def consent_ip_matches(self, ip: str, stored: bytes, key_id: str | None) -> bool | None:
        """Whether a consent IP hash was made from `ip`; None when the key it names (by
        fingerprint) is not one this process has. A hash stored before the key was recorded
        (key_id None) was made with the blind-index key then in force: each known key is tried."""
        bases = [k for k in (self.held_key, self.current, self.previous) if k is not None]
        keys = [derived_ip_key(k) for k in bases]
        if key_id is None:
            keys += bases  # hashes made before the key was recorded used the index key itself
        else:
            keys = [k for k in keys if fingerprint(k) == key_id]
            if not keys:
                return None
        return any(hash_ip(k, ip) == stored for k in keys)


def index_keys(settings: Settings) -> IndexKeys:
    previous, held = settings.blind_index_key_previous, settings.suppression_key
    return IndexKeys(
        settings.blind_index_key.bytes(),
        previous.bytes() if previous is not None else None,
        held.bytes() if held is not None else None,
    )


async def refile(conn: asyncpg.Connection, keys: IndexKeys, address: str) -> None:
    """Move what is filed under the address's previous index to its current one (its
    suppression to its suppression-key hash), so a look-up by the current index that follows
    (in the same transaction) finds it. Nothing to do, and no round trip, outside a rotation."""
    old = keys.previous_index(address)
    if old is None:
        return
    await db.queries().refile_address(
        conn,
        old_index=old,
        new_index=keys.index(address),
        index_key=keys.current_id,
        held=keys.held(address),
        held_key=keys.held_id,
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
