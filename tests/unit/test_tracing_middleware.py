"""The API's server span: the sampler is asked once per request and first; an unsampled request
builds no span, no attribute and no export, yet carries its trace id (sampled flag off) for the
rows it writes; a sampled one records method, route and status, and joins an incoming trace.
Under the ratio sampler a request without a trace is decided before the SDK is called, the way
the SDK's sampler decides it, and only a sampled one reaches the SDK."""

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
    TraceIdRatioBased,
)

from signup_api.tracing_middleware import Traced
from signup_core import tracing

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


class CountingTracer:
    """The SDK's tracer, counting the spans it is asked to start."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.calls = 0

    def start_span(self, *args, **kwargs) -> trace.Span:
        self.calls += 1
        return self.tracer.start_span(*args, **kwargs)


def _traced(root: Sampler):
    app, exporter, seen = _traced_by(sampler := Counting(root))
    return app, sampler, exporter, seen


def _traced_by(sampler: Sampler):
    exporter = InMemorySpanExporter()
    provider = tracing.new_provider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen: list[dict] = []

    async def app(scope, receive, send) -> None:
        scope["route"] = Route()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        seen.append(carrier)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return Traced(app, provider=provider), exporter, seen


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


async def test_a_request_without_a_trace_is_decided_before_the_sdk_as_the_sdk_would():
    root = TraceIdRatioBased(0.5)
    app, exporter, seen = _traced_by(ParentBased(root))
    app.tracer = counting = CountingTracer(app.tracer)
    for _ in range(400):
        await _call(app)
    spans = exporter.get_finished_spans()
    assert counting.calls == len(spans)  # the SDK was asked about the sampled requests only
    assert 120 < len(spans) < 280
    ids = [int(c["traceparent"][3:35], 16) for c in seen]
    assert len(set(ids)) == 400 and len({c["traceparent"][36:52] for c in seen}) == 400
    for carrier, trace_id in zip(seen, ids, strict=True):
        # The SDK's rule for this trace id: its low 64 bits under the ratio's bound.
        assert _sampled(carrier["traceparent"]) == (trace_id & (2**64 - 1) < root.bound)
    sampled = {t for c, t in zip(seen, ids, strict=True) if _sampled(c["traceparent"])}
    assert {span.context.trace_id for span in spans} == sampled
    assert all(span.parent is None and span.name == "POST /signup" for span in spans)


async def test_a_drawn_trace_id_serves_its_request_only():
    app, exporter, _ = _traced_by(TraceIdRatioBased(1.0))
    await _call(app)
    other = app.tracer.start_span("elsewhere")  # the same provider's ids
    other.end()
    first, second = exporter.get_finished_spans()
    assert first.context.trace_id != second.context.trace_id


def test_the_ratio_decision_is_taken_from_the_configured_sampler(monkeypatch):
    def bound(name: str, argument: str | None = None) -> int | None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
        if argument is None:
            monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
        else:
            monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", argument)
        return tracing.root_bound(tracing.new_provider())

    tenth = TraceIdRatioBased.get_bound_for_rate(0.1)
    assert bound("parentbased_traceidratio", "0.1") == tenth
    assert bound("traceidratio", "0.1") == tenth
    assert bound("parentbased_traceidratio", "a tenth") == 2**64  # the SDK's fallback, 1.0
    assert bound("always_off") == bound("parentbased_always_off") == 0
    # Samplers that keep every root, or that are not the SDK's own: the SDK decides.
    assert bound("parentbased_always_on") is None
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")  # the SDK makes invalid spans only
    assert bound("parentbased_traceidratio", "0.1") is None
    assert tracing.root_bound(tracing.new_provider(sampler=Counting(ALWAYS_OFF))) is None

    class Keen(TraceIdRatioBased):  # a subclass may decide otherwise than by the bound
        def should_sample(self, *args, **kwargs) -> SamplingResult:
            return ALWAYS_ON.should_sample(*args, **kwargs)

    assert tracing.root_bound(tracing.new_provider(sampler=Keen(0.1))) is None
    assert tracing.root_bound(tracing.new_provider(sampler=ParentBased(Keen(0.1)))) is None
    assert tracing.root_bound(TracerProvider(sampler=TraceIdRatioBased(0.1))) is None
    assert tracing.root_bound(trace.NoOpTracerProvider()) is None


async def test_a_request_that_raises_ends_its_span_as_an_error():
    async def broken(scope, receive, send) -> None:
        raise RuntimeError("a bug")

    app, exporter, _ = _traced_by(ALWAYS_ON)
    app.app = broken
    try:
        await _call(app)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the error was swallowed")
    [span] = exporter.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes["http.response.status_code"] == 500
    assert [event.name for event in span.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_an_unsampled_root_is_the_span_the_sdk_would_have_made():
    ours, _, _ = _traced_by(ParentBased(ALWAYS_OFF))
    sdk = TracerProvider(sampler=ParentBased(ALWAYS_OFF)).get_tracer("test")
    dropped = sdk.start_span("POST", kind=trace.SpanKind.SERVER)
    spans: list[trace.Span] = []

    async def keep(scope, receive, send) -> None:
        spans.append(trace.get_current_span())

    ours.app = keep
    await _call(ours)
    [span] = spans
    assert type(span) is type(dropped) and not span.is_recording()
    mine, theirs = span.get_span_context(), dropped.get_span_context()
    assert (mine.trace_flags, mine.trace_state, mine.is_remote) == (
        theirs.trace_flags,
        theirs.trace_state,
        theirs.is_remote,
    )
    assert mine.is_valid


async def test_a_span_current_around_the_request_is_left_to_the_sdk():
    app, exporter, _ = _traced_by(ParentBased(TraceIdRatioBased(0.0)))
    outer = trace.NonRecordingSpan(
        trace.SpanContext(0xABC, 0xDEF, False, trace.TraceFlags(trace.TraceFlags.SAMPLED))
    )
    with trace.use_span(outer):
        await _call(app)
    [span] = exporter.get_finished_spans()  # sampled, as its parent is
    assert span.context.trace_id == 0xABC and span.parent.span_id == 0xDEF
