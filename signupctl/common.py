"""What every signupctl command shares: settings and pool on demand, who acts (for the audit
record), addresses read from arguments or a file, errors turned into exit code 1 with one line
on stderr."""

from __future__ import annotations

import asyncio
import datetime
import functools
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import asyncpg
import click

from signup_core import audit, db, logs
from signup_core.addresses import InvalidAddress, normalise
from signup_core.clock import Clock, utc_time
from signup_core.key_registry import KeyMismatch
from signup_core.migrations import MigrationError
from signup_core.sealing import SealError
from signup_core.settings import ConfigError, Settings, load_for, load_settings


@dataclass
class Context:
    actor: str | None = None
    clock: Clock | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def who(self) -> str:
        return self.actor or audit.default_actor()

    def now(self) -> datetime.datetime:
        return (self.clock or Clock()).now()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def settings_for(self, *needs: str) -> Settings:
        """The settings of a command that uses only these required variables: the others may
        be missing (`stats` needs neither REDIS_URL nor PUBLIC_BASE_URL)."""
        return self._settings or load_for(needs)


def context() -> Context:
    return click.get_current_context().obj["context"]


def run(command: Callable[..., Awaitable[Any]]) -> Callable[..., None]:
    """Run an async command body; expected failures exit 1 with one line on stderr."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        logs.configure("WARNING")
        try:
            asyncio.run(command(*args, **kwargs))
        except ConfigError as e:
            raise click.ClickException(f"configuration error: {e}") from None
        except KeyMismatch as e:
            raise click.ClickException(f"blind-index keys: {e}") from None
        except MigrationError as e:
            raise click.ClickException(f"migration refused: {e}") from None
        except SealError as e:
            raise click.ClickException(f"cannot open sealed data: {e}") from None
        except BrokenPipeError:
            raise  # the reader left (`| head`): click's main ends quietly, status 1
        except (OSError, asyncpg.PostgresError) as e:
            raise click.ClickException(f"database error: {type(e).__name__}: {e}") from None

    return wrapper


class Moment(click.ParamType):
    """A time for --since and --until: ISO 8601, UTC when it names no offset (what `date
    -Iseconds` prints, or a time copied from an export)."""

    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime.datetime:
        if isinstance(value, datetime.datetime):
            return value
        parsed = utc_time(str(value))  # in UTC, as the audit row records it
        if parsed is None:
            self.fail(
                f"{value!r} is not an ISO 8601 time "
                "(2026-12-07, 2026-12-07T09:30:00, 2026-12-07T09:30:00+01:00)",
                param,
                ctx,
            )
        return parsed


MOMENT = Moment()


async def open_pool(settings: Settings) -> asyncpg.Pool:
    # Not the request path's 5 s command timeout: an operator's batch may take longer.
    return await asyncpg.create_pool(
        settings.database_url.value,
        min_size=1,
        max_size=2,
        command_timeout=120,
        **db.session_options(settings.database_pool_mode),
    )


def say(message: str) -> None:
    click.echo(message, err=True)


def read_addresses(arguments: Iterable[str], source: TextIO | None) -> Iterator[str]:
    """Arguments first, then one address a line from the file (blank lines and # skipped)."""
    yield from arguments
    if source is not None:
        for line in source:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line


def address_of(raw: str, position: int) -> str:
    """An address as stored; an invalid one stops the command (named by position, not echoed:
    it may be someone's address with a typo)."""
    try:
        return normalise(raw)
    except InvalidAddress:
        raise click.ClickException(
            f"address #{position} is not a valid address; nothing was done "
            "(fix or remove it and run again)"
        ) from None


def progress(length: int, label: str) -> Any:
    """A progress bar on a terminal; nothing otherwise (the command prints one summary line)."""
    return click.progressbar(
        length=length, label=label, file=sys.stderr if sys.stderr.isatty() else _Null()
    )


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
