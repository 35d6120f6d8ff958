"""OpenTelemetry traces, configured by the standard OTEL_* variables. Off unless
OTEL_TRACES_EXPORTER names an exporter (`otlp`, or `console` for development): then the SDK,
the exporter and the library instrumentations (asyncpg, redis, httpx) are loaded; when off,
nothing is, and the request path pays for no span.

A row written on a request keeps the request's W3C traceparent, so the worker's span for that
row continues the request's trace across the outbox and the queue.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from signup_core.settings import Settings

_enabled = False


def enabled() -> bool:
    return _enabled


def configure(settings: Settings, component: str, exporter=None) -> bool:
    """Install the SDK's tracer provider and the instrumentations, once per process.
    `exporter` replaces the one OTEL_TRACES_EXPORTER names (the benchmarks drop spans)."""
    global _enabled
    if (settings.traces_exporter == "none" and exporter is None) or _enabled:
        return _enabled
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from signup_core.build import version

    # Resource.create also reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the sampler
    # comes from OTEL_TRACES_SAMPLER, the OTLP endpoint from OTEL_EXPORTER_OTLP_*.
    resource = Resource.create(
        {
            "service.name": settings.service_name or f"signup-{component}",
            "service.version": version(),
        }
    )
    provider = new_provider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    elif settings.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        # One line a span, not the SDK's indented JSON: mixed into a log of one JSON object a
        # line (make run's var/*.log), several lines a span broke every line-based reader.
        console = ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
        provider.add_span_processor(BatchSpanProcessor(console))
    if component != "api":
        provider.sampler = _calls_in_our_spans(provider.sampler)  # before any tracer is made
    trace.set_tracer_provider(provider)
    instrument_libraries(API_LIBRARIES if component == "api" else ALL_LIBRARIES)
    _enabled = True
    return True


def new_provider(**options):
    """The SDK's tracer provider (the sampler from OTEL_TRACES_SAMPLER unless `options` name
    one), with ids that let root_span below draw a root's trace id before the SDK is asked."""
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(id_generator=_chosen_ids()(), **options)


@functools.cache
def _chosen_ids() -> type:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class ChosenIds(RandomIdGenerator):
        """The SDK's random ids, but the root trace id root_span already drew and decided on."""

        def generate_trace_id(self) -> int:
            return _chosen_trace_id.get() or super().generate_trace_id()

    return ChosenIds


_chosen_trace_id: ContextVar[int] = ContextVar("chosen_trace_id", default=0)
_TRACE_ID_LIMIT = (1 << 64) - 1  # the ratio sampler compares a trace id's low 64 bits
# Root trace ids are random (W3C level 2's flag, which the SDK sets for its own ids too).
_UNSAMPLED = TraceFlags(TraceFlags.RANDOM_TRACE_ID)


def root_bound(provider) -> int | None:
    """The bound under which the provider's sampler samples a root span's trace id, when the
    sampler is exactly the SDK's ratio or always-off one (parent-based or not; a subclass may
    decide otherwise), the ids are new_provider's and the SDK is on; otherwise None, and every
    span is left to the SDK."""
    from opentelemetry.sdk.trace import Tracer
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ParentBased,
        ParentBasedTraceIdRatio,
        TraceIdRatioBased,
    )

    if not isinstance(getattr(provider, "id_generator", None), _chosen_ids()):
        return None
    if not isinstance(provider.get_tracer("signup_api"), Tracer):
        return None  # OTEL_SDK_DISABLED: the SDK's tracer makes only invalid spans
    sampler = getattr(provider, "sampler", None)
    # ParentBased keeps the sampler for roots private; the SDK has no public accessor for it.
    parent_based = type(sampler) in (ParentBased, ParentBasedTraceIdRatio)
    root = getattr(sampler, "_root", None) if parent_based else sampler
    if type(root) is TraceIdRatioBased:
        return root.bound
    if root is ALWAYS_OFF:
        return 0
    return None


def root_span(tracer: trace.Tracer, bound: int, name: str, kind: SpanKind) -> trace.Span:
    """A root span whose sampling the ratio sampler would decide the same way, asked of the
    SDK only when sampled: an unsampled one is a non-recording span with fresh ids, which cost
    ~3 µs where the SDK's start_span costs ~20 µs for a span it then drops. Where a span is
    current already (nothing in this service opens one around a request), the SDK decides."""
    if trace.get_current_span().get_span_context().is_valid:
        return tracer.start_span(name, kind=kind)
    trace_id = random.getrandbits(128) or 1
    if trace_id & _TRACE_ID_LIMIT >= bound:
        span_id = random.getrandbits(64) or 1
        return NonRecordingSpan(SpanContext(trace_id, span_id, False, _UNSAMPLED))
    token = _chosen_trace_id.set(trace_id)
    try:
        return tracer.start_span(name, context=context.Context(), kind=kind)
    finally:
        _chosen_trace_id.reset(token)


def _calls_in_our_spans(sampler):
    """`sampler`, but a library's call (a CLIENT span: asyncpg, redis, httpx) outside any span
    of ours is dropped. The worker's pollers (the relay's outbox check, Dramatiq's Redis
    fetches and acks) would otherwise each start a trace of their own: ~20 a second while
    idle, and a console exporter's output or a collector flooded with them. A call made for a
    row, in its span, is sampled as that span is."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class CallsInOurSpans(Sampler):
        def should_sample(
            self,
            parent_context,
            trace_id,
            name,
            kind=None,
            attributes=None,
            links=None,
            trace_state=None,
        ) -> SamplingResult:
            if kind is SpanKind.CLIENT:
                parent = trace.get_current_span(parent_context).get_span_context()
                if not parent.is_valid:
                    return SamplingResult(Decision.DROP)
            asked = (parent_context, trace_id, name, kind, attributes, links)
            # As the SDK's Tracer asks: a sampler of the site's own may take only those six.
            if trace_state is None:
                return sampler.should_sample(*asked)
            return sampler.should_sample(*asked, trace_state)

        def get_description(self) -> str:
            return f"CallsInOurSpans{{{sampler.get_description()}}}"

    return CallsInOurSpans()


ALL_LIBRARIES = ("asyncpg", "redis", "httpx")
# The API's database and Redis calls are batched across concurrent requests, so a library's
# span for one would sit in whichever request's trace opened the batch; and the libraries build
# their attributes before the sampler decides, for every call. The API marks those steps with
# a span of each request's own instead (step() below), built only when the request is sampled.
API_LIBRARIES = ("httpx",)


def instrument_libraries(names: tuple[str, ...] = ALL_LIBRARIES) -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentors = {
        "asyncpg": AsyncPGInstrumentor,
        "redis": RedisInstrumentor,
        "httpx": HTTPXClientInstrumentor,
    }
    for name in names:
        instrumentor = instrumentors[name]()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


def flush(timeout: float = 2.0) -> None:
    """Export the spans the batch processor still holds, waiting at most `timeout` seconds: for
    a process about to end by a signal, where the SDK's own flush at exit never runs. In its own
    thread, because the SDK's force_flush does not keep to its timeout (the OTLP exporter
    retries a batch for up to 10 s against a collector that is down), and a stop must stay
    inside the runtime's grace period."""
    if not _enabled:
        return
    force_flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if force_flush is None:
        return
    flushing = threading.Thread(
        target=force_flush, args=(int(timeout * 1000),), name="span-flush", daemon=True
    )
    flushing.start()
    flushing.join(timeout)


def enable_for_tests() -> None:
    """Tests install their own provider (an in-memory exporter) and switch the spans on."""
    global _enabled
    _enabled = True


def step(name: str) -> _Step:
    """Times one step of a request into its span, as the attribute `<name>.duration_ms`, only
    when the request's span is recorded: nothing is built for an unsampled request, nor with
    tracing off. An attribute, not a child span: each span cost a sampled signup ~45 µs to make
    and ~25 µs to export, and its two steps' spans made it ~2x as dear as its server span
    alone (make bench: tracing at 0.1 cost ~19 % of the throughput with them)."""
    return _Step(name)


class _Step:
    __slots__ = ("name", "span", "started")

    def __init__(self, name: str) -> None:
        self.name = name
        self.span: trace.Span | None = None

    def __enter__(self) -> None:
        if _enabled:
            span = trace.get_current_span()
            if span.is_recording():
                self.span = span
                self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self.span is not None:
            elapsed = (time.perf_counter() - self.started) * 1000
            self.span.set_attribute(f"{self.name}.duration_ms", round(elapsed, 3))


def traceparent() -> str | None:
    """The current span's W3C traceparent, to store with a row; None when there is no span."""
    if not _enabled:
        return None
    # Formatted here, as the W3C propagator formats it: propagate.inject (the composite
    # propagator, a carrier, the baggage propagator's pass) cost ~10x as much, on every signup.
    span = trace.get_current_span().get_span_context()
    if not span.is_valid:
        return None
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{span.trace_flags:02x}"


def parent_of(traceparent: str | None) -> context.Context | None:
    return propagate.extract({"traceparent": traceparent}) if traceparent else None


def link_to(traceparent: str | None) -> Link | None:
    parent = parent_of(traceparent)
    if parent is None:
        return None
    span_context = trace.get_current_span(parent).get_span_context()
    return Link(span_context) if span_context.is_valid else None


@contextlib.contextmanager
def row_span(
    name: str, row_id: int, traceparent: str | None, **attributes: str | int
) -> Iterator[None]:
    """A span for work on one row, in the trace of the request that wrote it, linked to the
    span current here (the queue message's). Nothing at all when tracing is off."""
    if not _enabled:
        yield
        return
    here = trace.get_current_span().get_span_context()
    links = [Link(here)] if here.is_valid else []
    tracer = trace.get_tracer("signup")
    with tracer.start_as_current_span(
        name,
        context=parent_of(traceparent) or context.get_current(),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={"signup.row_id": row_id, **attributes},
    ):
        yield


@contextlib.contextmanager
def work_span(name: str) -> Iterator[None]:
    """A span of ours around a worker's task that is not a row's (claiming a batch for the
    queue, a purge), so its queries, which are traced only inside a span of ours, are seen.
    Nothing at all when tracing is off."""
    if not _enabled:
        yield
        return
    with trace.get_tracer("signup").start_as_current_span(name, kind=SpanKind.INTERNAL):
        yield
