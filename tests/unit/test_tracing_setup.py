"""Tracing as `configure` sets it up in a process of its own (it installs the global tracer
provider once): the console exporter writes one JSON object a line, as the JSON log does, and
the worker's pollers start no trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROGRAM = """
import types
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from signup_core import tracing

tracing.configure(types.SimpleNamespace(traces_exporter="console", service_name="t"), "worker")
tracer = trace.get_tracer("test")
tracer.start_span("BLPOP", kind=SpanKind.CLIENT).end()  # a poller's call, outside our spans
with tracer.start_as_current_span("mailer.deliver", kind=SpanKind.CONSUMER):
    tracer.start_span("SELECT", kind=SpanKind.CLIENT).end()
tracing.flush()
"""


def test_the_console_exporter_writes_a_span_a_line_and_no_pollers_call():
    quiet = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}  # the defaults
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=quiet, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    spans = [json.loads(line) for line in done.stdout.splitlines()]  # each line one object
    assert [s["name"] for s in spans] == ["SELECT", "mailer.deliver"]
