"""The worker stops gracefully however SIGTERM reaches it: to its main process (a container
runtime, Kubernetes) or to its whole process group (systemd's default KillMode, kill -TERM
-PGID), where each worker process gets it twice at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import Worker


@pytest.mark.parametrize("to_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_stops_the_worker_within_seconds(env, db, tmp_path, to_group):
    worker = Worker(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        # Settled: the main process forwards SIGTERM only once its own handler is installed,
        # a moment after the worker processes say they are ready.
        time.sleep(3)
        pid = worker.process.pid  # its own session: the process group has its id
        os.killpg(pid, signal.SIGTERM) if to_group else os.kill(pid, signal.SIGTERM)
        try:
            code = worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 20 s after SIGTERM:\n{worker.log()[-2000:]}")
        assert code == 0, worker.log()[-2000:]
        assert "Killing worker process" not in worker.log()
    finally:
        worker.stop()
