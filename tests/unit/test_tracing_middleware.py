"""The API's server span: the sampler is asked once per request and first; an unsampled request
builds no span, no attribute and no export, yet carries its trace id (sampled flag off) for the
rows it writes; a sampled one records method, route and status, and joins an incoming trace."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
)

from signup_api.tracing_middleware import Traced

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Counting(Sampler):
    """Production's parent-based sampler, counting how often it is asked."""

    def __init__(self, root: Sampler) -> None:
        self.inner = ParentBased(root)
        self.calls = 0

    def should_sample(self, *args, **kwargs) -> SamplingResult:
        self.calls += 1
        return self.inner.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "counting"


class Route:
    path = "/signup"


def _traced(root: Sampler):
    sampler = Counting(root)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen: list[dict] = []

    async def app(scope, receive, send) -> None:
        scope["route"] = Route()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        seen.append(carrier)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return Traced(app, tracer=provider.get_tracer("test")), sampler, exporter, seen


async def _call(app, headers=()) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/signup",
        "scheme": "http",
        "headers": list(headers),
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        pass

    await app(scope, receive, send)


def _sampled(traceparent: str) -> bool:
    return bool(int(traceparent[-2:], 16) & 1)  # the W3C sampled flag; other bits may be set


async def test_an_unsampled_request_is_one_sampling_decision_and_nothing_recorded():
    app, sampler, exporter, seen = _traced(ALWAYS_OFF)
    for _ in range(10):
        await _call(app)
    assert sampler.calls == 10
    assert exporter.get_finished_spans() == ()
    # Each still has a trace of its own, marked not sampled, for the rows it writes.
    assert {_sampled(c["traceparent"]) for c in seen} == {False}
    assert len({c["traceparent"][3:35] for c in seen}) == 10
    assert trace.get_current_span() is trace.INVALID_SPAN  # the context was restored


async def test_a_sampled_request_records_method_route_and_status():
    app, sampler, exporter, seen = _traced(ALWAYS_ON)
    await _call(app)
    [span] = exporter.get_finished_spans()
    assert sampler.calls == 1
    assert span.kind == trace.SpanKind.SERVER and span.name == "POST /signup"
    assert span.attributes["http.route"] == "/signup"
    assert span.attributes["http.response.status_code"] == 202
    assert _sampled(seen[0]["traceparent"])


async def test_an_incoming_sampled_trace_is_continued():
    app, _, exporter, _ = _traced(ALWAYS_OFF)  # the parent's decision wins
    await _call(app, [(b"traceparent", PARENT.encode())])
    [span] = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == PARENT[3:35]
    assert format(span.parent.span_id, "016x") == PARENT[36:52]
