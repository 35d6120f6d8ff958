"""Real processes for the failover drills: a Valkey primary, its replica and three sentinels; a
PostgreSQL primary and its streaming replica. Loopback only, each in its own folder, each dying
with the test process."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devstack import redis
from devstack.processes import die_with_parent, free_port, stop, wait_for_port

SERVICE = "signet"


def skip_unless_drills() -> None:
    """The drills take minutes: SKIP_FAILOVER=1 skips them outside CI; CI always runs them."""
    if os.environ.get("SKIP_FAILOVER") == "1" and not os.environ.get("CI"):
        pytest.skip("SKIP_FAILOVER=1 (ignored when CI is set)")


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )


@dataclass
class Valkey:
    port: int
    process: subprocess.Popen


@dataclass
class SentinelSet:
    """One primary, one replica, three sentinels (quorum 2) watching them as SERVICE."""

    folder: Path
    primary: Valkey
    replica: Valkey
    sentinels: list[Valkey] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            stop(server.process, timeout=5)


def _valkey(folder: Path, name: str, *extra: str) -> Valkey:
    port = free_port()
    work = folder / name
    work.mkdir(parents=True, exist_ok=True)
    args = [redis.executable(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    args += ["--appendonly", "no", "--dir", str(work), *extra]
    process = _spawn(args, folder / f"{name}.log")
    wait_for_port(port, process)
    return Valkey(port, process)


def start_sentinel_set(folder: Path, down_after_ms: int = 1000) -> SentinelSet:
    primary = _valkey(folder, "primary")
    replica = _valkey(folder, "replica", "--replicaof", "127.0.0.1", str(primary.port))
    found = SentinelSet(folder, primary, replica)
    for n in range(3):
        port = free_port()
        conf = folder / f"sentinel-{n}.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    f"dir {folder}",
                    f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 2",
                    f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
                    f"sentinel failover-timeout {SERVICE} 10000",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    "",
                ]
            )
        )
        process = _spawn([redis.executable(), str(conf), "--sentinel"], folder / f"s{n}.log")
        wait_for_port(port, process)
        found.sentinels.append(Valkey(port, process))
    _wait_replicating(found)
    return found


def _wait_replicating(found: SentinelSet, timeout: float = 20) -> None:
    """Until the replica is in sync and every sentinel knows it (else none could promote it)."""
    import redis as redis_py

    deadline = time.monotonic() + timeout
    while True:
        try:
            info = redis_py.Redis(port=found.replica.port).info("replication")
            known = [
                redis_py.Redis(port=s.port).execute_command("SENTINEL", "REPLICAS", SERVICE)
                for s in found.sentinels
            ]
            if info.get("master_link_status") == "up" and all(known):
                return
        except redis_py.RedisError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the replica or the sentinels did not come up")
        time.sleep(0.1)


@dataclass
class Answer:
    at: float  # seconds since the load began
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    email: str
    done: float = 0.0  # when the answer came, seconds since the load began


def keep_log(path: Path, name: str) -> None:
    """A drill's worker log, kept in var/drills/ for a look after the run."""
    import shutil

    out = Path(__file__).resolve().parents[1] / "var" / "drills"
    out.mkdir(parents=True, exist_ok=True)
    if path.exists():
        shutil.copy(path, out / name)


@dataclass
class Figures:
    """What a drill reports: the issue asks for these, per run."""

    accepted: int = 0
    mailed_once: int = 0
    lost: int = 0
    twice: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # 5xx (and no answer) by code
    recovered_s: float | None = None
    drained_s: float | None = None  # from the end of the load until every accepted was mailed
    other: dict[str, int] = field(default_factory=dict)  # the other answers by code

    def line(self, name: str) -> str:
        return (
            f"DRILL {name}: accepted={self.accepted} mailed_once={self.mailed_once} "
            f"lost={self.lost} twice={self.twice} 5xx={self.errors} "
            f"recovered_s={self.recovered_s} drained_s={self.drained_s} other={self.other}"
        )

    def record(self, name: str) -> None:
        """Printed (pytest -s shows it) and appended to var/drills.jsonl for the docs."""
        import dataclasses
        import json

        print(self.line(name))
        out = Path(__file__).resolve().parents[1] / "var" / "drills.jsonl"
        out.parent.mkdir(exist_ok=True)
        with open(out, "a") as f:
            f.write(json.dumps({"drill": name, **dataclasses.asdict(self)}) + "\n")


async def drive(client, rate: int, seconds: int, at: float, action) -> list[Answer]:
    """`rate` signups a second for `seconds`, each its own address, not waiting for answers
    (a slow answer does not slow the load); `action()` runs once, `at` seconds in."""
    import asyncio
    import uuid

    loop = asyncio.get_running_loop()
    start = loop.time()
    answers: list[Answer] = []
    fired = False

    async def one(email: str) -> None:
        sent = loop.time() - start
        try:
            r = await client.post("/signup", json={"email": email}, timeout=15)
            status, retry_after = r.status_code, r.headers.get("retry-after")
        except Exception:
            status, retry_after = 0, None
        answers.append(Answer(sent, status, retry_after, email, loop.time() - start))

    tasks = []
    tag = uuid.uuid4().hex[:6]
    for n in range(rate * seconds):
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        if not fired and loop.time() - start >= at:
            fired = True
            action()
        tasks.append(asyncio.create_task(one(f"drill-{tag}-{n}@example.com")))
    await asyncio.gather(*tasks)
    return answers


def tally(answers: list[Answer], mailed: dict[str, int]) -> Figures:
    """Figures from the answers and how many mails each address got."""
    from collections import Counter

    accepted = [a.email for a in answers if a.status == 202]
    errors = Counter(str(a.status) for a in answers if a.status >= 500 or a.status == 0)
    other = Counter(str(a.status) for a in answers if 202 != a.status < 500 and a.status)
    return Figures(
        accepted=len(accepted),
        mailed_once=sum(1 for e in accepted if mailed.get(e) == 1),
        lost=sum(1 for e in accepted if not mailed.get(e)),
        twice=sum(1 for e in mailed.values() if e > 1),
        errors=dict(errors),
        other=dict(other),
    )


def asgi_client(app):
    """A client for the app that turns an unhandled error into the 500 it would serve."""
    import httpx

    transport = httpx.ASGITransport(
        app=app, client=("203.0.113.7", 50000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url="http://signup.test")


@dataclass
class PgPair:
    """A PostgreSQL primary and a streaming replica made from it with pg_basebackup -R."""

    folder: Path
    primary: object  # devstack.postgres.Postgres
    standby: object

    def url(self, database: str) -> str:
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"  # type: ignore[attr-defined]
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"


def _pg_tool(name: str) -> tuple[str, str | None]:
    from devstack import postgres

    user = postgres.run_as()
    return str(postgres.install_dir(user) / "bin" / name), user


def start_pg_pair(folder: Path) -> PgPair:
    from devstack import postgres

    primary = postgres.start(
        folder / "a" / "data", free_port(), durable=False, log=folder / "pg-a.log"
    )
    standby = start_standby(folder / "b" / "data", free_port(), primary.port, folder / "pg-b.log")
    return PgPair(folder, primary, standby)


def start_standby(datadir: Path, port: int, source_port: int, log: Path):
    """A streaming replica of the server on `source_port`, from a base backup."""
    import shutil

    from devstack import postgres

    binary, user = _pg_tool("pg_basebackup")
    datadir.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        shutil.chown(datadir.parent, user)
    source = ["-h", "127.0.0.1", "-p", str(source_port), "-U", "postgres"]
    subprocess.run(
        [binary, "-D", str(datadir), *source, "-R", "-X", "stream", "-c", "fast"],
        check=True,
        capture_output=True,
        user=user,
    )
    return postgres.start(datadir, port, durable=False, log=log)


def promote(datadir: Path) -> None:
    binary, user = _pg_tool("pg_ctl")
    subprocess.run([binary, "promote", "-w", "-D", str(datadir)], check=True, user=user,
                   capture_output=True)  # fmt: skip


def restart_as_standby(datadir: Path, port: int, primary_port: int, log: Path):
    """The former primary, cleanly stopped, back as a read-only standby of the new primary."""
    from devstack import postgres

    (datadir / "standby.signal").write_text("")
    with open(datadir / "postgresql.auto.conf", "a") as conf:
        conf.write(f"primary_conninfo = 'host=127.0.0.1 port={primary_port} user=postgres'\n")
    return postgres.start(datadir, port, durable=False, log=log)
