"""Helpers for the privacy tests: signupctl as a process, and the fixture queries of privacy.sql."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import aiosql
import asyncpg


@functools.cache
def privacy() -> Any:
    return aiosql.from_path(Path(__file__).parent / "fixtures" / "privacy.sql", "asyncpg")


def _command(env: dict[str, str] | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """The installed signupctl's command line, and an environment of `env` alone (plus PATH
    and HOME); env None gives it no configuration at all."""
    binary = Path(sys.executable).with_name("signupctl")
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
    return [str(binary), *args], {**base, **(env or {})}


def signupctl(env: dict[str, str] | None, *args: str, stdin: str | None = None):
    """Run the installed signupctl; env None runs it with no configuration at all."""
    command, environ = _command(env, *args)
    return subprocess.run(
        command, env=environ, input=stdin, capture_output=True, text=True, timeout=300
    )


def signupctl_to_a_closed_pipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`signupctl ... | head -0`: nobody reads, so the first write that reaches the pipe fails."""
    reader, writer = os.pipe()
    os.close(reader)
    with open(writer, "wb") as out:
        return signupctl_writing_to(out, env, *args)


def signupctl_writing_to(out: IO[bytes], env: dict[str, str], *args: str):
    """signupctl with its standard output on `out` (`> file`), its errors captured."""
    command, environ = _command(env, *args)
    return subprocess.run(
        command, env=environ, stdout=out, stderr=subprocess.PIPE, text=True, timeout=60
    )


async def fetch(url: str, query: str, **params: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) async for r in getattr(privacy(), query)(conn, **params)]
    finally:
        await conn.close()


async def execute(url: str, query: str, **params: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await getattr(privacy(), query)(conn, **params)
    finally:
        await conn.close()


def sync(coro: Any) -> Any:
    return asyncio.run(coro)


def signupctl_peak_rss(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    """Run signupctl; returns its exit code, its stderr and its own peak RSS in MiB."""
    command, environ = _command(env, *args)
    with subprocess.Popen(command, env=environ, stderr=subprocess.PIPE, text=True) as process:
        stderr = process.stderr.read() if process.stderr else ""
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, stderr, usage.ru_maxrss / 1024
