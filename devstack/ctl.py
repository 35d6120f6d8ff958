"""`make ctl ARGS='…'`: signupctl pointed at the dev stack `make run` started, through the
var/dev.env it writes (its secrets and this run's addresses)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devstack.devenv import DEV_ENV, read_env


def main(argv: list[str]) -> int:
    if not DEV_ENV.exists():
        print(f"{DEV_ENV} does not exist yet: start the dev stack with `make run`", file=sys.stderr)
        return 1
    binary = Path(sys.executable).with_name("signupctl")
    env = {**os.environ, **read_env(DEV_ENV)}
    os.execve(binary, [str(binary), *argv], env)  # noqa: S606 - signupctl itself, no shell
    return 0  # not reached: signupctl's exit status is this command's


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
