"""Rate limits in Redis: each trips at its threshold, resets after its window, is shared by
replicas, and a Redis outage lets signups through (fail-open) with a counter."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_flow import to
from tests.support import app_client

PROXY = "203.0.113.7"  # the test transport's peer; trusted below so tests can pick client IPs


def address() -> str:
    return f"rl-{uuid.uuid4().hex[:10]}@example.com"


def limits(**rates: str) -> dict[str, str]:
    env = {f"SIGNUP_RATE_LIMIT_{k.upper()}": "1000/minute" for k in ("ip", "network", "address")}
    env["SIGNUP_RATE_LIMIT_GLOBAL"] = "1000/minute"
    env.update({f"SIGNUP_RATE_LIMIT_{k.upper()}": v for k, v in rates.items()})
    return {**env, "SIGNUP_TRUSTED_PROXIES": f"{PROXY}/32"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# How each limit's requests vary: (client IP for request i, address for request i).
SUBJECTS = {
    "ip": (lambda i: "198.51.100.9", lambda i: address()),
    "network": (lambda i: f"198.51.100.{10 + i}", lambda i: address()),
    "address": (lambda i: f"192.0.{i}.1", lambda i: "same-victim@example.com"),
    "global": (lambda i: f"192.0.{i}.1", lambda i: address()),
}


@pytest.mark.parametrize("limit", sorted(SUBJECTS))
async def test_limit_trips_at_its_threshold_and_resets_after_its_window(env, db, limit, caplog):
    caplog.set_level(logging.INFO)
    ip_of, email_of = SUBJECTS[limit]
    before = sample("signup_rate_limited_total", limit=limit)
    async with app_client({**env, **limits(**{limit: "3/1s"})}) as client:

        async def post(i: int):
            return await client.post(
                "/signup", json={"email": email_of(i)}, headers={"x-forwarded-for": ip_of(i)}
            )

        answers = [await post(i) for i in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert sample("signup_rate_limited_total", limit=limit) == before + 1

        await asyncio.sleep(2.1)  # a whole window for this one and one for the last one's weight
        assert (await post(5)).status_code == 202
    logged = "\n".join(str(r.__dict__) for r in caplog.records if r.name.startswith("signup"))
    assert "198.51.100" not in logged and "same-victim" not in logged


async def test_limits_are_shared_by_two_app_instances(env, db):
    settings = {**env, **limits(ip="4/minute")}
    async with app_client(settings) as first, app_client(settings) as second:
        codes = []
        for i in range(6):
            client = (first, second)[i % 2]
            response = await client.post(
                "/signup", json={"email": address()}, headers={"x-forwarded-for": "198.51.100.200"}
            )
            codes.append(response.status_code)
    assert codes == [202, 202, 202, 202, 429, 429]


async def test_rate_limited_form_post_says_roughly_how_long_to_wait(env, db):
    async with app_client({**env, **limits(ip="1/hour")}) as client:
        await client.post("/signup", data={"email": address()})
        email = address()
        response = await client.post("/signup", data={"email": email})
    wait = int(response.headers["retry-after"])
    assert response.status_code == 429 and wait > 60
    assert f"Please wait about {math.ceil(wait / 60)} minutes" in response.text
    assert f'value="{email}"' in response.text


async def redis_ms(env) -> int:
    """Now on Redis' clock, which the limiter's windows follow."""
    from signup_core.redis_client import async_client

    client = async_client(env["REDIS_URL"])
    try:
        seconds, micros = await client.time()
    finally:
        await client.aclose()
    return seconds * 1000 + micros // 1000


@pytest.mark.parametrize("limit", ["1/4s", "2/4s"])
async def test_the_wait_it_gives_is_enough_even_at_the_end_of_a_window(env, db, limit):
    # Late in a window that is full, the wait is not the rest of this window: in the next one
    # this window's count still weighs. The test picks that moment on Redis' clock.
    allowed = int(limit.split("/")[0])
    window_ms = 4000
    while (await redis_ms(env)) % window_ms < 3000:
        await asyncio.sleep(0.05)
    async with app_client({**env, **limits(ip=limit)}) as client:

        async def post():
            return await client.post(
                "/signup", json={"email": address()}, headers={"x-forwarded-for": "198.51.100.77"}
            )

        assert [(await post()).status_code for _ in range(allowed)] == [202] * allowed
        refused = await post()
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert wait >= 2  # at least half of the next window
        await asyncio.sleep(wait - 1.5)
        assert (await post()).status_code == 429  # not a needless wait: earlier is too early
        await asyncio.sleep(1.55)
        assert (await post()).status_code == 202


async def test_bombing_one_address_from_many_networks_sends_at_most_the_limit(
    env, db, worker, smtp_server
):
    victim = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    # No resend window, so only the Redis limit stands between the attacker and the victim.
    settings = {**env, **limits(address="2/hour"), "SIGNUP_RESEND_WINDOW": "0"}
    async with app_client(settings) as client:
        codes = [
            (
                await client.post(
                    "/signup", json={"email": victim}, headers={"x-forwarded-for": f"10.{i}.0.1"}
                )
            ).status_code
            for i in range(12)
        ]
    assert codes.count(202) == 2 and codes.count(429) == 10
    smtp_server.wait_for(to(victim), count=2)
    await asyncio.sleep(1.0)
    assert len([m for m in smtp_server.messages if to(victim)(m)]) == 2


async def test_redis_down_fails_open_and_counts_it(env, db):
    from devstack import redis
    from devstack.processes import free_port

    server = redis.start(free_port())
    before = sample("signup_rate_limiter_errors_total")
    try:
        async with app_client({**env, "REDIS_URL": server.url}) as client:
            server.stop()
            response = await client.post("/signup", json={"email": address()})
    finally:
        server.stop()
    assert response.status_code == 202
    assert sample("signup_rate_limiter_errors_total") == before + 1


async def scraped(client, name: str, **labels: str) -> float:
    # What the API's metrics port serves (the public port has no /metrics).
    text = generate_latest().decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


async def test_metrics_endpoint_counts_signups_and_refusals(env, db):
    async with app_client({**env, **limits(ip="1/minute")}) as client:
        accepted = await scraped(client, "signup_signups_total", outcome="accepted")
        limited = await scraped(client, "signup_rate_limited_total", limit="ip")
        answers = [
            (await client.post("/signup", json={"email": address()})).status_code for _ in range(2)
        ]
        assert answers == [202, 429]
        assert await scraped(client, "signup_signups_total", outcome="accepted") == accepted + 1
        assert await scraped(client, "signup_rate_limited_total", limit="ip") == limited + 1
