"""PgBouncer (Debian's pgbouncer package) in front of a PostgreSQL server, in the foreground as
a child process with its own ini, for the tests of transaction pooling. Not part of `make run`.

Debian's PgBouncer is 1.18: in transaction pooling it does not carry protocol-level prepared
statements from one server connection to another (1.21 does), which is what the tests need to
meet, as production poolers of that age behave."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack import postgres
from devstack.processes import die_with_parent, stop, wait_for_port


def executable() -> str | None:
    """The pgbouncer binary, or None (`make test` installs Debian's package as root)."""
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None
    )


@dataclass
class PgBouncer:
    port: int
    process: subprocess.Popen
    log: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        # SIGINT: "safe shutdown", after the clients' transactions; SIGTERM drops them at once.
        stop(self.process, timeout=10)


def start(
    server_port: int,
    port: int,
    folder: Path,
    *,
    pool_mode: str = "transaction",
    pool_size: int = 4,
) -> PgBouncer:
    """Every database of the server on 127.0.0.1:`port`, `pool_size` server connections per
    database and user: fewer than the clients, so they share server connections as they do in
    production. Authentication is `trust`: loopback only, throwaway data."""
    binary = executable()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed (make pgbouncer, as root)")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    users = folder / "userlist.txt"
    users.write_text('"postgres" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host=127.0.0.1 port={server_port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {users}",
                f"pool_mode = {pool_mode}",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 500",
                # Round robin, not PgBouncer's LIFO: one client's statements land on different
                # server connections, as on a busy pooler; an idle test pooler would otherwise
                # hand a lone client the same server each time and hide any session state.
                "server_round_robin = 1",
                f"min_pool_size = {pool_size}",
                "server_check_delay = 1",
                "server_login_retry = 1",
                "ignore_startup_parameters = extra_float_digits",
                "admin_users = postgres",
                "",
            ]
        )
    )
    for path in (users, ini):
        path.chmod(0o644)
    log = folder / "pgbouncer.log"
    with open(log, "ab") as out:
        # PgBouncer refuses to run as root: as root it runs as PostgreSQL's service user, set
        # here rather than with its own -u, which would clear the parent-death signal.
        process = subprocess.Popen(
            [binary, str(ini)],
            user=postgres.run_as(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )
    try:
        wait_for_port(port, process)
    except (RuntimeError, TimeoutError) as e:
        raise RuntimeError(f"pgbouncer did not start: {e}\n{log.read_text()[-2000:]}") from None
    return PgBouncer(port, process, log)
