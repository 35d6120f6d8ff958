"""signup-api under the ratio sampler production uses, as a real process configured by OTEL_*
variables: a signup without a trace of its own is sampled or not by its trace id as the SDK's
sampler would decide it, a sampled one is exported and an unsampled one is not, and the row it
writes carries its trace id and decision for the worker either way."""

from __future__ import annotations

import time

import httpx

from devstack.processes import stop
from tests.integration.test_traces import Receiver
from tests.support import start_api

SIGNUPS = 40


async def test_each_signup_is_exported_exactly_when_its_stored_trace_is_sampled(env, db, tmp_path):
    receiver = Receiver()
    traced = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    process, url = start_api(env, tmp_path / "api.log", **traced)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for n in range(SIGNUPS):
                reply = await client.post("/signup", json={"email": f"s{n}@example.com"})
                assert reply.status_code == 202, reply.text
        stored = [r["traceparent"] for r in await db.fetch("SELECT traceparent FROM outbox")]
        assert len(stored) == SIGNUPS
        sampled = {t[3:35] for t in stored if int(t[-2:], 16) & 1}
        bound = round(0.5 * 2**64)  # the SDK's ratio sampler: the trace id's low 64 bits
        assert sampled == {t[3:35] for t in stored if int(t[3:35], 16) & (2**64 - 1) < bound}
        assert 0 < len(sampled) < SIGNUPS
        deadline = time.monotonic() + 10
        while len(receiver.spans) < len(sampled) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a span too many would arrive in the same moment
    finally:
        stop(process, timeout=5)
        receiver.server.shutdown()
    signups = [s for s in receiver.spans if s.name == "POST /signup"]
    assert sorted(s.trace_id.hex() for s in signups) == sorted(sampled)
    assert len(stored) == len({t[3:35] for t in stored})  # one trace each
