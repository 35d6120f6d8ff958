"""`make bench-ab AGAINST=<commit>`: this checkout's API against another commit's, and the floor,
interleaved in the same rounds, so a change is measured against what it changes on one
machine at one time (the host's drift between two `make bench` runs is often larger than
the change). The other commit's code runs from a git worktree, with this checkout's
environment; only its signup_api, signup_core and sql differ. Writes bench/results/ab-<time>.json
with every round ("real" is this checkout's API) and the paired ratio (this / other) taken
within each round.

`BENCH_AB_TRACED=1` runs both with tracing at 0.1 (OTLP to the mock) instead.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import run
from devstack.processes import free_port, stop

ROOT = Path(__file__).resolve().parent.parent


def worktree(commit: str, folder: Path) -> str:
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(folder), commit],
        cwd=ROOT,
        check=True,
    )
    done = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip()


def main() -> None:
    against = os.environ.get("AGAINST") or sys.exit("AGAINST=<commit> names what to compare")
    traced = bool(os.environ.get("BENCH_AB_TRACED"))
    wrk = run.ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="signet-ab-") as tmp:
        other = Path(tmp) / "other"
        other_commit = worktree(against, other)
        try:
            results = _measure(wrk, other, traced)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT)
    results.update(commit=run.commit(), against=other_commit, traced=traced)
    paired = [r["real"]["rps"] / r["other"]["rps"] for r in results["rounds"]]
    results["this_over_other"] = run.spread(paired)
    for name in ("real", "other"):
        ratios = [r[name]["rps"] / r["floor"]["rps"] for r in results["rounds"]]
        results[f"{name}_over_floor"] = run.spread(ratios)
        cpu = [r[name]["cpu"]["api_us"] for r in results["rounds"]]
        idle = [r[name]["cpu"]["idle"] for r in results["rounds"]]
        print(
            f"  {'this' if name == 'real' else name:5} / floor {statistics.median(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}); API CPU a signup "
            f"{statistics.median(cpu):.0f} µs, machine idle {statistics.median(idle):.0%}"
        )
    print(
        f"  this ({results['commit']}) / other ({other_commit}), paired within rounds: "
        f"{statistics.median(paired):.2f} ({min(paired):.2f}-{max(paired):.2f})"
    )
    run.save_results(results, prefix="ab-")


def _measure(wrk: str, other: Path, traced: bool) -> dict:
    with run.stores("signet-bench-ab-", keep=bool(os.environ.get("BENCH_KEEP"))) as st:
        asyncio.run(run.prepare(st.pg.url))
        env = run.base_env(st.pg.url, st.rd.url, st.smtp_port)
        procs = []
        try:
            mock, mock_url = run.start_mail_api(st.logs)
            procs.append(mock)
            if traced:
                env.update(run.traced_env(mock_url, "0.1"))
            api = [str(Path(sys.executable).with_name("signup-api"))]
            apps = {
                "real": (api, {}),  # this checkout: the name bench.run's rounds compare
                # First on the path: the worktree's packages, not this checkout's installed ones.
                "other": (api, {"PYTHONPATH": str(other)}),
                "floor": ([sys.executable, "-m", "bench.floor"], {}),
            }
            urls, pids = {}, {}
            for name, (command, more) in apps.items():
                port = free_port()
                app_env = {
                    **env,
                    "PORT": str(port),
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                    **more,
                }
                proc = run.start(name, command, app_env, port, st.logs)
                procs.append(proc)
                urls[name], pids[name] = f"http://127.0.0.1:{port}", proc.pid
            load_before = run.load()
            print(
                f"ab: {run.ROUNDS} rounds x {run.SECONDS} s per app; load {load_before}",
                flush=True,
            )
            rounds = run.signup_rounds(
                wrk, urls, {**pids, "postgres": st.pg.process.pid, "valkey": st.rd.process.pid}
            )
            return {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "load_before": load_before,
                "load_after": run.load(),
                "rounds": rounds,
            }
        finally:
            for proc in procs:
                stop(proc, timeout=30)


if __name__ == "__main__":
    main()
