"""The edge middleware's timeout for each chunk of a request body: a late chunk is a 408, any
other cancellation goes on as it came, and nothing is left pending after a chunk in time."""

from __future__ import annotations

import asyncio

import pytest

from signup_api import middleware
from signup_api.problems import Problem

CHUNK = {"type": "http.request", "body": b"x", "more_body": False}


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setattr(middleware, "BODY_TIMEOUT", 0.05)


async def test_a_chunk_that_does_not_come_is_a_408():
    async def stalled() -> dict:
        await asyncio.Event().wait()
        return CHUNK

    with pytest.raises(Problem) as caught:
        await middleware._timed(stalled)()
    assert caught.value.status == 408 and caught.value.slug == "body-timeout"
    assert asyncio.current_task().cancelling() == 0  # our cancellation was withdrawn


async def test_a_chunk_in_time_leaves_nothing_pending():
    async def quick() -> dict:
        await asyncio.sleep(0)
        return CHUNK

    assert await middleware._timed(quick)() == CHUNK
    await asyncio.sleep(0.1)  # past BODY_TIMEOUT: the timer was cancelled with the chunk
    assert asyncio.current_task().cancelling() == 0


async def test_a_cancellation_from_elsewhere_is_not_a_408():
    waiting = asyncio.Event()

    async def stalled() -> dict:
        waiting.set()
        await asyncio.Event().wait()
        return CHUNK

    task = asyncio.ensure_future(middleware._timed(stalled)())
    await waiting.wait()
    task.cancel()  # as the server does when the client goes away
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_timeout_inside_receive_is_a_408_as_before():
    async def times_out() -> dict:
        raise TimeoutError

    with pytest.raises(Problem) as caught:
        await middleware._timed(times_out)()
    assert caught.value.status == 408


async def test_after_the_last_chunk_receive_is_called_as_it_is():
    calls = []

    async def receive() -> dict:
        calls.append(len(calls))
        if len(calls) > 1:
            await asyncio.sleep(0.1)  # longer than BODY_TIMEOUT: no timeout after the body
            return {"type": "http.disconnect"}
        return CHUNK

    timed = middleware._timed(receive)
    assert await timed() == CHUNK
    assert await timed() == {"type": "http.disconnect"}
