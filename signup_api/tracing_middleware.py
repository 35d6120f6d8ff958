"""The request's server span, asked of the sampler before anything else is built.

OpenTelemetry's ASGI middleware builds a request's attributes (headers, URL, client) before the
sampler decides, and wraps every receive and send in child spans of their own: about 400 µs a
signup even when the span is dropped. Here an unsampled request costs one sampling decision
and one context switch: its span is the SDK's non-recording one, which carries the trace id
and the sampled flag (so a row's stored traceparent tells the worker not to sample either), and
nothing is recorded, set or exported for it. For a request that carries no trace, with the
ratio sampler production uses, the decision is made here on the trace id the SDK would have
drawn, and the SDK is not called at all for an unsampled one (tracing.root_span). A sampled
request gets a SERVER span with the method, the route template (never the raw path's query)
and the status.

Only installed when tracing is on (signup_api.app); it is the outermost layer, so the access
log line and every handler run inside the span.
"""

from __future__ import annotations

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signup_core import tracing

EXCLUDED = frozenset({"/healthz", "/readyz"})


class Traced:
    def __init__(self, app: ASGIApp, provider: trace.TracerProvider | None = None) -> None:
        self.app = app
        provider = provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer("signup_api")
        self.root_bound = tracing.root_bound(provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXCLUDED:
            await self.app(scope, receive, send)
            return
        parent = _incoming(scope)
        method = scope["method"]
        if parent is None and self.root_bound is not None:
            span = tracing.root_span(self.tracer, self.root_bound, method, SpanKind.SERVER)
        else:
            span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            if not span.is_recording():
                await self.app(scope, receive, send)
                return
            await self._recorded(span, scope, receive, send)
        finally:
            context.detach(token)

    async def _recorded(self, span, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        span.set_attribute("http.request.method", scope["method"])
        span.set_attribute("url.path", scope["path"])
        span.set_attribute("url.scheme", scope.get("scheme", "http"))
        try:
            await self.app(scope, receive, send_status)
        except BaseException as e:
            span.record_exception(e)
            raise
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route:
                span.set_attribute("http.route", route)
                span.update_name(f"{scope['method']} {route}")
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()


def _incoming(scope: Scope) -> context.Context | None:
    """The caller's trace context, parsed only when the request carries a traceparent."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"traceparent", b"tracestate")
    }
    return propagate.extract(carrier) if "traceparent" in carrier else None
