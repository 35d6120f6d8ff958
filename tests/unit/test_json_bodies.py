"""The one JSON loader for outside bodies: what it refuses and what it keeps exact."""

from __future__ import annotations

import pytest

from signup_core.json_bodies import MAX_DEPTH, MalformedJSON, loads


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1500 + b"]" * 1500,  # RecursionError in the C scanner
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),  # deep enough to crash later walks
        b'{"a": ' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
        b'{"name": "\\ud800"}',  # a lone surrogate escape
        b'{"\\udfff": 1}',  # ... as a key
        b'["ok", ["\\ud83d"]]',
        b'{"name": "\xed\xa0\x80"}',  # an encoded surrogate: not UTF-8
        b"\xff",
        '{"name": "\ud800"}',  # text with a surrogate
        b"NaN",
        b'{"n": Infinity}',
        b"1" * 5000,  # beyond int's digit limit
        b"",
        b"\xef\xbb\xbf{}",  # a byte order mark
    ],
)
def test_refused(raw):
    with pytest.raises(MalformedJSON):
        loads(raw)


def test_kept():
    assert loads(b'{"a": "\\ud83d\\ude00", "id": 9007199254740993}') == {
        "a": "\U0001f600",
        "id": 9007199254740993,
    }
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert loads(nested) is not None
