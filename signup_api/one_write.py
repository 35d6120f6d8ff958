"""A response in one write to the socket.

uvicorn writes a response's head (at `http.response.start`) and its body in two calls to the
transport: two system calls, and two TCP segments the client has to wake up for. Under load
those writes were the API's largest single cost (~64 µs of its ~450 µs a signup, py-spy of
the served API under wrk). Every answer of ours sends its body in the same turn of the event
loop as its head, so the head is held until the body follows and both go out in one write.
A head still held at the end of the turn (a streamed answer whose body comes later) is written
then, and before a close.
"""

from __future__ import annotations

import asyncio


class OneWrite:
    """The transport as one request's response cycle sees it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None  # None: nothing written yet; b"": passing through

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = data
            self._loop.call_soon(self._release)
        elif held:
            self._held = b""
            self._transport.write(held + data)
        else:
            self._transport.write(data)

    def _release(self) -> None:
        held, self._held = self._held, b""
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)
