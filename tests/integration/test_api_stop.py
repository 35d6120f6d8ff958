"""signup-api stopped as a container runtime or systemd stops it (SIGTERM) or as a developer
does (SIGINT): it shuts down, and its log says so to the last line; uvicorn ends the process by
the same signal, so the exit still says why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devstack.processes import die_with_parent, free_port, stop


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_last_lines_of_a_stop_reach_the_log(env, db, tmp_path, sig):
    port = free_port()
    log_path = tmp_path / "api.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("signup-api"))],
            env={**os.environ, **env, "PORT": str(port), "SIGNUP_LOG_FORMAT": "json"},
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    assert process.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.1)
            process.send_signal(sig)
            code = process.wait(timeout=20)
        finally:
            stop(process, timeout=5)
    lines = [json.loads(line)["msg"] for line in log_path.read_text().splitlines() if line]
    assert "Application shutdown complete." in lines, lines[-5:]
    assert lines[-1].startswith("Finished server process"), lines[-5:]
    assert code == -sig  # ended by the signal, so the exit says why
