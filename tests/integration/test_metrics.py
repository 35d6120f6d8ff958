"""Metrics as Prometheus reads them: scraped from each process's metrics port and parsed with
prometheus-client's parser, after a whole signup → confirm → bounce flow through the real
worker. Counters are compared before and after, as the session's processes keep counting."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
import redis as sync_redis
import yaml
from prometheus_client import CollectorRegistry

from devstack.processes import free_port
from signup_core.clock import FixedClock
from signup_core.settings import load_settings
from tests import providers as p
from tests.exposition import Exposition, scrape
from tests.integration.test_signup import index, outbox, rows
from tests.support import app_client, app_env, eventually, inspect, mailed_token


def api_routes() -> set[str]:
    """The route templates of the routing table, and the two labels for what matches none."""
    from signup_api.app import ROUTES

    return {route.path for route in ROUTES} | {"unmatched", "preflight"}


@pytest.fixture(scope="session")
def api_metrics(migrated, redis_server, smtp_server) -> str:
    """The API's metrics listener, as signup-api starts it, on a port of its own."""
    from signup_api import metrics

    port = free_port()
    env = app_env(migrated, redis_server.url, smtp_server.port, SIGNUP_METRICS_PORT=str(port))
    assert metrics.start(load_settings(env))
    return f"http://127.0.0.1:{port}/metrics"


@pytest.fixture
def worker_metrics(worker) -> str:
    url = f"http://127.0.0.1:{worker.env['SIGNUP_WORKER_METRICS_PORT']}/metrics"

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # Dramatiq forks the metrics process once its workers have booted.
    import time

    deadline = time.monotonic() + 15
    while not answers():
        assert time.monotonic() < deadline, f"no worker metrics:\n{worker.log()[-2000:]}"
        time.sleep(0.1)
    return url


@pytest.fixture
async def site(env, db):
    settings = {**env, "SIGNUP_MAILGUN_SIGNING_KEY": p.MAILGUN_KEY}
    async with app_client(settings, clock=FixedClock(p.NOW)) as client:
        yield client


async def test_public_port_does_not_serve_metrics(client):
    response = await client.get("/metrics")
    assert response.status_code == 404


def _bounce(email: str) -> dict:
    event = {
        "event": "failed",
        "severity": "permanent",
        "recipient": email,
        "id": f"mg-{uuid.uuid4().hex[:8]}",
        "timestamp": p.NOW.timestamp(),
        "reason": "bounce",
        "delivery-status": {"code": 550, "message": "5.1.1 no such user", "description": ""},
    }
    return p.mailgun(event, token=uuid.uuid4().hex)


async def _flow(site, db, smtp_server) -> None:
    """A signup, its confirmation, a bounce of the welcome mail and a forged webhook."""
    email = f"funnel-{uuid.uuid4().hex[:10]}@example.com"
    assert (await site.post("/signup", json={"email": email})).status_code == 202
    # Once the worker has recorded the token (the catcher holds the mail a moment before).
    _, token = await mailed_token(smtp_server, db, email)
    assert (await site.post("/confirm", data={"token": token})).status_code == 200
    smtp_server.wait_for(lambda m: email in str(m["To"]) and "Welcome" in m["Subject"])
    assert (await site.post("/webhooks/mailgun", json=_bounce(email))).status_code == 200
    forged = _bounce(email)
    forged["signature"]["signature"] = "0" * 64
    assert (await site.post("/webhooks/mailgun", json=forged)).status_code == 403

    async def suppressed() -> bool:
        return (await rows(db, email))[0]["status"] == "suppressed"

    await eventually(suppressed)


async def test_the_mail_funnel_is_counted(site, db, smtp_server, api_metrics, worker_metrics):
    api0, worker0 = scrape(api_metrics), scrape(worker_metrics)

    # Given a signup, its confirmation, a bounce of the welcome mail and a forged webhook
    await _flow(site, db, smtp_server)

    # Then the API counted each step
    api = scrape(api_metrics)

    def api_delta(name: str, **labels: str) -> float:
        return api.value(name, **labels) - api0.value(name, **labels)

    assert api_delta("signup_signups_total", outcome="accepted") == 1
    assert api_delta("signup_confirmations_total", outcome="confirmed") == 1
    assert api_delta("signup_webhook_events_total", provider="mailgun", kind="hard_bounce") == 1
    assert (
        api_delta(
            "signup_webhook_verification_failures_total", provider="mailgun", reason="bad signature"
        )
        == 1
    )
    route = {"method": "POST", "route": "/signup"}
    assert api_delta("signup_http_requests_total", status="2xx", **route) == 1
    assert api_delta("signup_http_request_duration_seconds_count", **route) == 1
    hooks = {"method": "POST", "route": "/webhooks/{provider}"}
    assert api_delta("signup_http_requests_total", status="2xx", **hooks) == 1
    assert api_delta("signup_http_requests_total", status="4xx", **hooks) == 1
    assert api.value("signup_http_requests_in_flight") == 0
    assert api.matching("signup_build_info", component="api")

    # And the worker counted the mails, the send times, the applied bounce and the relay
    def worker_counted() -> Exposition | None:
        now = scrape(worker_metrics)
        bounces = {"provider": "mailgun", "kind": "hard_bounce"}
        done = now.value("signup_provider_events_total", **bounces)
        return now if done > worker0.value("signup_provider_events_total", **bounces) else None

    work = await eventually(worker_counted)

    def work_delta(name: str, **labels: str) -> float:
        return work.value(name, **labels) - worker0.value(name, **labels)

    assert work_delta("signup_mails_total", kind="confirmation", result="sent") == 1
    assert work_delta("signup_mails_total", kind="welcome", result="sent") == 1
    assert work_delta("signup_mails_total", result="failed") == 0
    assert work_delta("signup_mail_send_seconds_count", transport="smtp") == 2
    assert work_delta("signup_provider_events_total", provider="mailgun", kind="hard_bounce") == 1
    assert work_delta("signup_relay_rows_total", queue="mail") == 2
    assert work_delta("signup_relay_rows_total", queue="events") == 1
    assert work_delta("dramatiq_messages_total", actor_name="send_mail") >= 2
    for queue in ("mail", "events"):
        assert work.matching("signup_queue_depth", queue=queue, state="ready")
        assert work.matching("signup_queue_dead_letters", queue=queue)
    assert work.value("signup_worker_dependency_up", dependency="redis") == 1
    assert work.value("signup_worker_dependency_up", dependency="postgres") == 1
    assert work.value("signup_outbox_oldest_unsent_age_seconds") == 0
    assert work.value("signup_events_oldest_unapplied_age_seconds") == 0
    assert work.matching("signup_build_info", component="worker")


async def test_labels_come_from_bounded_sets(client, api_metrics):
    # Given paths an attacker chooses
    for path in ("/nope/1", "/nope/2", "/webhooks/nosuch", "/confirm/extra"):
        await client.get(path)
    await client.post(f"/webhooks/x{uuid.uuid4().hex}")

    # Then no label holds a raw path or a made-up provider
    api = scrape(api_metrics)
    assert api.label_values("signup_http_requests_total", "route") <= api_routes()
    assert api.label_values("signup_http_requests_total", "status") <= {
        "1xx", "2xx", "3xx", "4xx", "5xx"
    }  # fmt: skip
    assert api.label_values("signup_http_requests_total", "method") <= {
        "GET", "POST", "HEAD", "OPTIONS", "other"
    }  # fmt: skip
    providers = api.label_values("signup_webhook_verification_failures_total", "provider")
    from signup_api.webhooks import PROVIDERS

    assert providers <= set(PROVIDERS)
    assert "/nope/1" not in str(api.samples)


async def test_waiting_mail_and_dead_letters_are_seen_at_scrape_time(
    site, db, worker, redis_server, worker_metrics, smtp_server
):
    # Given a sent mail made to look unsent for ten minutes, and a dead-lettered message
    email = f"stuck-{uuid.uuid4().hex[:10]}@example.com"
    assert (await site.post("/signup", json={"email": email})).status_code == 202
    smtp_server.wait_for(lambda m: email in str(m["To"]), timeout=10)
    await eventually(lambda: _sent(db, email))
    await inspect().hold_outbox_unsent(db, email_index=index(email), seconds=600.0)
    client = sync_redis.Redis.from_url(redis_server.url)
    client.zadd("dramatiq:mail.XQ", {"dead-message-id": 1})
    client.close()

    # Then the worker's next scrape shows both
    work = scrape(worker_metrics)
    assert 600 <= work.value("signup_outbox_oldest_unsent_age_seconds") < 700
    assert work.value("signup_queue_dead_letters", queue="mail") == 1
    assert work.value("signup_queue_dead_letters", queue="events") == 0


async def _sent(db, email: str) -> bool:
    found = await outbox(db, email)
    return bool(found) and all(r["sent_at"] for r in found)


def test_a_store_that_does_not_answer_is_reported_not_hidden(tmp_path, monkeypatch):
    from signup_worker.scrape import registry_for

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # Given a worker whose PostgreSQL and Redis are both gone
    dead = free_port()
    env = app_env(f"postgresql://nobody@127.0.0.1:{dead}/none", f"redis://127.0.0.1:{dead}/0", 25)
    registry: CollectorRegistry = registry_for(load_settings(env))

    # Then a scrape still answers, saying so, with no made-up depths or ages
    from prometheus_client import generate_latest

    found = Exposition(generate_latest(registry).decode())
    assert found.value("signup_worker_dependency_up", dependency="postgres") == 0
    assert found.value("signup_worker_dependency_up", dependency="redis") == 0
    assert not found.matching("signup_outbox_oldest_unsent_age_seconds")
    assert not found.matching("signup_queue_depth")


ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b((?:signup|dramatiq)_[a-z_]+)\b")


def _queried(expressions: list[str]) -> set[str]:
    names = {m for e in expressions for m in METRIC.findall(e)}
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def _dashboard_queries() -> list[str]:
    board = json.loads((ROOT / "deploy" / "grafana" / "signet-signup.json").read_text())
    return [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]


def _alert_queries() -> list[str]:
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())
    return [rule["expr"] for group in groups["groups"] for rule in group["rules"]]


async def test_dashboard_and_alerts_query_only_metrics_the_processes_export(
    site, db, smtp_server, api_metrics, worker_metrics
):
    # Given a running API and worker that have been through the whole flow once
    await _flow(site, db, smtp_server)
    assert (await site.get("/readyz")).status_code == 200
    await eventually(lambda: scrape(worker_metrics).matching("signup_provider_events_total"))

    # Then every metric the dashboard and the alert rules query is in one of their expositions
    exported = scrape(api_metrics).names() | scrape(worker_metrics).names()
    exported |= {n.removesuffix("_total") for n in exported}
    for name in _queried(_dashboard_queries()) | _queried(_alert_queries()):
        assert name in exported or name.removesuffix("_total") in exported, name
    assert len(_dashboard_queries()) >= 20
