"""A response's head waits for its body, so both leave in one write; a head whose body does not
follow in the same turn of the loop is written at the end of it, and nothing is held past a
close."""

from __future__ import annotations

import asyncio

from signup_api.one_write import OneWrite


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_head_and_body_leave_together_and_the_rest_passes_through():
    transport = Recording()
    one = OneWrite(transport, asyncio.get_running_loop())
    one.write(b"HEAD")
    assert transport.writes == []
    one.write(b"body")
    one.write(b"more")
    await asyncio.sleep(0)
    assert transport.writes == [b"HEADbody", b"more"]


async def test_a_head_whose_body_comes_later_is_written_at_the_end_of_the_turn():
    transport = Recording()
    one = OneWrite(transport, asyncio.get_running_loop())
    one.write(b"HEAD")
    await asyncio.sleep(0)
    assert transport.writes == [b"HEAD"]
    one.write(b"body")
    assert transport.writes == [b"HEAD", b"body"]


async def test_close_writes_what_is_held_first():
    transport = Recording()
    one = OneWrite(transport, asyncio.get_running_loop())
    one.write(b"HEAD")
    one.close()
    assert transport.writes == [b"HEAD"] and transport.closed
    await asyncio.sleep(0)
    assert transport.writes == [b"HEAD"]
