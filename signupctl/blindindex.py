"""signupctl rotate-blind-index: every row refiled under the current SIGNUP_BLIND_INDEX_KEY."""

from __future__ import annotations

import asyncpg
import click

from signup_core import reindexing
from signup_core.audit import record
from signup_core.index_keys import IndexKeys, index_keys
from signup_core.sealing import Keyring
from signupctl.common import context, open_pool, progress, run, say

ACTION = "rotate-blind-index"


@click.command(ACTION)
@click.option("--batch", type=click.IntRange(1), default=500, show_default=True)
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing: print what is still filed under an older key; exit 0 only if nothing.",
)
@run
async def rotate_blind_index(batch: int, check: bool) -> None:
    """Recompute every blind index under the current SIGNUP_BLIND_INDEX_KEY.

    First give every process the new key as SIGNUP_BLIND_INDEX_KEY and the old one as
    SIGNUP_BLIND_INDEX_KEY_PREVIOUS: look-ups then try both while this runs. Each subscription's
    index is recomputed from its sealed address, and its address's suppression entry and
    provider events are refiled with it. Safe while the API and the worker run, and safe to
    kill: run it again to finish. Suppression entries of erased addresses (no address left to
    recompute from) stay under the old key; see docs/runbooks/rotating-secrets.md.
    """
    settings = context().settings_for("DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY", "SIGNUP_SEAL_KEYS")
    keys = index_keys(settings)
    pool = await open_pool(settings)
    try:
        if check:
            left = await reindexing.remaining(pool, keys)
            for name, n in left.items():
                click.echo(f"{name}\t{n}")
            await record(pool, context().who, ACTION, {"key": keys.current_id}, left, "dry-run")
        else:
            left = await _rotate(pool, keys, settings.seal_keys, batch)
    finally:
        await pool.close()
    if check and any(left.values()):
        raise click.ClickException(
            "rows are still filed under an older key: see rotating-secrets.md before dropping it"
        )
    if check:
        say(f"nothing is filed under an older key than {keys.current_id}")
    elif left["subscriptions"]:
        raise click.ClickException(
            f"{left['subscriptions']} subscription(s) not refiled (in use or conflicting): "
            "run again; see rotating-secrets.md"
        )


async def _rotate(
    pool: asyncpg.Pool, keys: IndexKeys, seal_keys: Keyring, batch: int
) -> dict[str, int]:
    if keys.previous is None:
        raise click.ClickException(
            "SIGNUP_BLIND_INDEX_KEY_PREVIOUS is not set: give every process the old key as "
            "SIGNUP_BLIND_INDEX_KEY_PREVIOUS (and the new one as SIGNUP_BLIND_INDEX_KEY) first"
        )
    if keys.previous_id == keys.current_id:
        raise click.ClickException("SIGNUP_BLIND_INDEX_KEY_PREVIOUS is the current key")
    params = {"key": keys.current_id, "previous": keys.previous_id, "batch": batch}
    todo = (await reindexing.remaining(pool, keys))["subscriptions"]
    outcome = reindexing.Outcome()
    with progress(todo, f"refiling under {keys.current_id}") as bar:
        try:
            await reindexing.reindex(pool, keys, seal_keys, batch, bar.update, outcome)
        except BaseException:
            await record(pool, context().who, ACTION, params, {"moved": outcome.moved}, "failed")
            raise
    left = await reindexing.remaining(pool, keys)
    counts = {"moved": outcome.moved, "conflicts": outcome.conflicts, "left": left}
    await record(pool, context().who, ACTION, params, counts)
    say(
        f"refiled {outcome.moved} subscription(s) under {keys.current_id}; still under an older "
        f"key: {left['subscriptions']} subscription(s) ({outcome.conflicts} conflicting), "
        f"{left['suppressions']} suppression(s), {left['events']} event(s)"
    )
    return left


COMMANDS = (rotate_blind_index,)
