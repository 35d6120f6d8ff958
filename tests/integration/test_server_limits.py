"""The served API against clients that misbehave at the HTTP level, through a real uvicorn with
signup-api's configuration and raw sockets: headers too large or too slow, a body that stalls,
a client that leaves mid-body. And the headers every JSON answer carries."""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from devstack.processes import free_port
from signup_api import middleware, server
from signup_api.app import create_app
from tests.support import eventually

SIGNUP_HEAD = (
    b"POST /signup HTTP/1.1\r\nHost: signup.test\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
)


@pytest.fixture
def served(settings, monkeypatch):
    """signup-api's uvicorn configuration on a free port, with short timeouts."""
    monkeypatch.setattr(middleware, "BODY_TIMEOUT", 0.3)
    monkeypatch.setattr(server, "HEADER_TIMEOUT", 0.3)
    with _serve(settings) as port:
        yield port


@contextlib.contextmanager
def _serve(settings) -> Iterator[int]:
    here = settings.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    uv = uvicorn.Server(server.config(create_app(here), here))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        while not uv.started:
            thread.join(0.02)
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
        yield here.port
    finally:
        uv.should_exit = True
        thread.join(10)


def converse(port: int, *parts: bytes) -> bytes:
    """Sends `parts`, then reads until the server closes (or 10 s pass: a hang fails)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for part in parts:
            s.sendall(part)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return received


async def test_a_stalled_body_is_answered_408_and_closed(served, caplog):
    answer = converse(served, SIGNUP_HEAD + b'{"email": ')
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"application/problem+json" in answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_headers_that_stall_are_answered_408(served):
    answer = converse(served, b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\nX-A: ")
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_headers_over_the_limit_are_answered_431(served):
    big = b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\nX-Big: " + b"a" * 40_000 + b"\r\n"
    assert converse(served, big).startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize("size", [16_500, 40_000, 300_000])
async def test_a_whole_oversized_head_in_one_write_is_answered_431(served, size):
    head = b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    answer = converse(served, head)  # the head ends in the same write
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert b"application/problem+json" in answer


async def test_many_small_headers_over_the_limit_in_one_write_are_answered_431(served):
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 60) for i in range(400))  # ~28 KiB
    answer = converse(served, b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]


async def test_an_oversized_head_pipelined_behind_a_good_request_is_not_served(served):
    small = b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\n\r\n"
    big = b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    answer = converse(served, small + big)
    assert answer.count(b"HTTP/1.1 200 ") <= 1  # the first may be answered; the second never


async def test_keep_alive_requests_under_the_limits_are_served(served):
    one = b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: signup.test\r\nConnection: close\r\n\r\n"
    answer = converse(served, one, one, last)
    assert answer.count(b"HTTP/1.1 200 ") == 3


async def test_a_client_leaving_mid_body_is_logged_as_a_disconnect(served, caplog):
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", served), timeout=10) as s:
        s.sendall(SIGNUP_HEAD + b'{"email": ')

    def logged() -> list:
        return [r for r in caplog.records if r.name == "signup_api.access"]

    [line] = await eventually(logged)
    assert line.status == middleware.DISCONNECTED
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_json_answers_are_neither_sniffed_nor_cached(client):
    accepted = await client.post("/signup", json={"email": "reader@example.com"})
    problem = await client.post("/signup", json={"email": "not an address"})
    for response in (accepted, problem):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    page = await client.get("/")
    assert page.headers.get_list("x-content-type-options") == ["nosniff"]  # not twice


class Counting:
    """The connection's transport, keeping the size of every write that reaches it."""

    def __init__(self, transport, writes: list[int]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(len(data))
        self._transport.write(data)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


async def test_an_answer_leaves_in_one_write(settings, monkeypatch):
    # uvicorn writes a head and a body in two calls: two system calls, two TCP segments
    writes: list[int] = []
    made = server.GuardedHttp.connection_made
    monkeypatch.setattr(
        server.GuardedHttp, "connection_made", lambda self, t: made(self, Counting(t, writes))
    )
    with _serve(settings) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(3):  # kept alive: each answer in one write
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read()
        connection.close()
    assert len(writes) == 3
