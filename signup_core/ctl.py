"""`signupctl`: the operator's command line. Commands: migrate."""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg

from signup_core import logs
from signup_core.migrations import MigrationError, migrate
from signup_core.settings import ConfigError, load_settings


async def _migrate() -> int:
    settings = load_settings()
    conn = await asyncpg.connect(settings.database_url.value, timeout=10)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


COMMANDS = {"migrate": _migrate}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="signupctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending database migrations (safe to run concurrently)")
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    try:
        sys.exit(asyncio.run(COMMANDS[args.command]()))
    except ConfigError as e:
        sys.exit(f"signupctl: configuration error: {e}")
    except MigrationError as e:
        sys.exit(f"signupctl: migration refused: {e}")
    except (OSError, asyncpg.PostgresError) as e:
        sys.exit(f"signupctl: database error: {type(e).__name__}: {e}")
