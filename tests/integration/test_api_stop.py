"""signup-api stopped as a container runtime or systemd stops it (SIGTERM) or as a developer
does (SIGINT): it shuts down, its log says so to the last line and the spans it held are exported;
uvicorn ends the process by the same signal, so the exit still says why."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devstack.processes import free_port, stop
from tests.integration.test_traces import Receiver
from tests.support import start_api


def _serve(env: dict[str, str], log_path: Path, **more: str) -> tuple[subprocess.Popen, str]:
    return start_api(env, log_path, SIGNUP_LOG_FORMAT="json", **more)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_last_lines_of_a_stop_reach_the_log(env, db, tmp_path, sig):
    log_path = tmp_path / "api.log"
    process, _ = _serve(env, log_path)
    try:
        process.send_signal(sig)
        code = process.wait(timeout=20)
    finally:
        stop(process, timeout=5)
    lines = [json.loads(line)["msg"] for line in log_path.read_text().splitlines() if line]
    assert "Application shutdown complete." in lines, lines[-5:]
    assert lines[-1].startswith("Finished server process"), lines[-5:]
    assert code == -sig  # ended by the signal, so the exit says why


def test_the_spans_held_at_a_stop_are_exported(env, db, tmp_path):
    receiver = Receiver()
    traced = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "600000",  # held until the stop
    }
    process, url = _serve(env, tmp_path / "api.log", **traced)
    try:
        assert httpx.get(f"{url}/", timeout=10).status_code == 200
        time.sleep(0.5)
        assert receiver.spans == []  # still held by the batch processor
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == -signal.SIGTERM
    finally:
        stop(process, timeout=5)
        receiver.server.shutdown()
    assert [span.name for span in receiver.spans] == ["GET /"]


def _traced_to_nowhere() -> dict[str, str]:
    """Tracing to a collector that is down, which the exporter would retry for 30 s a batch."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "30",
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }


def test_a_collector_that_is_down_does_not_hold_the_stop(env, db, tmp_path):
    log_path = tmp_path / "api.log"
    process, url = _serve(env, log_path, **_traced_to_nowhere())
    try:
        assert httpx.get(f"{url}/", timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        # The spans get a bounded moment (2 s), not the exporter's 30 s of retries: a stop
        # must fit a runtime's grace period (Docker's 10 s).
        assert process.wait(timeout=10) == -signal.SIGTERM
    finally:
        stop(process, timeout=5)
    lines = [json.loads(line)["msg"] for line in log_path.read_text().splitlines() if line]
    # Written before the spans were tried (the exporter's complaints come after them).
    assert [m for m in lines if m.startswith("Finished server process")], lines[-5:]


def test_a_second_signal_during_the_flush_ends_the_process_at_once(env, db, tmp_path):
    process, url = _serve(env, tmp_path / "api.log", **_traced_to_nowhere())
    try:
        assert httpx.get(f"{url}/", timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # uvicorn has shut down and the spans are being flushed
        process.send_signal(signal.SIGINT)  # a second Ctrl-C: stop now
        assert process.wait(timeout=10) in (-signal.SIGINT, -signal.SIGTERM)
    finally:
        stop(process, timeout=5)
