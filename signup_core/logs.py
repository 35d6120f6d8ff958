"""JSON log lines with the current request id and, inside a span, its trace and span ids;
callers pass only non-personal fields. For a developer's terminal (`make run`), short console
lines instead."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import sys
import threading
import time
from json.encoder import encode_basestring_ascii  # what json.dumps uses for str (ensure_ascii)

from opentelemetry import trace

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else came from `extra=` and is emitted as a field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_ENCODER = json.JSONEncoder(default=str)  # json.dumps(default=...) builds one per call


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Every request writes one (the access log), so this is kept
    cheap: the timestamp's seconds are formatted once per second, extras found by set difference."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        if record.__class__ is AccessRecord and not record.exc_info:
            return self._access_line(record)
        line = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        fields = record.__dict__
        for key in fields.keys() - _STANDARD:
            if not key.startswith("_"):
                line[key] = fields[key]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)

    def _access_line(self, r: AccessRecord) -> str:
        return self.access_line(r.created, r.method, r.path, r.status, r.duration_ms)

    def access_line(
        self, created: float, method: str, path: str, status: int, duration_ms: float
    ) -> str:
        """The access line, written directly: the same object format() makes of its record
        (the same keys, values and separators), in ~1/4 of its CPU: no dict, no scan of the
        record for extras, no general JSON encoder (tests/unit/test_logs.py compares them)."""
        line = f'{{"ts": "{self._timestamp(created)}"{_ACCESS_HEAD}'
        rid = request_id.get()
        if rid:
            line += f', "request_id": {encode_basestring_ascii(rid)}'
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line += f', "trace_id": "{span.trace_id:032x}", "span_id": "{span.span_id:016x}"'
        return (
            f'{line}, "method": {encode_basestring_ascii(method)}, '
            f'"path": {encode_basestring_ascii(path)}, "status": {status:d}, '
            f'"duration_ms": {float.__repr__(duration_ms)}}}'
        )


class ConsoleFormatter(logging.Formatter):
    """One short line per record for a developer's terminal: local time, process, the level
    when it is not info, the message, a few extras and, inside a span, its trace id. Of the
    extras only numbers, booleans and the text fields named in _CONSOLE_TEXT are shown: free
    text such as a relay's `failure` reply can quote an address, and a field added later stays
    out until it is listed here."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = f"{process:<6}"

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = "" if record.levelno == logging.INFO else f"{record.levelname} "
        fields = record.__dict__
        if record.name == ACCESS_LOGGER:
            message = (
                f"{fields.get('method')} {_short(fields.get('path'))} {fields.get('status')}"
                f" {fields.get('duration_ms')}ms"
            )
        else:
            shown = (
                f"{key}={_short(value)}"
                for key, value in sorted(fields.items())
                if key not in _STANDARD and _console_safe(key, value)
            )
            message = " ".join((record.getMessage(), *shown))
        line = f"{stamp} {self._process} {level}{message}"
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # tracing on: the request's or row's trace (exported if sampled)
            line += f" trace_id={span.trace_id:032x}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


ACCESS_LOGGER = "signup_api.access"
_ACCESS_HEAD = f', "level": "info", "logger": "{ACCESS_LOGGER}", "msg": "request"'


class AccessRecord(logging.LogRecord):
    """The record of one access line: method, path, status and duration_ms as its extras, as
    `log.info("request", extra=...)` made it. Made without LogRecord.__init__ (its file-name
    parsing and look-ups were ~1/5 of the line's CPU): the standard attributes are copied
    from one record made the usual way; the time, thread and process are its own. Like every
    record under configure(), it names no caller's file and line."""

    _template: dict | None = None

    def __init__(self, method: str, path: str, status: int, duration_ms: float) -> None:
        template = AccessRecord._template
        if template is None:
            made = logging.LogRecord(
                ACCESS_LOGGER,
                logging.INFO,
                "(unknown file)",
                0,
                "request",
                (),
                None,
                "(unknown function)",  # what Logger._log passes when it does not look
            )
            template = AccessRecord._template = made.__dict__
        self.__dict__.update(template)
        created = time.time()
        self.created = created
        self.msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord's
        self.relativeCreated = (created - logging._startTime) * 1000
        self.thread = threading.get_ident() if logging.logThreads else None
        self.threadName = threading.current_thread().name if logging.logThreads else None
        self.process = os.getpid() if logging.logProcesses else None
        self.method = method
        self.path = path
        self.status = status
        self.duration_ms = duration_ms


def log_access(method: str, path: str, status: int, duration_ms: float) -> None:
    """The access log line for one request (the path without its query: that carries tokens).

    As the API configures logging (configure(per_turn=True): one handler, JSON, no filters),
    the line goes straight to that handler: the same line, without a record or logging's
    dispatch, which were ~2/3 of the line's ~40 µs. Any other set-up (a test's capture, a
    filter, another handler) gets the record the usual way."""
    if not _access_log.isEnabledFor(logging.INFO):
        return
    direct = _direct
    if (
        direct is not None
        and _root.handlers == [direct]
        and not (_access_log.handlers or _access_log.filters or _root.filters or direct.filters)
        and _access_log.propagate
        and direct.level <= logging.INFO
    ):
        direct.access(method, path, status, duration_ms)
    else:
        _access_log.handle(AccessRecord(method, path, status, duration_ms))


_access_log = logging.getLogger(ACCESS_LOGGER)
_root = logging.getLogger()
_direct: TurnHandler | None = None  # the handler configure() installed, when it takes lines
# Text extras whose values come from a bounded set or from us (a route, an exception's type).
_CONSOLE_TEXT = frozenset(
    {"method", "path", "kind", "outcome", "provider", "reason", "error", "queue", "at", "limit"}
)


def _console_safe(key: str, value: object) -> bool:
    if key.startswith("_"):
        return False
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(isinstance(v, int) for v in value)
    return isinstance(value, str) and key in _CONSOLE_TEXT


def _short(value: object, limit: int = 48) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TurnHandler(logging.StreamHandler):
    """A stream handler that writes the lines logged in one turn of the event loop with one
    write, at the end of the turn, instead of one write (a system call) per line.

    The API logs a line per request, and stderr is line-buffered: a system call per line. At
    16 lines a turn this took a line from ~25 to ~21 µs of CPU into a pipe (as under a
    container runtime) and from ~22 to ~19 µs into a file, on the shared 2-core machine
    (2026-12-07): about 1 % of a signup. Lines keep their order; a line logged outside the
    loop's thread, or at WARNING and above, is written at once with every line before it;
    logging.shutdown flushes the rest. At most one turn's lines (a few ms) are lost if the
    process is killed."""

    def __init__(self, stream=None) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._scheduled_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._add(line, record.levelno)  # under the handler's lock (Handler.handle holds it)

    def access(self, method: str, path: str, status: int, duration_ms: float) -> None:
        """An access line (INFO), made by the JSON formatter without a record."""
        line = self.formatter.access_line(time.time(), method, path, status, duration_ms)
        with self.lock:
            self._add(line, logging.INFO)

    def _add(self, line: str, level: int) -> None:
        self._lines.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or level >= logging.WARNING:
            self._write()
        elif self._scheduled_on is not loop:  # (a loop that stopped first left it set)
            self._scheduled_on = loop
            loop.call_soon(self._end_of_turn, context=contextvars.Context())

    def _end_of_turn(self) -> None:
        with self.lock:
            self._scheduled_on = None
            self._write()

    def flush(self) -> None:
        with self.lock:
            self._write()

    def _write(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except Exception:
            # As logging.Handler.handleError would: a lost line must not break a request.
            if logging.raiseExceptions:
                sys.stderr.write("--- logging error: lines could not be written ---\n")


def configure(
    level: str = "INFO", fmt: str = "json", process: str = "", per_turn: bool = False
) -> None:
    """Send every logger's records to stderr: JSON lines, or console lines naming `process`.
    With `per_turn`, one write per event-loop turn (TurnHandler), for the API's request path."""
    # None of these fields is printed; skipping them is logging's documented optimisation,
    # and findCaller's stack walk was the largest single cost of an access-log line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _direct
    handler = TurnHandler(sys.stderr) if per_turn else logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter(process) if fmt == "console" else JsonFormatter())
    _direct = handler if per_turn and fmt != "console" else None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints query strings, and /confirm carries a token there.
    logging.getLogger("uvicorn.access").disabled = True
