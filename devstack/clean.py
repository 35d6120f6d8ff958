"""`make clean`'s part outside the checkout: the PostgreSQL data that `make run` and the tests
keep under the shared folder when they run as root (see devstack.postgres.state_root).

The shared binary copies stay: another checkout's server may be running from them. Only the
standard library is imported, so this runs before or after the venv exists.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from devstack import postgres


def running_servers(state: Path) -> list[int]:
    """Pids of live postmasters whose data folder is under state."""
    pids = []
    for pidfile in state.glob("**/postmaster.pid"):
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"postgres" in command:
            pids.append(pid)
    return pids


def main() -> None:
    var = postgres.CHECKOUT_VAR
    state = postgres.state_root(var)
    if state == var or not state.exists():
        return  # var/ itself, which the Makefile removes
    live = running_servers(state)
    if live:
        sys.exit(
            f"PostgreSQL (pid {', '.join(map(str, live))}) still runs from {state}; "
            "stop `make run` or the tests first"
        )
    shutil.rmtree(state)
    print(f"removed {state}")


if __name__ == "__main__":
    main()
