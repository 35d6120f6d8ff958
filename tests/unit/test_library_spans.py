"""The worker's library spans (asyncpg, redis, httpx calls: CLIENT spans) are traced only
inside a span of ours: its pollers' calls outside any would each start a trace of their own."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, DEFAULT_ON, Sampler
from opentelemetry.trace import SpanKind

from signup_core.tracing import _calls_in_our_spans


def _tracer(sampler=DEFAULT_ON):  # the SDK's ParentBased(ALWAYS_ON)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=_calls_in_our_spans(sampler))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_a_library_call_outside_our_spans_is_not_traced():
    tracer, exporter = _tracer()
    tracer.start_span("BLPOP", kind=SpanKind.CLIENT).end()  # a poller's call
    tracer.start_span("relay mail", kind=SpanKind.PRODUCER).end()  # a span of ours
    assert [s.name for s in exporter.get_finished_spans()] == ["relay mail"]


def test_a_library_call_inside_our_span_is_traced_as_its_child():
    tracer, exporter = _tracer()
    with tracer.start_as_current_span("mailer.deliver", kind=SpanKind.CONSUMER) as row:
        tracer.start_span("SELECT", kind=SpanKind.CLIENT).end()
    query, deliver = exporter.get_finished_spans()
    assert (query.name, deliver.name) == ("SELECT", "mailer.deliver")
    assert query.parent.span_id == row.get_span_context().span_id


def test_a_call_inside_an_unsampled_span_follows_its_parent():
    tracer, exporter = _tracer()
    unsampled = trace.NonRecordingSpan(
        trace.SpanContext(0xABC, 0xDEF, False, trace.TraceFlags(trace.TraceFlags.DEFAULT))
    )
    with trace.use_span(unsampled):
        tracer.start_span("SELECT", kind=SpanKind.CLIENT).end()
    assert exporter.get_finished_spans() == ()


def test_a_sampler_written_to_the_sdks_six_arguments_is_asked_as_the_sdk_asks():
    class Six(Sampler):  # a site's own sampler, from an entry point, without trace_state
        def should_sample(self, parent_context, trace_id, name, kind, attributes, links):
            return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

        def get_description(self) -> str:
            return "six"

    tracer, exporter = _tracer(Six())
    tracer.start_span("relay mail", kind=SpanKind.PRODUCER).end()
    assert [s.name for s in exporter.get_finished_spans()] == ["relay mail"]
