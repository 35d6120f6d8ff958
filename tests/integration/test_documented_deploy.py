"""Every documented deployment started from the built image with only what the documents give.

The chart (defaults and each overlay) is rendered by the real Helm engine; its migration Job,
API and worker are started as the rendered objects say (tests/rendered_pods.py), with the
Secret the documents make (docs/deploy.md's kubectl recipe, or the Vault runbook's
`vault kv put` where the overlay reads Vault), holding exactly the chart's `secrets.keys`. The
single-host path is deploy/compose.yaml with the .env docs/deploy.md writes. Only
DATABASE_URL, REDIS_URL and the mail transport (SMTP_*) point at the test's servers; the
listeners, which would have network namespaces of their own, get free ports (chart values /
PORT variables), as the pods share the host's network here.

The defaults and compose go through a signup → mail → confirm; the overlays until every probe
of both Deployments passes. Marked `image` (SKIP_IMAGE=1 skips it locally, never in CI).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devstack.processes import free_port
from tests import chart_render, doc_recipes, image_build, rendered_pods
from tests.dns_zone import dns_server
from tests.support import create_database, signup_confirm_over_http

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(
        os.environ.get("SKIP_IMAGE") == "1" and not os.environ.get("CI"),
        reason="SKIP_IMAGE=1 (ignored when CI is set)",
    ),
]
yaml = pytest.importorskip("yaml")
pytest.importorskip("helm_python")


@pytest.fixture
def database(pg_server) -> str:
    """A new database per deployment, as its fresh keys could not open another's rows: the
    migration Job brings every migration."""
    return asyncio.run(create_database(pg_server.url, "deploydocs"))


@pytest.fixture
def redis_url(redis_server) -> str:
    # Database 6 of the session's Valkey (0: session worker, 1: wheel, 2: browser, 4: image),
    # emptied for each deployment.
    url = redis_server.url.rsplit("/", 1)[0] + "/6"
    redis.Redis.from_url(url).flushdb()
    return url


# What the chart's default sender domain (SIGNUP_MAIL_FROM noreply@example.org) publishes, as
# the test's own DNS server answers it: SPF covering the mail transport (the test's catcher on
# 127.0.0.1) and DMARC.
SENDER_ZONE = """
example.org.        60 IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc.example.org. 60 IN TXT "v=DMARC1; p=reject"
"""


@pytest.fixture(scope="module")
def sender_dns() -> Iterator[str]:
    with dns_server(SENDER_ZONE) as (host, port):
        yield f"{host}:{port}"


def mail_overrides(smtp_server) -> dict[str, str]:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port), "SMTP_TLS": "none"}


def point_mail_at(env: dict[str, str], smtp_server) -> dict[str, str]:
    """The mail transport, and only it, aimed at the test's catcher (which takes no login)."""
    out = {k: v for k, v in env.items() if k not in ("SMTP_USERNAME", "SMTP_PASSWORD")}
    out.update(mail_overrides(smtp_server))
    return out


def in_image(container: image_build.Container) -> list[str]:
    """What the recipes' `docker run IMAGE CMD` becomes: CMD in the built image."""
    storage = image_build.env(container.home)["CONTAINERS_STORAGE_CONF"]
    return ["env", f"CONTAINERS_STORAGE_CONF={storage}", *container.run_args()]


def documented_secret(values: dict, folder: Path, container: image_build.Container) -> dict:
    """The Secret's data as the documents make it for this overlay, with the image's signupctl."""
    if values["secrets"]["vault"]["enabled"]:
        _, data = doc_recipes.vault_put(folder / "vault", in_image(container))
    else:
        manifest = doc_recipes.kubernetes_secret(folder / "kubectl", in_image(container))
        assert manifest["metadata"]["name"] == values["secrets"]["name"]
        data = manifest["stringData"]
    return dict(data)


@pytest.mark.parametrize("environment", chart_render.ENVIRONMENTS)
def test_chart_starts_as_rendered(
    environment, built_image, database, redis_url, smtp_server, sender_dns, tmp_path
):
    setup = time.monotonic()
    ports = {"api": free_port(), "apiMetrics": free_port(), "workerMetrics": free_port()}
    moved = {
        "api": {"port": ports["api"]},
        "metrics": {"apiPort": ports["apiMetrics"], "workerPort": ports["workerMetrics"]},
        # `helm test`'s doctor asks the test's DNS server about the sender domain (below).
        "tests": {"resolver": sender_dns},
    }
    values = chart_render.merge(chart_render.overlay(environment), moved)
    objects = chart_render.render(values)
    merged = chart_render.merge(chart_render.defaults(), values)

    container = image_build.Container(built_image)
    rootfs = rendered_pods.Rootfs(container)
    # The Secret the documents make, holding exactly the keys the chart reads.
    secret = documented_secret(merged, tmp_path, container)
    assert set(secret) == set(merged["secrets"]["keys"]), environment
    secret.update(DATABASE_URL=database, REDIS_URL=redis_url)
    timings = {}
    try:

        def pod(kind: str, suffix: str) -> rendered_pods.Pod:
            made = rendered_pods.prepare(
                chart_render.named(objects, kind, suffix),
                objects,
                secret,
                merged["secrets"]["name"],
                rootfs.path,
                tmp_path / suffix.strip("-"),
            )
            made.env = point_mail_at(made.env, smtp_server)
            return made

        # The migration hook first, to completion.
        job = pod("Job", "-migrate")
        timings["setup"] = time.monotonic() - setup
        started = time.monotonic()
        migrated = subprocess.run(
            container.run_args(*job.argv, environment=job.env, options=job.options),
            env=image_build.env(container.home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        timings["migrate"] = time.monotonic() - started
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert re.search(r"applied [1-9]\d* migration", migrated.stdout + migrated.stderr)

        api, worker = pod("Deployment", "-api"), pod("Deployment", "-worker")
        assert {"readinessProbe", "livenessProbe"} <= set(api.probes), api.probes
        started = time.monotonic()
        with (
            image_build.Served(
                container, worker.argv, worker.env, tmp_path / "worker.log", worker.options
            ) as served_worker,
            image_build.Served(
                container, api.argv, api.env, tmp_path / "api.log", api.options
            ) as served_api,
        ):
            rendered_pods.wait_until_probes_pass(worker, served_worker)
            rendered_pods.wait_until_probes_pass(api, served_api)
            timings["ready"] = time.monotonic() - started
            # As the rendered user, never root.
            assert served_api.uids() == {api.uid}, served_api.uids()
            assert served_worker.uids() == {worker.uid}, served_worker.uids()
            if environment == "default":
                started = time.monotonic()
                signup_confirm_over_http(
                    f"http://127.0.0.1:{ports['api']}",
                    smtp_server,
                    "deploy-chart",
                    public=merged["config"]["PUBLIC_BASE_URL"],
                )
                timings["flow"] = time.monotonic() - started
                # `helm test`: the doctor Pod as rendered, against the running release.
                started = time.monotonic()
                doctor = pod("Pod", "-doctor")
                checked = subprocess.run(
                    container.run_args(
                        *doctor.argv, environment=doctor.env, options=doctor.options
                    ),
                    env=image_build.env(container.home),
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                timings["helm test"] = time.monotonic() - started
                assert checked.returncode == 0, checked.stdout + checked.stderr
                assert "all checks passed" in checked.stdout, checked.stdout
                for check in ("postgresql", "schema", "redis", "seal-keyring", "mail-transport",
                              "spf", "dmarc"):  # fmt: skip
                    assert f"✓ {check}:" in checked.stdout, (check, checked.stdout)
            # Both stop at once, as a rollout's pods would (the `with` then waits for each).
            served_api.terminate()
            served_worker.terminate()
            started = time.monotonic()
        timings["stop"] = time.monotonic() - started
    finally:
        rootfs.unmount()
        container.remove()
    print(f"chart {environment}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} from the .env."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        assert op != ":?", f"compose refuses to start: {arg}"
        return arg if op == ":-" else ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, value)


def test_compose_starts_with_the_documented_env(
    built_image, database, redis_url, smtp_server, tmp_path
):
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    port, api_metrics, worker_metrics = free_port(), free_port(), free_port()

    container = image_build.Container(built_image)
    rootfs = rendered_pods.Rootfs(container)
    dotenv = doc_recipes.compose_env(tmp_path / "recipe", in_image(container))

    def service(name: str) -> tuple[list[str], dict[str, str], tuple[str, ...]]:
        spec = compose["services"][name]
        assert spec["env_file"] == ".env"
        # Compose: `environment` wins over `env_file`.
        env = dict(dotenv)
        env.update({k: _interpolate(str(v), dotenv) for k, v in spec["environment"].items()})
        env = point_mail_at(env, smtp_server)
        env.update(DATABASE_URL=database, REDIS_URL=redis_url)
        # The container's own network namespace, which host networking cannot give: its
        # listeners on free loopback ports (compose publishes the API on 127.0.0.1 only).
        env.update(
            HOST="127.0.0.1",
            PORT=str(port),
            SIGNUP_METRICS_PORT=str(api_metrics),
            SIGNUP_WORKER_METRICS_PORT=str(worker_metrics),
        )
        options: list[str] = [f"--cap-drop={c}" for c in spec.get("cap_drop", [])]
        mounted = set()
        for path in spec.get("tmpfs", []):
            host = tmp_path / "tmpfs" / name / path.strip("/")
            host.mkdir(parents=True)
            host.chmod(0o1777)
            options.append(f"--volume={host}:{path}:rw")
            mounted.add(path)
        if spec.get("read_only"):
            options += rendered_pods.read_only_root(rootfs.path, mounted)
        assert "user" not in spec  # the image's own USER
        return list(spec["command"]), env, tuple(options)

    timings = {}
    try:
        argv, env, options = service("migrate")
        started = time.monotonic()
        migrated = subprocess.run(
            container.run_args(*argv, environment=env, options=options),
            env=image_build.env(container.home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        timings["migrate"] = time.monotonic() - started
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr

        api, worker = service("api"), service("worker")
        started = time.monotonic()
        with (
            image_build.Served(container, *worker[:2], tmp_path / "worker.log", worker[2]) as w,
            image_build.Served(container, *api[:2], tmp_path / "api.log", api[2]) as a,
        ):
            # What compose's health checks would see: the image's HEALTHCHECK command for the
            # API (the worker's is disabled in compose.yaml), its /readyz for the worker.
            probe_api = rendered_pods.Pod("api", [], {}, 0, 0, (), {}, {})
            probe_api.probes = {"readinessProbe": {"httpGet": {"path": "/readyz", "port": port}}}
            probe_worker = rendered_pods.Pod("worker", [], {}, 0, 0, (), {}, {})
            probe_worker.probes = {
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": worker_metrics}}
            }
            rendered_pods.wait_until_probes_pass(probe_worker, w)
            rendered_pods.wait_until_probes_pass(probe_api, a)
            container.run(
                "python3", "-m", "signup_api.healthcheck", environment={"PORT": str(port)}
            )
            timings["ready"] = time.monotonic() - started
            started = time.monotonic()
            signup_confirm_over_http(
                f"http://127.0.0.1:{port}",
                smtp_server,
                "deploy-compose",
                public=env["PUBLIC_BASE_URL"],
            )
            timings["flow"] = time.monotonic() - started
            a.terminate()
            w.terminate()
            started = time.monotonic()
        timings["stop"] = time.monotonic() - started
    finally:
        rootfs.unmount()
        container.remove()
    print("compose: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
