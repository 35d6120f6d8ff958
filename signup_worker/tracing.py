"""Trace context through the queue: the relay puts it in each message's options, and this
middleware makes a consumer span of the message current while its actor runs.

The actors' coroutines run on the AsyncIO middleware's loop thread, but the task is created
from a copy of the worker thread's context, so what is attached here is current there too.
"""

from __future__ import annotations

import contextvars
from typing import Any

from dramatiq import Middleware
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

# The W3C traceparent of each row a message carries, in the order of its ids.
ROW_TRACEPARENTS: contextvars.ContextVar[dict[int, str] | None] = contextvars.ContextVar(
    "row_traceparents", default=None
)


def options_for(ids: list[int], parents: dict[int, str | None]) -> dict[str, Any]:
    """Message options carrying the current (relay) span and each row's request traceparent."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {"trace": carrier, "traceparents": [parents.get(i) for i in ids]}


class Tracing(Middleware):
    """Only installed when tracing is on."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[Any, object, contextvars.Token]] = {}

    def before_process_message(self, broker, message) -> None:
        parent = propagate.extract(message.options.get("trace") or {})
        span = trace.get_tracer("signup").start_span(
            f"{message.actor_name} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "dramatiq",
                "messaging.destination.name": message.queue_name,
                "messaging.message.id": message.message_id,
            },
        )
        ids = message.args[0] if message.args else []
        parents = message.options.get("traceparents") or []
        rows = ROW_TRACEPARENTS.set({i: p for i, p in zip(ids, parents, strict=False) if p})
        self._open[message.message_id] = (
            span,
            context.attach(trace.set_span_in_context(span)),
            rows,
        )

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        opened = self._open.pop(message.message_id, None)
        if opened is None:
            return
        span, token, rows = opened
        if exception is not None:
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        ROW_TRACEPARENTS.reset(rows)
        context.detach(token)
        span.end()

    after_skip_message = after_process_message
