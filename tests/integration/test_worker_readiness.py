"""The worker's readiness probe: /readyz on its metrics port is 200 only while every worker
process has booted with its resources open and fetches from Redis; the metrics stay beside it."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import redis

from devstack.processes import free_port
from signup_worker import readiness


def test_a_running_worker_is_ready_on_its_metrics_port(worker):
    base = f"http://127.0.0.1:{worker.env['SIGNUP_WORKER_METRICS_PORT']}"
    deadline = time.monotonic() + 15
    answer = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/readyz", timeout=3)
        except httpx.TransportError:  # the metrics process starts a moment after the workers
            answer = None
        if answer is not None and answer.status_code == 200:
            break
        time.sleep(0.2)
    assert answer is not None, worker.log()[-3000:]
    assert (answer.status_code, answer.text) == (200, "ready\n"), answer.text
    assert "signup_worker_dependency_up" in httpx.get(f"{base}/metrics", timeout=5).text


def test_not_ready_until_every_process_is_booted_and_fetching(redis_server, tmp_path):
    client = redis.Redis.from_url(redis_server.url.rsplit("/", 1)[0] + "/5")
    client.delete(readiness.HEARTBEATS)
    assert "0 of 1" in readiness.not_ready(tmp_path, 1, client)

    # A booted process (this one stands in) whose broker id Redis has stamped just now.
    (tmp_path / f"{readiness.PREFIX}{os.getpid()}").write_text("broker-a")
    assert "not fetching" in readiness.not_ready(tmp_path, 1, client)
    client.zadd(readiness.HEARTBEATS, {"broker-a": time.time() * 1000})
    assert readiness.not_ready(tmp_path, 1, client) is None

    # Two processes configured, one booted; then the second's marker names a dead process.
    assert "1 of 2" in readiness.not_ready(tmp_path, 2, client)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"{readiness.PREFIX}{dead.pid}").write_text("broker-b")
    client.zadd(readiness.HEARTBEATS, {"broker-b": time.time() * 1000})
    assert "1 of 2" in readiness.not_ready(tmp_path, 2, client)

    # A stamp older than the limit: stuck, not consuming.
    client.zadd(readiness.HEARTBEATS, {"broker-a": time.time() * 1000 - readiness.STALE_MS - 1})
    assert "1 worker process(es) not fetching" in readiness.not_ready(tmp_path, 1, client)

    # Redis gone: not ready, saying why.
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    assert "Redis unreachable" in readiness.not_ready(tmp_path, 1, down)
    assert "PROMETHEUS_MULTIPROC_DIR" in readiness.not_ready(None, 1, client)
    client.delete(readiness.HEARTBEATS)
