"""Redis replies are parsed by hiredis (C), not redis-py's pure-Python parser: the rate
limiter's call on every signup cost ~38 µs of CPU with the Python parser, ~20 µs with hiredis
(32 concurrent callers through the limiter's pipeline, 2026-12-07)."""

from __future__ import annotations

from redis._parsers import _AsyncHiredisParser

from signup_core import redis_client


def test_the_async_client_parses_with_hiredis():
    client = redis_client.async_client("redis://127.0.0.1:1/0")
    connection = client.connection_pool.make_connection()
    assert isinstance(connection._parser, _AsyncHiredisParser)
