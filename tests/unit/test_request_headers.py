"""`header()` answers what Starlette's `request.headers.get()` answers, from one dict a request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.requests import Request

from signup_api.request_headers import header

NAMES = st.sampled_from([b"origin", b"content-type", b"accept-language", b"x-a", b"referer"])
VALUES = st.binary(max_size=20).filter(lambda v: b"\r" not in v and b"\n" not in v)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8), NAMES)
def test_the_same_answer_as_starlettes_headers(raw, asked):
    request = Request({"type": "http", "headers": raw})
    name = asked.decode()
    assert header(request, name) == Headers(raw=raw).get(name)
    assert header(request, name) == Headers(raw=raw).get(name)  # the second from the dict


def test_the_first_of_a_repeated_header_wins_and_a_missing_one_is_none():
    request = Request({"type": "http", "headers": [(b"origin", b"a"), (b"origin", b"b")]})
    assert header(request, "origin") == "a"
    assert header(request, "referer") is None
