"""The JSON log line: its fixed fields, the request id, extras, and the cached timestamp."""

from __future__ import annotations

import json
import logging

from signup_core.logs import JsonFormatter, request_id


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
