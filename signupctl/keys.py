"""signupctl rotate-keys: every row re-sealed under the current key of SIGNUP_SEAL_KEYS."""

from __future__ import annotations

import click

from signup_core import rotation
from signup_core.audit import record
from signupctl.common import context, open_pool, progress, run, say


@click.command("rotate-keys")
@click.option("--batch", type=click.IntRange(1), default=500, show_default=True)
@run
async def rotate_keys(batch: int) -> None:
    """Re-seal every subscription under the current (first) key of SIGNUP_SEAL_KEYS.

    Safe while the API and the worker run (short batches; rows in use are done on a later
    pass) and safe to kill: run it again to finish. Once it reports 0 left, the older keys can
    be removed from SIGNUP_SEAL_KEYS. Rows stored before encryption existed are sealed too.
    """
    settings = context().settings_for("DATABASE_URL", "SIGNUP_SEAL_KEYS")
    keys = settings.seal_keys
    pool = await open_pool(settings)
    done = 0
    try:
        todo = await rotation.remaining(pool, keys)
        with progress(todo, f"re-sealing under {keys.current_id}") as bar:
            try:
                done = await rotation.reseal(pool, keys, batch, on_batch=bar.update)
            except BaseException:
                await record(
                    pool,
                    context().who,
                    "rotate-keys",
                    {"key_id": keys.current_id},
                    {"rows": done},
                    "failed",
                )
                raise
        left = await rotation.remaining(pool, keys)
        await record(
            pool,
            context().who,
            "rotate-keys",
            {"key_id": keys.current_id},
            {"rows": done, "left": left},
        )
    finally:
        await pool.close()
    say(f"re-sealed {done} row(s) under {keys.current_id}; {left} left")


COMMANDS = (rotate_keys,)
