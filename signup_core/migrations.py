"""Applies the migrations/NNNN_name.sql files of signup_core.sql in order, once each, under an
advisory lock."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from signup_core.db import SQL_DIR, queries

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    """The database and the migration files disagree; nothing further was applied."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(folder: Path = SQL_DIR / "migrations") -> list[Migration]:
    """The migration files in version order; names must start with a number."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        prefix = path.stem.split("_", 1)[0]
        if not prefix.isdigit():
            raise MigrationError(f"{path.name}: migration names must start with a number")
        found.append(Migration(path.stem, path))
    return found


def _check(applied: dict[str, str], migrations: list[Migration]) -> None:
    on_disk = {m.version: m for m in migrations}
    for version, checksum in applied.items():
        if version not in on_disk:
            raise MigrationError(f"{version} was applied but its file is missing")
        if on_disk[version].checksum != checksum:
            raise MigrationError(f"{version} was changed after it was applied; add a new file")


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply every pending migration, each in its own transaction; return the versions applied."""
    migrations = discover() if migrations is None else migrations
    q = queries()
    async with conn.transaction():
        await q.lock_migrations(conn)
        await q.create_migrations_table(conn)
    done: list[str] = []
    for migration in migrations:
        async with conn.transaction():
            # Re-read under the lock: a concurrent runner may have applied it meanwhile.
            await q.lock_migrations(conn)
            applied = {r["version"]: r["checksum"] async for r in q.applied_migrations(conn)}
            _check(applied, migrations)
            if migration.version in applied:
                continue
            await conn.execute(migration.sql)
            await q.record_migration(conn, version=migration.version, checksum=migration.checksum)
        log.info("applied migration", extra={"version": migration.version})
        done.append(migration.version)
    if not done:
        async with conn.transaction():
            applied = {r["version"]: r["checksum"] async for r in q.applied_migrations(conn)}
            _check(applied, migrations)
    return done
