"""One trace from the signup request to the worker's send of its confirmation mail, across the
outbox and the queue. The API runs here with an in-memory exporter; the worker is a real
`signup-worker` process configured by OTEL_* variables, exporting OTLP/HTTP to a receiver in
this test. Both run on a database and a Redis database of their own, so the session's worker
(tracing off) cannot take the mail."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.processes import free_port
from signup_core import tracing, unsubscribe_links
from signup_core.settings import load_settings
from tests.conftest import Worker
from tests.integration.test_signup import index
from tests.support import app_client, app_env, eventually, inspect, mailed_token


class Receiver:
    """An OTLP/HTTP trace receiver: keeps every span it is sent, as protobuf objects."""

    def __init__(self) -> None:
        self.spans: list = []
        received = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        received.extend(scope.spans)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """This process's spans, in memory; the library instrumentations only while the module runs."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracing.instrument_libraries()
    tracing.enable_for_tests()
    yield exporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (AsyncPGInstrumentor(), RedisInstrumentor(), HTTPXClientInstrumentor()):
        instrumentor.uninstrument()
    tracing._enabled = False


@pytest.fixture
def stack(pg_server, redis_server, smtp_server, scratch: Path):
    """A database, a Redis database and a traced worker of this test's own."""

    async def fresh() -> str:
        from signup_core.migrations import migrate

        admin = await asyncpg.connect(pg_server.url)
        await inspect().drop_traces_test_db(admin)
        await inspect().create_traces_test_db(admin)
        await admin.close()
        url = pg_server.url.rsplit("/", 1)[0] + "/traces_test"
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.close()
        return url

    url = asyncio.run(fresh())
    receiver = Receiver()
    env = app_env(url, redis_server.url.rsplit("/", 1)[0] + "/3", smtp_server.port)
    traced = {
        **env,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    worker = Worker(traced, scratch / f"traced-worker-{uuid.uuid4().hex[:6]}.log")
    worker.wait_ready()
    yield env, receiver, worker
    worker.stop()
    receiver.server.shutdown()


def _hex(raw: bytes) -> str:
    return raw.hex()


async def test_the_worker_span_that_sends_the_mail_continues_the_signup_trace(
    spans, stack, smtp_server
):
    env, receiver, worker = stack
    email = f"traced-{uuid.uuid4().hex[:10]}@example.com"

    # Given a signup through the traced API
    async with app_client(env) as client:
        assert (await client.post("/signup", json={"email": email})).status_code == 202
    [request] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    trace_id = format(request.context.trace_id, "032x")
    # (its steps are timed on its own span, not as child spans: a span each cost a sampled
    # signup more than the rest of its tracing)
    assert request.attributes["signup.rate_limit.duration_ms"] > 0
    assert request.attributes["signup.store.duration_ms"] > 0
    assert not [
        s
        for s in spans.get_finished_spans()
        if s.context.trace_id == request.context.trace_id and s.name.startswith("signup.")
    ]
    smtp_server.wait_for(lambda m: email in str(m["To"]), timeout=15)

    # Then the worker's span for that row is in the request's trace
    def delivered():
        return [s for s in receiver.spans if s.name == "mailer.deliver"]

    [deliver] = await eventually(delivered, timeout=15)
    assert _hex(deliver.trace_id) == trace_id
    # ... linked to the message's consumer span, which follows the relay's producer span,
    # which links back to the request
    by_id = {s.span_id: s for s in receiver.spans}
    [process_link] = deliver.links
    process = await eventually(
        lambda: by_id.get(process_link.span_id) or _refresh(receiver, by_id, process_link.span_id)
    )
    assert process.name == "send_mail process"
    relay = by_id.get(process.parent_span_id) or await eventually(
        lambda: _refresh(receiver, by_id, process.parent_span_id)
    )
    assert relay.name == "relay mail"
    assert trace_id in {_hex(link.trace_id) for link in relay.links}

    # And the worker's log line for the send carries the trace
    lines = [json.loads(x) for x in worker.log().splitlines() if x.startswith("{")]
    [sent] = [x for x in lines if x.get("msg") == "mail sent"]
    assert sent["trace_id"] == trace_id and len(sent["span_id"]) == 16


async def _delivered_in(receiver: Receiver, trace_id: str) -> list:
    def found():
        return [
            s for s in receiver.spans if s.name == "mailer.deliver" and _hex(s.trace_id) == trace_id
        ]

    return await eventually(found, timeout=15)


def _server_span(spans: InMemorySpanExporter, route: str):
    [request] = [
        s
        for s in spans.get_finished_spans()
        if s.kind == trace.SpanKind.SERVER and s.attributes.get("http.route") == route
    ]
    return format(request.context.trace_id, "032x")


async def test_welcome_and_unsubscribe_receipt_mails_join_the_trace_of_their_request(
    spans, stack, smtp_server
):
    env, receiver, _ = stack
    email = f"traced-{uuid.uuid4().hex[:10]}@example.com"
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        async with app_client(env) as client:
            assert (await client.post("/signup", json={"email": email})).status_code == 202
            _, token = await mailed_token(smtp_server, conn, email)

            # When the address is confirmed, the welcome mail is sent in that request's trace
            spans.clear()
            assert (await client.post("/confirm", data={"token": token})).status_code == 200
            confirming = _server_span(spans, "/confirm")
            smtp_server.wait_for(lambda m: email in str(m["To"]) and "Welcome" in m["Subject"])
            assert await _delivered_in(receiver, confirming)

            # And when it unsubscribes, the receipt is sent in the unsubscribing request's trace
            [row] = [
                r async for r in inspect().subscriptions_by_index(conn, email_index=index(email))
            ]
            link = unsubscribe_links.sign(load_settings(env), row["unsubscribe_id"])
            spans.clear()
            done = await client.post("/unsubscribe", data={"token": link})
            assert done.status_code == 200
            unsubscribing = _server_span(spans, "/unsubscribe")
            assert unsubscribing != confirming
            assert await _delivered_in(receiver, unsubscribing)
    finally:
        await conn.close()


def _refresh(receiver: Receiver, by_id: dict, span_id: bytes):
    by_id.update({s.span_id: s for s in receiver.spans})
    return by_id.get(span_id)


async def test_the_idle_worker_starts_no_trace_and_a_rows_queries_join_its_span(
    spans, stack, smtp_server
):
    env, receiver, _ = stack
    # Idle: the relay polls the outbox and Dramatiq fetches from Redis, several times a second.
    await asyncio.sleep(1.5)
    email = f"traced-{uuid.uuid4().hex[:10]}@example.com"
    async with app_client(env) as client:
        assert (await client.post("/signup", json={"email": email})).status_code == 202
    trace_id = _server_span(spans, "/signup")
    [deliver] = await _delivered_in(receiver, trace_id)
    # The row's own queries are traced, in its span ...
    queries = [s for s in receiver.spans if s.parent_span_id == deliver.span_id]
    assert {s.kind for s in queries} == {trace_pb2.Span.SPAN_KIND_CLIENT}
    assert len(queries) >= 3  # the lock, the suppression check, the sent mark
    # ... as are the relay's, which claimed the row, in a span of ours around the claim ...
    claims = await eventually(lambda: [s for s in receiver.spans if s.name == "claim mail"])
    claimed = [s.name for s in receiver.spans if s.parent_span_id == claims[0].span_id]
    assert "relay mail" in claimed and "BEGIN;" in claimed and "COMMIT;" in claimed
    # ... and no poller's call started a trace of its own.
    orphans = [
        s.name
        for s in receiver.spans
        if s.kind == trace_pb2.Span.SPAN_KIND_CLIENT and not s.parent_span_id
    ]
    assert orphans == []


def test_log_lines_inside_a_span_carry_its_ids(spans):
    import logging

    from signup_core.logs import JsonFormatter

    record = logging.makeLogRecord({"msg": "inside", "name": "t", "levelname": "INFO"})
    outside = json.loads(JsonFormatter().format(record))
    with trace.get_tracer("t").start_as_current_span("work") as span:
        inside = json.loads(JsonFormatter().format(record))
    assert "trace_id" not in outside
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
