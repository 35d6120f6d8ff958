"""A benchmark's results file says what of the environment shaped the run, and nothing secret."""

from __future__ import annotations

import json

from bench import run


def test_a_results_file_records_the_runs_knobs_and_no_secret(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "HERE", tmp_path)
    monkeypatch.setenv("SIGNUP_RELAY_INTERVAL", "0.2")
    monkeypatch.setenv("SIGNUP_WORKER_PROCESSES", "2")
    monkeypatch.setenv("BENCH_WORKER_PHASES", "latency")
    monkeypatch.setenv("SIGNUP_SIGNING_KEY", "a-developers-own-signing-key-0123456789")
    monkeypatch.setenv("DATABASE_URL", "postgresql://me:secret@db/signup")
    path = run.save_results({"summary": {"ratio": 1.0}}, "worker-")
    written = json.loads(path.read_text())
    assert written["summary"] == {"ratio": 1.0}
    environment = written["environment"]
    assert environment["SIGNUP_RELAY_INTERVAL"] == "0.2"
    assert environment["SIGNUP_WORKER_PROCESSES"] == "2"
    assert environment["BENCH_WORKER_PHASES"] == "latency"
    assert "secret" not in path.read_text() and "signing-key" not in path.read_text()
