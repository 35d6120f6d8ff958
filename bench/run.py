"""`make bench`: the real API against the floor, A/B interleaved, then the worker and webhook
ingest. Starts its own PostgreSQL (durable commits), Valkey and SMTP sink; installs wrk from
Debian if missing; writes bench/results/<time>.json and prints a table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosql
import asyncpg
import httpx
from aiosmtpd.controller import Controller

from bench import cpu, webhook_requests
from devstack import postgres, redis
from devstack.processes import die_with_parent, free_port, stop, wait_for_port
from signup_core.migrations import migrate

HERE = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = 32
SEED = aiosql.from_path(HERE / "seed.sql", "asyncpg")
FLOOR = aiosql.from_path(HERE / "floor.sql", "asyncpg")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian packages…", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


class Sink:
    """SMTP sink that notes when each recipient's mail arrived; parses nothing."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        now = time.monotonic()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.arrivals.setdefault(rcpt, now)
        return "250 OK"


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50_ms": ms(percentiles["50"]),
        "p99_ms": ms(percentiles["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def run_wrk(wrk: str, url: str, script: str, args: list[str], seconds: int) -> dict:
    done = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(done.stdout)


def start(name: str, args: list[str], env: dict, port: int, logs: Path) -> subprocess.Popen:
    out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
        start_new_session=True,
    )
    wait_for_port(port, proc)
    return proc


def start_mail_api(logs: Path) -> tuple[subprocess.Popen, str]:
    """The HTTP mail API mock (bench/mail_api.py) on a free port: the process and its URL. It
    also takes the traced apps' OTLP exports, and drops them."""
    port = free_port()
    command = [sys.executable, "-m", "bench.mail_api"]
    proc = start("mail-api", command, {"PORT": str(port)}, port, logs)
    return proc, f"http://127.0.0.1:{port}"


def traced_env(mock_url: str, ratio: str) -> dict:
    """Production's sampler at `ratio`, spans exported over OTLP/HTTP to the mock."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": mock_url,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": ratio,
    }


def start_worker(env: dict, log: Path, command: list[str] | None = None) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(
        command or [str(Path(sys.executable).with_name("signup-worker"))],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
        start_new_session=True,
    )


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages: the machine is shared, so each file says how busy."""
    return [round(x, 2) for x in os.getloadavg()]


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "signup_api", "signup_core", "signup_worker", "sql"],
        capture_output=True,
        text=True,
        cwd=HERE.parent,  # the paths are the repository's: from bench/ they matched nothing
    )
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


# The service's settings a run may be given from the shell (they reach the API and the worker
# through the environment), recorded with its results; never a key, a secret or a URL.
RECORDED_SETTINGS = (
    "SIGNUP_RELAY_INTERVAL",
    "SIGNUP_WORKER_THREADS",
    "SIGNUP_WORKER_PROCESSES",
    "SIGNUP_SMTP_CONNECTIONS",
    "SIGNUP_DB_POOL_MAX",
)


def knobs(environ: dict[str, str]) -> dict[str, str]:
    """What of the environment shaped a run: the bench's own variables and RECORDED_SETTINGS."""
    return {
        name: value
        for name, value in sorted(environ.items())
        if name.startswith("BENCH_") or name in RECORDED_SETTINGS
    }


def save_results(results: dict, prefix: str = "") -> Path:
    """Write bench/results/<prefix><time>.json and say where; every bench's one way out."""
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"{prefix}{time.strftime('%Y%m%d-%H%M%S')}.json"
    results = {**results, "environment": knobs(dict(os.environ))}
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\nwritten to {path.relative_to(HERE.parent)}")
    return path


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def prepare(url: str) -> None:
    c = await asyncpg.connect(url)
    await migrate(c)
    await FLOOR.create_floor_table(c)  # clear_signups empties it too
    await c.close()


@dataclass
class Stores:
    root: Path
    logs: Path
    pg: postgres.Postgres
    rd: redis.Redis
    sink: Sink
    smtp_port: int


@contextlib.contextmanager
def stores(prefix: str, keep: bool) -> Iterator[Stores]:
    """A folder with logs/, a durable PostgreSQL, Valkey and the SMTP sink on free ports, for
    one bench run; all stopped afterwards, and the folder removed unless `keep` (its logs show
    what went wrong)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    logs = root / "logs"
    logs.mkdir()
    pg = postgres.start(root / "pg" / "data", free_port(), durable=True, log=logs / "pg.log")
    rd = redis.start(free_port())
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        yield Stores(root, logs, pg, rd, sink, smtp_port)
    finally:
        smtp.stop()
        rd.stop()
        pg.stop()
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def base_env(db_url: str, redis_url: str, smtp_port: int) -> dict:
    """What the API and the worker share: the stores, the sink, keys, limits too high to trip."""
    return {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SIGNUP_BLIND_INDEX_KEY": "bench-blind-index-key-0123456789abcdef",
        "SIGNUP_SIGNING_KEY": "bench-signing-key-0123456789abcdef0123",
        "SIGNUP_SEAL_KEYS": "b1:YmVuY2gtc2VhbC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc",
        "SIGNUP_CORS_ORIGINS": "https://www.example.com",
        **{
            f"SIGNUP_RATE_LIMIT_{k}": "100000000/minute"
            for k in ("IP", "NETWORK", "ADDRESS", "GLOBAL")
        },
    }


async def sql(url: str, name: str, **params) -> None:
    conn = await asyncpg.connect(url)
    try:
        await getattr(SEED, name)(conn, **params)
    finally:
        await conn.close()


def signup_rounds(wrk: str, apps: dict[str, str], pids: dict[str, int] | None = None) -> list[dict]:
    """Every app once per round, the order rotated each round, so the machine's drift (it is
    shared) hits all alike; ratios are taken within a round. With `pids` (each app's process,
    and "postgres" and "valkey"), each run also records the CPU µs a signup of the app, of
    PostgreSQL and of Valkey, and the share of the machine left idle."""
    # Unmeasured warm-up for all: the first seconds fill pools and caches, and their tail
    # would otherwise land in whichever app round 1 happens to start with.
    for name, url in apps.items():
        run_wrk(wrk, url, str(HERE / "signup.lua"), [f"warm{name}"], WARMUP)
    rounds = []
    names = list(apps)
    for n in range(ROUNDS):
        order = names[n % len(names) :] + names[: n % len(names)]
        if n % 2:
            order.reverse()
        result = {}
        for name in order:
            before = _cpu_now(name, pids)
            result[name] = run_wrk(
                wrk, apps[name], str(HERE / "signup.lua"), [f"r{n}{name}"], SECONDS
            )
            if pids:
                result[name]["cpu"] = _cpu_spent(before, _cpu_now(name, pids), result[name])
        result["ratio"] = result["real"]["rps"] / result["floor"]["rps"]
        if "traced" in result:
            result["traced_ratio"] = result["traced"]["rps"] / result["real"]["rps"]
        if "traced_all" in result:
            result["traced_all_ratio"] = result["traced_all"]["rps"] / result["real"]["rps"]
        line = ", ".join(
            f"{name} {result[name]['rps']:.0f} req/s (p99 {result[name]['p99_ms']:.1f} ms)"
            for name in names
        )
        print(f"  round {n + 1}: {line}, real/floor {result['ratio']:.2f}", flush=True)
        rounds.append(result)
    return rounds


def _cpu_now(name: str, pids: dict[str, int] | None) -> dict | None:
    if not pids:
        return None
    trees = {"api": pids[name], "postgres": pids["postgres"], "valkey": pids["valkey"]}
    return {"machine": cpu.machine(), **{k: cpu.tree_cpu(pid) for k, pid in trees.items()}}


def _cpu_spent(before: dict, after: dict, result: dict) -> dict:
    """CPU µs a signup of the app, PostgreSQL and Valkey over one wrk run; the idle share."""
    signups = result["rps"] * SECONDS or 1
    spent = {
        f"{k}_us": round((after[k] - before[k]) / signups * 1e6, 1)
        for k in ("api", "postgres", "valkey")
    }
    return {**spent, "idle": round(cpu.idle_share(before["machine"], after["machine"]), 3)}


def sink_arrivals(sink: Sink):
    def arrivals(clear: bool = False) -> dict[str, float]:
        with sink.lock:
            if clear:
                sink.arrivals.clear()
            return dict(sink.arrivals)

    return arrivals


def api_arrivals(url: str):
    def arrivals(clear: bool = False) -> dict[str, float]:
        return httpx.get(f"{url}/{'clear' if clear else 'arrivals'}").json()

    return arrivals


async def _post(conn: tuple, body: bytes) -> int:
    """One POST /signup on a kept-alive connection; returns the status. Raw HTTP/1.1: httpx
    costs ~0.5 ms of CPU a request, which at 1,000/s would take half a core from the apps."""
    reader, writer = conn
    writer.write(
        b"POST /signup HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def paced_signups(port: int, arrivals, rate: int, seconds: int, prefix: str) -> dict:
    """Signups at a steady rate (open loop: each is due at its time, whatever the answers
    before it), then how long each address took to reach the sink, from when it was due."""
    conns: asyncio.Queue = asyncio.Queue()
    for _ in range(CONNECTIONS * 2):
        conns.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    due: dict[str, float] = {}
    statuses: list[int] = []

    async def one(address: str) -> None:
        conn = await conns.get()
        try:
            statuses.append(await _post(conn, b'{"email":"%s"}' % address.encode()))
        finally:
            conns.put_nowait(conn)

    start = time.monotonic()
    tasks = []
    for i in range(rate * seconds):
        at = start + i / rate
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        address = f"{prefix}-{i}@example.com"
        due[address] = at
        tasks.append(asyncio.create_task(one(address)))
    await asyncio.gather(*tasks, return_exceptions=True)
    sent_for = time.monotonic() - start
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(arrivals()) < len(due):
        await asyncio.sleep(0.5)
    while not conns.empty():
        conns.get_nowait()[1].close()
    got = arrivals()
    latencies = sorted((got[a] - t) * 1000 for a, t in due.items() if a in got)
    return {
        "rate": rate,
        "signups": len(due),
        "offered_for_s": round(sent_for, 2),
        "accepted": sum(s == 202 for s in statuses),
        "mailed": len(latencies),
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
    }


def main() -> None:
    wrk = ensure_wrk()
    with stores("signet-bench-", keep=bool(os.environ.get("BENCH_KEEP"))) as st:
        root, logs, pg, rd, sink, smtp_port = (
            st.root, st.logs, st.pg, st.rd, st.sink, st.smtp_port
        )  # fmt: skip
        procs: list[subprocess.Popen] = []
        try:
            asyncio.run(prepare(pg.url))
            api_port, floor_port, hook_port = free_port(), free_port(), free_port()
            traced_port, traced_all_port = free_port(), free_port()
            sg_key, sg_public = webhook_requests.sendgrid_key()
            sns_key, sns_cert = webhook_requests.sns_key_and_certificate()
            (root / "sns.pem").write_bytes(sns_cert)
            env = {
                **base_env(pg.url, rd.url, smtp_port),
                "SIGNUP_SES_TOPIC_ARNS": webhook_requests.TOPIC,
                "SIGNUP_SENDGRID_PUBLIC_KEY": sg_public,
                "BENCH_CERT_URL": webhook_requests.CERT_URL,
            }
            bin_dir = Path(sys.executable).parent
            mock, mock_url = start_mail_api(logs)
            procs.append(mock)

            def api_env(port: int, **more: str) -> dict:
                return {
                    **env,
                    "PORT": str(port),
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                    **more,
                }

            apps = {
                "real": api_env(api_port),
                "floor": {**env, "PORT": str(floor_port)},
                "traced": api_env(traced_port, **traced_env(mock_url, "0.1")),
                "traced_all": api_env(traced_all_port, **traced_env(mock_url, "1.0")),
            }
            ports = {
                "real": api_port,
                "floor": floor_port,
                "traced": traced_port,
                "traced_all": traced_all_port,
            }
            running = {}
            for name, app_env in apps.items():
                command = (
                    [sys.executable, "-m", "bench.floor"]
                    if name == "floor"
                    else [str(bin_dir / "signup-api")]
                )
                running[name] = start(name, command, app_env, ports[name], logs)
                procs.append(running[name])

            load_before = load()
            print(
                f"signup: {ROUNDS} rounds x {SECONDS} s per app, {CONNECTIONS} connections; "
                f"load {load_before}",
                flush=True,
            )
            rounds = signup_rounds(
                wrk,
                {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
                {
                    **{name: proc.pid for name, proc in running.items()},
                    "postgres": pg.process.pid,
                    "valkey": rd.process.pid,
                },
            )
            api_rss = rss_mb(running["real"].pid)
            for name in ("traced", "traced_all"):
                stop(running[name], timeout=30)  # they would take CPU from what follows

            from bench import worker as worker_phases  # it imports this module

            measured = worker_phases.phases(pg.url, sink, mock_url, apps["real"], api_port, logs)
            worker, worker_http = measured["worker"], measured["worker_http_api"]
            latency = {100: measured["latency_100_per_s"], 1000: measured["latency_1000_per_s"]}

            print("webhooks: ingest…", flush=True)
            hook_env = {**env, "PORT": str(hook_port), "PUBLIC_BASE_URL": "http://127.0.0.1"}
            hooks = start(
                "webhooks",
                [sys.executable, "-m", "bench.webhook_app", str(root / "sns.pem")],
                hook_env,
                hook_port,
                logs,
            )
            procs.append(hooks)
            webhook_requests.write_sendgrid(root / "sendgrid.txt", sg_key, 1500, batch=50)
            webhook_requests.write_sns(root / "sns.txt", sns_key, 6000)
            hook_url = f"http://127.0.0.1:{hook_port}"
            sendgrid = run_wrk(
                wrk, hook_url, str(HERE / "replay.lua"), [str(root / "sendgrid.txt")], 5
            )
            sendgrid["events_per_s"] = sendgrid["rps"] * 50
            sns = run_wrk(wrk, hook_url, str(HERE / "replay.lua"), [str(root / "sns.txt")], 5)

            ratios = [r["ratio"] for r in rounds]
            summary = {
                "real_rps": spread([r["real"]["rps"] for r in rounds]),
                "floor_rps": spread([r["floor"]["rps"] for r in rounds]),
                "ratio": spread(ratios),
                "real_p99_ms": spread([r["real"]["p99_ms"] for r in rounds]),
                "floor_p99_ms": spread([r["floor"]["p99_ms"] for r in rounds]),
                "traced_rps": spread([r["traced"]["rps"] for r in rounds]),
                "traced_ratio": spread([r["traced_ratio"] for r in rounds]),
                "traced_all_rps": spread([r["traced_all"]["rps"] for r in rounds]),
                "traced_all_ratio": spread([r["traced_all_ratio"] for r in rounds]),
                "cpu_us_a_signup": {
                    name: {
                        part: spread([r[name]["cpu"][part] for r in rounds])
                        for part in ("api_us", "postgres_us", "valkey_us", "idle")
                    }
                    for name in ("real", "floor", "traced", "traced_all")
                },
                "api_rss_mb": api_rss,
                "worker": worker,
                "worker_http_api": worker_http,
                "latency_100_per_s": latency[100],
                "latency_1000_per_s": latency[1000],
                "webhooks": {"sendgrid_batches_of_50": sendgrid, "sns_single": sns},
            }
            results = {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "commit": commit(),
                "load_before": load_before,
                "load_after": load(),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "connections": CONNECTIONS,
                    "seconds": SECONDS,
                },
                "rounds": rounds,
                "summary": summary,
            }
            print_table(results)
            save_results(results)
        finally:
            for proc in procs:
                stop(proc, timeout=30)


def _range(values: dict, digits: int = 0) -> str:
    f = f"{{:.{digits}f}}"
    return f"{f.format(values['median'])} ({f.format(values['min'])}-{f.format(values['max'])})"


def _latency(lat: dict) -> str:
    if lat["p99_ms"] is None:
        return "no mail arrived"
    return f"{lat['p50_ms']:.0f} / {lat['p99_ms']:.0f} ms"


def _cpu(phase: dict) -> str:
    cpu, net = phase.get("cpu_ms_per_mail"), phase.get("cpu_ms_per_mail_less_idle")
    if cpu is None:
        return "CPU n/a"
    text = f"{cpu:.2f} ms CPU a mail, {net:.2f} less idle"
    if phase.get("machine_idle_share") is not None:
        # What the rest of the machine did meanwhile: the bench process (the SMTP sink, the
        # mock's polling) a mail, and the idle share left; none left bounds the rate.
        text += (
            f"; bench {phase['bench_cpu_ms_per_mail']:.2f} ms a mail, "
            f"{phase['machine_idle_share'] * 100:.0f} % idle"
        )
    return text


def _cpu_rows(parts: dict) -> list[tuple[str, str]]:
    """CPU µs a signup (medians of the rounds): the app, PostgreSQL, Valkey; idle share."""

    def row(name: str) -> str:
        p = parts[name]
        return (
            f"{p['api_us']['median']:.0f} / {p['postgres_us']['median']:.0f} / "
            f"{p['valkey_us']['median']:.0f} µs, {p['idle']['median'] * 100:.0f} % idle"
        )

    return [
        ("CPU a signup, real: app / PostgreSQL / Valkey", row("real")),
        ("CPU a signup, floor", row("floor")),
        ("CPU a signup, tracing at 0.1", row("traced")),
    ]


def print_table(results: dict) -> None:
    s = results["summary"]
    lat, w, hooks = s["latency_100_per_s"], s["worker"], s["webhooks"]
    lat1k, wh = s["latency_1000_per_s"], s["worker_http_api"]
    sendgrid, sns = hooks["sendgrid_batches_of_50"], hooks["sns_single"]
    rows = [
        ("signup req/s, real (median; min-max)", _range(s["real_rps"])),
        ("signup req/s, floor", _range(s["floor_rps"])),
        ("real / floor (target >= 1.0)", _range(s["ratio"], 2)),
        ("signup req/s, tracing at 0.1", _range(s["traced_rps"])),
        ("  traced 0.1 / real (target >= 0.90)", _range(s["traced_ratio"], 2)),
        ("signup req/s, tracing at 1.0", _range(s["traced_all_rps"])),
        ("  traced 1.0 / real", _range(s["traced_all_ratio"], 2)),
        (
            "p99 ms, real / floor (target real <= floor)",
            f"{s['real_p99_ms']['median']:.1f} / {s['floor_p99_ms']['median']:.1f}",
        ),
        (
            "non-2xx, real / floor",
            f"{sum(r['real']['non_2xx'] for r in results['rounds'])} / "
            f"{sum(r['floor']['non_2xx'] for r in results['rounds'])}",
        ),
        *_cpu_rows(s["cpu_us_a_signup"]),
        ("API RSS after the run (target <= 150 MB)", f"{s['api_rss_mb']:.0f} MB"),
        (
            "worker mails/s to SMTP, one process (target >= 600)",
            f"{w['mails_per_s']:.0f} ({w['mails']}; {_cpu(w)})",
        ),
        (
            "worker mails/s to HTTP API mock (target >= 600)",
            f"{wh['mails_per_s']:.0f} ({wh['mails']}; {_cpu(wh)})",
        ),
        ("signup->mail p50 / p99 at 100/s", _latency(lat)),
        ("  mailed / signups", f"{lat['mailed']} / {lat['signups']}"),
        ("signup->mail p50 / p99 at 1000/s (target p99 <= 500)", _latency(lat1k)),
        (
            "  mailed / signups (offered in s)",
            f"{lat1k['mailed']} / {lat1k['signups']} ({lat1k['offered_for_s']})",
        ),
        ("load before / after", f"{results['load_before']} / {results['load_after']}"),
        (
            "SendGrid batches of 50 /s (events/s; non-2xx)",
            f"{sendgrid['rps']:.0f} ({sendgrid['events_per_s']:.0f}; {sendgrid['non_2xx']})",
        ),
        ("SNS notifications /s (non-2xx)", f"{sns['rps']:.0f} ({sns['non_2xx']})"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


if __name__ == "__main__":
    main()
