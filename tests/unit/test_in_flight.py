"""The in-flight gauge, a plain count the edge middleware keeps, read when scraped."""

from __future__ import annotations

import contextlib

from prometheus_client import REGISTRY

from signup_api.middleware import Edge

GAUGE = "signup_http_requests_in_flight"


async def test_the_in_flight_gauge_counts_the_requests_being_answered():
    before = REGISTRY.get_sample_value(GAUGE)
    seen = []

    async def inner(scope, receive, send) -> None:
        seen.append(REGISTRY.get_sample_value(GAUGE))  # as a scrape during the request would
        if scope["path"] == "/fails":
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None: ...

    edge = Edge(inner)
    for path in ("/", "/fails"):
        scope = {"type": "http", "method": "GET", "path": path, "headers": []}
        with contextlib.suppress(RuntimeError):
            await edge(scope, receive, send)
    assert seen == [before + 1, before + 1]
    assert REGISTRY.get_sample_value(GAUGE) == before  # a failed request counted down too
