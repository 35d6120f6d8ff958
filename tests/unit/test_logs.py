"""The JSON log line: its fixed fields, the request id, extras, and the cached timestamp; the
console line `make run` shows instead."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from opentelemetry import trace

from signup_core.logs import (
    ACCESS_LOGGER,
    AccessRecord,
    ConsoleFormatter,
    JsonFormatter,
    TurnHandler,
    log_access,
    request_id,
)


def record(created: float, **extra) -> logging.LogRecord:
    r = logging.makeLogRecord({"name": "t", "levelno": 20, "levelname": "INFO", "msg": "hi %s"})
    r.args = ("there",)
    r.created, r.msecs = created, (created % 1) * 1000
    r.__dict__.update(extra)
    return r


def test_a_line_has_the_fixed_fields_the_extras_and_no_private_attributes():
    line = json.loads(JsonFormatter().format(record(0.25, status=202, _hidden=1)))
    assert line == {
        "ts": "1970-01-01T00:00:00.250Z",
        "level": "info",
        "logger": "t",
        "msg": "hi there",
        "status": 202,
    }


def test_the_timestamp_follows_the_clock_across_seconds():
    f = JsonFormatter()
    stamps = [json.loads(f.format(record(t)))["ts"] for t in (59.999, 60.0, 60.5, 3600.001)]
    assert stamps == [
        "1970-01-01T00:00:59.999Z",
        "1970-01-01T00:01:00.000Z",
        "1970-01-01T00:01:00.500Z",
        "1970-01-01T01:00:00.001Z",
    ]


def test_the_request_id_is_added_when_set():
    token = request_id.set("abc")
    try:
        assert json.loads(JsonFormatter().format(record(1.0)))["request_id"] == "abc"
    finally:
        request_id.reset(token)


def test_values_json_cannot_encode_are_written_as_text():
    line = json.loads(JsonFormatter().format(record(1.0, path=object)))
    assert line["path"] == str(object)


# The console lines `make run` shows (SIGNUP_LOG_FORMAT=console).


def console(**extra) -> str:
    return ConsoleFormatter("worker").format(record(0.0, **extra))


def test_a_console_line_is_time_process_message_and_the_safe_extras():
    line = console(kind="confirmation", outbox_id=7, ids=[1, 2], changed=True)
    stamp = time.strftime("%H:%M:%S", time.localtime(0.0))
    assert line == f"{stamp} worker hi there changed=True ids=[1, 2] kind=confirmation outbox_id=7"


@pytest.mark.parametrize(
    "extra",
    [
        # A relay's reply quotes the recipient; a key subject, a URL: free text, never shown.
        {"failure": "550 5.1.1 <someone@example.com>: mailbox unavailable"},
        {"subject": "someone@example.com"},
        {"url": "http://x/confirm?token=secret"},
        {"key_ids": ["someone@example.com"]},
        {"color_message": "\033[36m%d\033[0m"},
        {"_private": 1},
    ],
)
def test_a_console_line_leaves_out_free_text_extras_that_could_carry_personal_data(extra):
    line = console(**extra)
    assert line.endswith(" worker hi there")
    assert "example.com" not in line and "secret" not in line


def test_the_json_line_still_carries_every_extra():
    failure = "550 5.1.1 mailbox unavailable"
    assert json.loads(JsonFormatter().format(record(0.0, failure=failure)))["failure"] == failure


def test_the_console_level_is_shown_only_when_it_is_not_info():
    warning = record(0.0, reason="smtp 451")
    warning.levelno, warning.levelname = logging.WARNING, "WARNING"
    line = ConsoleFormatter("api").format(warning)
    assert line.endswith(" api    WARNING hi there reason=smtp 451")


def test_the_console_access_line_is_method_path_status_and_time():
    r = record(0.0, method="POST", path="/signup", status=303, duration_ms=9.95)
    r.name = ACCESS_LOGGER
    assert ConsoleFormatter("api").format(r).endswith(" api    POST /signup 303 9.95ms")


def test_long_console_values_are_cut():
    line = console(path="/" + "a" * 200)
    assert len(line) < 100 and line.endswith("…")


class Writes:
    """A stream that keeps each write apart, to count them."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None: ...


def turn_logger(stream: Writes) -> tuple[logging.Logger, TurnHandler]:
    handler = TurnHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.Logger("turns")
    logger.addHandler(handler)
    return logger, handler


async def test_the_lines_of_one_loop_turn_are_one_write_at_its_end_in_order():
    stream = Writes()
    logger, _ = turn_logger(stream)
    for n in range(20):
        logger.info("request %d", n)
    assert stream.writes == []  # nothing yet: the turn is not over
    await asyncio.sleep(0)
    assert stream.writes == ["".join(f"request {n}\n" for n in range(20))]
    logger.info("next turn")
    await asyncio.sleep(0)
    assert stream.writes[1:] == ["next turn\n"]


async def test_a_warning_is_written_at_once_with_every_line_before_it():
    stream = Writes()
    logger, _ = turn_logger(stream)
    logger.info("first")
    logger.warning("database unavailable")
    assert stream.writes == ["first\ndatabase unavailable\n"]
    await asyncio.sleep(0)
    assert len(stream.writes) == 1


def test_outside_a_loop_a_line_is_written_at_once_and_flush_leaves_nothing_behind():
    stream = Writes()
    logger, handler = turn_logger(stream)
    logger.info("at start-up")
    assert stream.writes == ["at start-up\n"]
    handler._lines.append("left over")  # as a turn the loop never finished would leave it
    handler.flush()  # what logging.shutdown calls at exit
    assert stream.writes == ["at start-up\n", "left over\n"]


async def test_a_new_loop_after_one_that_stopped_mid_turn_still_gets_its_lines_written():
    stream = Writes()
    logger, handler = turn_logger(stream)
    handler._scheduled_on = object()  # a loop that stopped before its flush ran
    logger.info("on this loop")
    await asyncio.sleep(0)
    assert stream.writes == ["on this loop\n"]


# The access line: its own record and a direct writer, the same line as the general path.


def _general(record: logging.LogRecord) -> dict:
    """The line format() makes of the same fields on a plain record (its general path)."""
    return json.loads(JsonFormatter().format(logging.makeLogRecord(record.__dict__)))


@pytest.mark.parametrize(
    ("method", "path", "status", "duration_ms"),
    [
        ("POST", "/signup", 202, 1.23),
        ("GET", "/confirm", 499, 0.0),
        ("GET", '/a"b\\c\n\x00\x7f', 404, 12345.67),  # quotes, escapes, controls
        ("PATCH", "/stra\u00dfe/\u2028\U0001f600", 500, 1e-05),  # non-ASCII, a line separator
        ("M\u00e9THOD", "/", 100, 3.0),
    ],
)
@pytest.mark.parametrize("rid", [None, "abc", 'we"ird\\'])
def test_the_access_line_is_the_line_the_general_path_writes(
    method, path, status, duration_ms, rid
):
    record = AccessRecord(method, path, status, duration_ms)
    token = request_id.set(rid)
    try:
        fast = JsonFormatter().format(record)
        assert json.dumps(json.loads(fast)) == fast  # json.dumps's separators and escapes
        assert json.loads(fast) == _general(record)
    finally:
        request_id.reset(token)


def test_the_access_line_carries_the_span_it_was_written_in():
    context = trace.SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=trace.TraceFlags(1))
    with trace.use_span(trace.NonRecordingSpan(context)):
        record = AccessRecord("POST", "/signup", 202, 1.5)
        line = json.loads(JsonFormatter().format(record))
        assert line == _general(record)
    assert line["trace_id"] == f"{0xABC:032x}" and line["span_id"] == f"{0xDEF:016x}"


def test_an_access_record_is_the_record_log_info_made(caplog, monkeypatch):
    """Every attribute a handler or formatter may read, as `log.info(..., extra=)` set it
    under the API's logging configuration (no caller's file and line: configure())."""
    monkeypatch.setattr(logging, "_srcfile", None)
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    logger = logging.getLogger(ACCESS_LOGGER)
    extra = {"method": "GET", "path": "/thanks", "status": 200, "duration_ms": 0.5}
    logger.info("request", extra=extra)
    log_access(*extra.values())
    old, new = caplog.records
    assert type(new) is AccessRecord and new.__dict__.keys() == old.__dict__.keys()
    timing = {"created", "msecs", "relativeCreated"}
    assert {k: v for k, v in new.__dict__.items() if k not in timing} == {
        k: v for k, v in old.__dict__.items() if k not in timing
    }
    assert 0 <= new.created - old.created < 5 and new.getMessage() == "request"
    assert new.msecs == int((new.created % 1) * 1000)


def test_no_access_record_is_made_when_the_access_log_is_off(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.disabled = True
    try:
        log_access("GET", "/", 200, 1.0)
    finally:
        logger.disabled = False
    caplog.set_level(logging.WARNING, logger=ACCESS_LOGGER)
    log_access("GET", "/", 200, 1.0)
    assert caplog.records == []


@pytest.fixture
def api_logging(monkeypatch):
    """Logging as signup-api configures it, its lines kept; the test process's set-up after."""
    from signup_core import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level, logs._direct, logging._srcfile
    logs.configure("INFO", "json", "api", per_turn=True)
    stream = Writes()
    root.handlers[0].setStream(stream)
    yield stream
    root.handlers[:], level, logs._direct, logging._srcfile = saved
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


async def test_the_api_access_line_goes_straight_to_its_handler_unchanged(api_logging, monkeypatch):
    from signup_core import logs

    made: list[AccessRecord] = []

    class Watched(AccessRecord):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(logs, "AccessRecord", Watched)
    root = logging.getLogger()
    pytest_handlers = [h for h in root.handlers if h is not logs._direct]
    for handler in pytest_handlers:  # pytest's own capture, added for the test's call
        root.removeHandler(handler)
    token = request_id.set("r-1")
    try:
        log_access("POST", "/signup", 202, 1.5)
        expected = JsonFormatter().format(AccessRecord("POST", "/signup", 202, 1.5))
    finally:
        request_id.reset(token)
        for handler in pytest_handlers:
            root.addHandler(handler)
    await asyncio.sleep(0)
    [written] = api_logging.writes
    line, wanted = json.loads(written), json.loads(expected)
    assert line.pop("ts")[:4] == wanted.pop("ts")[:4]
    assert line == wanted
    assert made == []  # no record was made for it


def test_with_another_handler_the_access_line_is_a_record_again(api_logging, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    log_access("GET", "/thanks", 200, 0.5)
    [record] = caplog.records
    assert type(record) is AccessRecord and record.path == "/thanks"


def test_a_console_line_inside_a_span_ends_with_its_trace_id():
    span = trace.NonRecordingSpan(
        trace.SpanContext(0xABC, 0xDEF, False, trace.TraceFlags(trace.TraceFlags.SAMPLED))
    )
    with trace.use_span(span):
        line = console()
    assert line.endswith(" hi there trace_id=00000000000000000000000000000abc")
    assert "trace_id" not in console()  # outside a span (and with tracing off): nothing
