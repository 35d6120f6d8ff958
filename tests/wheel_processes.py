"""Commands and services run from a venv's bin/, with an environment that names nothing in the
checkout, for the test of the installed wheel."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from devstack.processes import die_with_parent, stop, wait_for_port

# The test run's own interpreter settings would point the venv's programs back at the checkout.
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    return {**base, **(env or {})}


def venv_run(
    venv: Path,
    program: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> str:
    """Run venv/bin/program to completion; its combined output, or an error that shows it."""
    done = subprocess.run(
        [str(venv / "bin" / program), *args],
        env=clean_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"{program} {' '.join(args)} exited {done.returncode}:\n{done.stdout}")
    return done.stdout.strip()


class Service:
    """A long-running venv/bin/program in its own process group, its output in a log file;
    stopped, with whatever it forked, when the `with` block ends."""

    def __init__(self, venv: Path, program: str, env: dict[str, str], cwd: Path, log: Path):
        self.program, self.log_path = program, log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [str(venv / "bin" / program)],
            env=clean_env(env),
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.process, timeout=20)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.program} exited early:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from {self.program}:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def wait_for_port(self, port: int, timeout: float = 30) -> None:
        try:
            wait_for_port(port, self.process, timeout=timeout)
        except (RuntimeError, TimeoutError) as e:
            raise AssertionError(f"{self.program}: {e}\n{self.log()[-3000:]}") from e
