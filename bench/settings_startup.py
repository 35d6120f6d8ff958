"""Start-up cost of the settings: importing signup_core.settings, the first load_settings(env)
with a realistic environment, `signupctl --help`, and load_settings per call, for this checkout
against another revision (default: the last commit before the pydantic-settings model).

    .venv/bin/python -m bench.settings_startup [REV]

Process figures are CPU time (user + sys) of fresh interpreters, min and median over runs:
steadier than wall time on a shared machine. Both trees run in this checkout's venv.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "ee6d322"  # the hand-written settings.py
RUNS = 10

ENV = {
    "DATABASE_URL": "postgresql://signup:pw@db:5432/signup",
    "REDIS_URL": "redis://redis:6379/0",
    "PUBLIC_BASE_URL": "https://news.example.com",
    "SIGNUP_BLIND_INDEX_KEY": "b" * 43,
    "SIGNUP_SIGNING_KEY": "s" * 43,
    "SIGNUP_SEAL_KEYS": "k2:" + "B" * 43 + ",k1:" + "A" * 43,
    "SMTP_HOST": "smtp.example.com",
    "SMTP_PORT": "587",
    "SMTP_TLS": "starttls",
    "SMTP_PASSWORD": "hunter2hunter2",
    "SIGNUP_LISTS": "newsletter,launch",
    "SIGNUP_TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8",
    "SIGNUP_RATE_LIMIT_IP": "10/minute",
    "SIGNUP_CAPTCHA": "altcha",
    "SIGNUP_ALTCHA_HMAC_KEY": "a" * 43,
    "SIGNUP_RETAIN_PENDING": "30d",
    "SIGNUP_PURGE_INTERVAL": "1h",
    "SIGNUP_LIST_TITLES": "newsletter=Weekly news,launch=Launch",
    "SIGNUP_ADMIN_PORT": "9443",
    "SIGNUP_ADMIN_JWKS": "https://idp.example.com/jwks",
    "SIGNUP_ADMIN_JWT_ISSUER": "https://idp.example.com/",
}
LOAD = f"from signup_core.settings import load_settings\nload_settings({ENV!r})"
CASES = {
    "import signup_core.settings": "import signup_core.settings",
    "import + first load_settings": LOAD,
    "signupctl --help": "import sys\nsys.argv = ['signupctl', '--help']\nimport signupctl\n"
    "try:\n    signupctl.main()\nexcept SystemExit:\n    pass",
}
PER_CALL = (
    LOAD + "\nimport timeit\n"
    f"print(min(timeit.repeat(lambda: load_settings({ENV!r}), number=500, repeat=5)) / 500)"
)


def _cpu(tree: Path, code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # with cwd: that tree, not this checkout
    start = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, check=True, capture_output=True)
    end = resource.getrusage(resource.RUSAGE_CHILDREN)
    return end.ru_utime - start.ru_utime + end.ru_stime - start.ru_stime


def _per_call(tree: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # with cwd: that tree, not this checkout
    run = subprocess.run(
        [sys.executable, "-c", PER_CALL], env=env, cwd=tree, check=True, capture_output=True
    )
    return float(run.stdout)


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else BEFORE
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        trees = {rev: Path(tmp), "this checkout": ROOT}
        times: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in CASES}
        for _ in range(RUNS):  # interleaved, so a busy moment hits both trees alike
            for name, tree in trees.items():
                for case, code in CASES.items():
                    times[(name, case)].append(_cpu(tree, code))
        for case in CASES:
            for name in trees:
                found = times[(name, case)]
                print(
                    f"{case:30} {name:14} CPU min {min(found) * 1e3:5.0f} ms,"
                    f" median {statistics.median(found) * 1e3:5.0f} ms"
                )
        for name, tree in trees.items():
            print(f"{'load_settings per call':30} {name:14} {_per_call(tree) * 1e6:7.0f} us")


if __name__ == "__main__":
    main()
