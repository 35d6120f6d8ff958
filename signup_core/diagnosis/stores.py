"""PostgreSQL reachable and migrated to this code's version, Redis reachable, the seal keyring
complete for the rows stored, and whether a blind-index key rotation is under way."""

from __future__ import annotations

import asyncio

import asyncpg
import redis.asyncio as aioredis

from signup_core import db
from signup_core.diagnosis.results import Result, failed, passed, skipped
from signup_core.index_keys import index_keys
from signup_core.keycheck import missing_key_ids
from signup_core.migrations import discover
from signup_core.settings import Settings

TIMEOUT = 5.0
DB_NAMES = ("postgresql", "schema", "seal-keyring", "blind-index")


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def check(settings: Settings) -> list[Result]:
    database = await _database(settings)
    return [*database[:2], await _redis(settings), *database[2:]]


async def _database(settings: Settings) -> list[Result]:
    if settings.database_url is None:
        return [skipped(n, "DATABASE_URL is not set (see configuration)") for n in DB_NAMES]
    try:
        conn = await asyncpg.connect(settings.database_url.value, timeout=TIMEOUT)
    except (*db.UNAVAILABLE, asyncpg.PostgresError) as e:
        down = failed(
            "postgresql",
            f"cannot connect: {_reason(e)}",
            "check DATABASE_URL (host, port, user, password, database) and that PostgreSQL "
            "accepts connections from here",
        )
        return [down, *(skipped(n, "PostgreSQL unreachable") for n in DB_NAMES[1:])]
    try:
        version = await db.queries().server_version(conn)
        results = [passed("postgresql", f"connected (PostgreSQL {version})")]
        schema = await _schema(conn)
        results.append(schema)
        if schema.status != "pass":
            return results + [skipped(n, "schema not current") for n in DB_NAMES[2:]]
        results += [await _keyring(conn, settings), await _blind_index(conn, settings)]
        return results
    finally:
        await conn.close()


async def _schema(conn: asyncpg.Connection) -> Result:
    shipped = {m.version: m.checksum for m in discover()}
    try:
        applied = {r["version"]: r["checksum"] async for r in db.queries().applied_migrations(conn)}
    except asyncpg.UndefinedTableError:
        applied = {}
    migrate = "run `signupctl migrate` (the chart's migrate Job, or compose's migrate service)"
    pending = sorted(set(shipped) - set(applied))
    unknown = sorted(set(applied) - set(shipped))
    changed = sorted(v for v in set(applied) & set(shipped) if applied[v] != shipped[v])
    if unknown:
        return failed(
            "schema",
            f"the database has migrations this version does not ship: {', '.join(unknown)}",
            "run the release that applied them (a newer one), or restore a matching backup",
        )
    if changed:
        return failed(
            "schema",
            f"migrations changed after they were applied: {', '.join(changed)}",
            "put the original files back; changes go in a new numbered migration",
        )
    if pending:
        return failed(
            "schema", f"{len(pending)} migration(s) pending: {', '.join(pending)}", migrate
        )
    return passed("schema", f"migrated to {max(shipped)} ({len(shipped)} migrations)")


async def _keyring(conn: asyncpg.Connection, settings: Settings) -> Result:
    name = "seal-keyring"
    if settings.seal_keys is None:
        return skipped(name, "SIGNUP_SEAL_KEYS is not set (see configuration)")
    missing = await missing_key_ids(conn, settings.seal_keys)
    if missing:
        return failed(
            name,
            f"rows are sealed under key id(s) not in SIGNUP_SEAL_KEYS: {', '.join(missing)}; "
            "the API and the worker refuse to start",
            "put each missing id:key back into SIGNUP_SEAL_KEYS (after the current key); "
            "drop a key only after `signupctl rotate-keys` reports 0 left",
        )
    ids = ", ".join(settings.seal_keys.keys)
    return passed(
        name,
        f"every key id rows name is in the keyring ({ids}; current "
        f"{settings.seal_keys.current_id})",
    )


async def _blind_index(conn: asyncpg.Connection, settings: Settings) -> Result:
    name = "blind-index"
    if settings.blind_index_key is None:
        return skipped(name, "SIGNUP_BLIND_INDEX_KEY is not set (see configuration)")
    keys = index_keys(settings)
    off = {
        r["key_id"]: r["n"]
        async for r in db.queries().index_key_counts(conn, index_key=keys.current_id)
    }
    # NULL: filed before keys were recorded, under whatever key was in force then.
    foreign = {k: n for k, n in off.items() if k is not None and k != keys.previous_id}
    if foreign:
        listed = ", ".join(f"{n} under {k}" for k, n in sorted(foreign.items()))
        return failed(
            name,
            f"rows filed under a key that is neither SIGNUP_BLIND_INDEX_KEY "
            f"({keys.current_id}) nor SIGNUP_BLIND_INDEX_KEY_PREVIOUS: {listed}; "
            "look-ups by address miss them",
            "set the key they were filed under as SIGNUP_BLIND_INDEX_KEY_PREVIOUS and run "
            "`signupctl rotate-blind-index` (docs/runbooks/rotating-secrets.md)",
        )
    if keys.previous is None:
        return passed(name, f"no rotation in progress (key {keys.current_id})")
    left = off.get(keys.previous_id, 0) + off.get(None, 0)
    if left:
        return passed(
            name,
            f"rotation in progress: {left} row(s) still filed under the previous key "
            f"{keys.previous_id}; finish it with `signupctl rotate-blind-index`",
        )
    return passed(
        name,
        f"rotation done: nothing is filed under {keys.previous_id}; "
        "SIGNUP_BLIND_INDEX_KEY_PREVIOUS can be removed",
    )


async def _redis(settings: Settings) -> Result:
    if settings.redis_url is None:
        return skipped("redis", "REDIS_URL is not set (see configuration)")
    client = aioredis.Redis.from_url(
        settings.redis_url.value, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            await client.ping()
            info = await client.info("server")
    except Exception as e:  # any failure means unreachable; the reason is shown
        return failed(
            "redis",
            f"cannot reach REDIS_URL: {_reason(e)}",
            "check REDIS_URL (host, port, password, database) and that Redis / Valkey runs; "
            '`valkey-cli -u "$REDIS_URL" ping` (or `redis-cli`) should answer PONG',
        )
    finally:
        await client.aclose()
    server = info.get("server_name") or "redis"
    version = info.get("valkey_version") or info.get("redis_version", "?")
    return passed("redis", f"PING answered ({server} {version})")
