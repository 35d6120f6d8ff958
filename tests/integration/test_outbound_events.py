"""Outbound events against a real local HTTP receiver that verifies every request with the
`standardwebhooks` package (an implementation independent of ours), delivered by a real
worker: each kind of event, retries with the same webhook-id, a receiver down for a minute
(nothing lost), 410 Gone (stopped, logged, replayable), and a spent retry budget."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import standardwebhooks

from devstack.processes import free_port
from tests.conftest import Worker
from tests.integration.test_operator_cli import _signup, index
from tests.privacy_support import signupctl
from tests.support import app_env, eventually, inspect

SECRET = "whsec_" + base64.b64encode(b"outbound-events-test-secret-0123").decode()


class Receiver:
    """A webhook receiver on loopback: verifies, records, answers `status` (or is down)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.verifier = standardwebhooks.Webhook(SECRET)
        self.received: list[dict] = []  # verified events, in order of arrival
        self.attempts: list[str] = []  # webhook-id of every request, verified or not
        self.status = 200
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.attempts.append(self.headers["webhook-id"])
                # Raises on a bad signature, a stale timestamp or a missing header.
                event = receiver.verifier.verify(body, dict(self.headers))
                status = receiver.status
                if status == 200:
                    receiver.received.append({"id": self.headers["webhook-id"], **event})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    r = Receiver()
    r.start()
    yield r
    r.stop()


def _events_env(env: dict[str, str], receiver: Receiver, **extra: str) -> dict[str, str]:
    # A Redis database of its own: the session's worker (events off) never sees these messages.
    redis_url = env["REDIS_URL"].rsplit("/", 1)[0] + "/6"
    return {
        **app_env(env["DATABASE_URL"], redis_url, int(env["SMTP_PORT"])),
        "SIGNUP_EVENTS_URL": receiver.url,
        "SIGNUP_EVENTS_SECRET": SECRET,
        # Shortened so the test waits seconds, not minutes; the defaults are 5 s and 2 min.
        "SIGNUP_EVENTS_MIN_BACKOFF_MS": "200",
        "SIGNUP_EVENTS_MAX_BACKOFF_MS": "2000",
        **extra,
    }


def _worker(env: dict[str, str], receiver: Receiver, log: Path, **extra: str) -> Worker:
    import redis

    events_env = _events_env(env, receiver, **extra)
    redis.Redis.from_url(events_env["REDIS_URL"]).flushdb()
    w = Worker(events_env, log)
    w.wait_ready()
    w.events_env = events_env
    return w


@pytest.fixture
def events_worker(db, env, receiver, tmp_path):
    w = _worker(env, receiver, tmp_path / "worker.log")
    yield w
    w.stop()


@pytest.fixture
def patient_worker(db, env, receiver, tmp_path):
    """Backoff capped at 5 s and retries enough for a minute's outage (the defaults, 2 min and
    20 retries, cover about half an hour)."""
    w = _worker(
        env, receiver, tmp_path / "patient.log",
        SIGNUP_EVENTS_MAX_BACKOFF_MS="5000", SIGNUP_EVENTS_MAX_RETRIES="40",
    )  # fmt: skip
    yield w
    w.stop()


async def _confirm(db, env: dict[str, str], email: str) -> None:
    """A signup confirmed by its link, through the API built from `env`."""
    from signup_core import tokens
    from tests.support import app_client

    await _signup(db, email, name="Eve")
    await inspect().mark_relayed(db, email_index=index(email))
    [sub] = await db.fetch("SELECT id FROM subscriptions WHERE email_index = $1", index(email))
    token, digest = tokens.mint()
    await inspect().insert_token(db, token_hash=digest, subscription_id=sub["id"], ttl_seconds=60)
    async with app_client(env) as client:
        assert (await client.post("/confirm", data={"token": token})).status_code == 200


async def test_each_event_arrives_signed_once_with_its_data(db, receiver, events_worker):
    env = events_worker.events_env
    email = f"ev-{uuid.uuid4().hex[:8]}@example.com"
    # Given a confirmed subscriber who is then suppressed and erased
    await _confirm(db, env, email)
    await eventually(lambda: len(receiver.received) == 1, timeout=20)
    assert signupctl(env, "suppress", "--reason", "operator", email).returncode == 0
    await eventually(lambda: len(receiver.received) == 2, timeout=20)
    assert signupctl(env, "erase", email).returncode == 0
    await eventually(lambda: len(receiver.received) == 3, timeout=20)
    # Then the receiver verified three events, in order, each carrying the address
    types = [e["type"] for e in receiver.received]
    assert types == ["subscriber.confirmed", "subscriber.suppressed", "subscriber.erased"]
    assert all(e["data"]["email"] == email for e in receiver.received)
    assert receiver.received[0]["data"] == {"email": email, "list": "newsletter", "name": "Eve"}
    assert receiver.received[1]["data"]["reason"] == "operator"
    assert len(set(receiver.attempts)) == len(receiver.attempts) == 3
    # And a delivered event keeps no address (the erased one, the last left, has none)
    rows = await db.fetch("SELECT email_sealed, sent_at FROM outbound_events")
    assert [(r["email_sealed"], r["sent_at"] is not None) for r in rows] == [(None, True)]


async def test_a_one_click_unsubscribe_is_announced(db, receiver, events_worker):
    from signup_core import unsubscribe_links
    from signup_core.settings import load_settings
    from tests.support import app_client

    env = events_worker.events_env
    email = f"un-{uuid.uuid4().hex[:8]}@example.com"
    await _confirm(db, env, email)
    await eventually(lambda: len(receiver.received) == 1, timeout=20)
    unsubscribe_id = await db.fetchval(
        "SELECT unsubscribe_id FROM subscriptions WHERE email_index = $1", index(email)
    )
    link = unsubscribe_links.url(load_settings(env), unsubscribe_id)
    async with app_client(env) as client:
        answer = await client.post(link, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        await client.post(link, data={"List-Unsubscribe": "One-Click"})  # twice: one event
    await eventually(lambda: len(receiver.received) == 2, timeout=20)
    await asyncio.sleep(1)
    [event] = receiver.received[1:]
    assert event["type"] == "subscriber.unsubscribed"
    assert event["data"] == {"email": email, "list": "newsletter"}


async def test_a_receiver_down_for_a_minute_loses_nothing(db, receiver, patient_worker):
    env = patient_worker.events_env
    emails = [f"dn{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)]
    # Given the receiver down (nothing listening) while three subscribers confirm
    receiver.stop()
    for email in emails:
        await _confirm(db, env, email)
    time.sleep(60)
    tried = await db.fetchval("SELECT min(attempts) FROM outbound_events")
    assert tried >= 2  # it kept trying
    # When it comes back
    back = time.monotonic()
    receiver.start()
    await eventually(lambda: len(receiver.received) == 3, timeout=30)
    # Then every event arrives, once each, within about one backoff cap of coming back
    assert time.monotonic() - back < 12
    assert sorted(e["data"]["email"] for e in receiver.received) == sorted(emails)
    assert len({e["id"] for e in receiver.received}) == 3


async def test_retries_carry_the_same_webhook_id(db, receiver, events_worker):
    receiver.status = 503
    await _confirm(db, events_worker.events_env, f"rt-{uuid.uuid4().hex[:8]}@example.com")
    await eventually(lambda: len(receiver.attempts) >= 3, timeout=20)
    receiver.status = 200
    await eventually(lambda: len(receiver.received) == 1, timeout=20)
    assert len(set(receiver.attempts)) == 1  # every attempt verified, every one the same id
    assert receiver.received[0]["id"] == receiver.attempts[0]


async def test_410_stops_the_event_says_so_and_replay_sends_it(db, receiver, events_worker):
    env = events_worker.events_env
    receiver.status = 410
    await _confirm(db, env, f"gone-{uuid.uuid4().hex[:8]}@example.com")
    [row] = await eventually(
        lambda: db.fetch("SELECT * FROM outbound_events WHERE failed_at IS NOT NULL")
    )
    assert row["failure"] == "410 Gone" and len(receiver.attempts) == 1
    await eventually(lambda: "410 Gone" in events_worker.log())
    listed = signupctl(env, "dead-letters", "list")
    assert f"event:{row['id']}\tsubscriber.confirmed\tnewsletter" in listed.stdout
    # When the receiver takes events again and the operator replays it
    receiver.status = 200
    done = signupctl(env, "dead-letters", "replay", "--event-id", str(row["id"]))
    assert done.returncode == 0 and "and 1 event(s)" in done.stderr
    await eventually(lambda: len(receiver.received) == 1, timeout=20)
    assert receiver.received[0]["id"] == row["webhook_id"]  # the same webhook-id


async def test_a_spent_retry_budget_dead_letters_and_counts(db, env, receiver, tmp_path):
    worker = _worker(env, receiver, tmp_path / "budget.log", SIGNUP_EVENTS_MAX_RETRIES="2")
    budget_env = worker.events_env
    try:
        receiver.status = 500
        await _confirm(db, budget_env, f"bg-{uuid.uuid4().hex[:8]}@example.com")
        [row] = await eventually(
            lambda: db.fetch("SELECT * FROM outbound_events WHERE failed_at IS NOT NULL"),
            timeout=30,
        )
        assert row["failure"] == "HTTP 500 (gave up)" and row["attempts"] == 3
        port = budget_env["SIGNUP_WORKER_METRICS_PORT"]
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        # Every type is shown from the start (at 0), so the one that gave up is picked by name.
        [line] = [
            x for x in text.splitlines()
            if x.startswith("signup_outbound_events_total{") and 'result="gave_up"' in x
            and 'type="subscriber.confirmed"' in x
        ]  # fmt: skip
        assert line.endswith(" 1.0")
    finally:
        worker.stop()


def test_settings_need_the_secret_with_the_url(env):
    from signup_core.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="SIGNUP_EVENTS_SECRET is required"):
        load_settings({**env, "SIGNUP_EVENTS_URL": "https://tools.example/hooks"})
    with pytest.raises(ConfigError, match="whsec_"):
        load_settings({**env, "SIGNUP_EVENTS_SECRET": "plain"})
