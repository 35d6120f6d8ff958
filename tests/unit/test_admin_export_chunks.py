"""The admin API's export body: rows go out a few hundred a chunk, and the export counts as
whole (its generator asked past EXPORT_END) only once the last chunk has been handed to the
server; a client that leaves while that chunk goes out leaves an export that was cut off."""

from __future__ import annotations

from signup_api.admin.routes import _encoded
from signup_core.operations import EXPORT_END


def _export(rows: int, ended: list[str]):
    async def lines():
        try:
            for n in range(rows):
                yield f"row {n}\n"
            yield EXPORT_END
            ended.append("whole")
        except GeneratorExit:
            ended.append("left")
            raise

    return lines()


async def test_the_export_is_whole_once_every_chunk_is_taken():
    ended: list[str] = []
    body = [chunk async for chunk in _encoded(_export(1200, ended))]
    assert [len(chunk.splitlines()) for chunk in body] == [500, 500, 200]
    assert b"".join(body).decode() == "".join(f"row {n}\n" for n in range(1200))
    assert ended == ["whole"]


async def test_a_client_gone_during_the_last_chunk_leaves_an_export_cut_off():
    ended: list[str] = []
    chunks = _encoded(_export(3, ended))
    last = await anext(chunks)  # the only chunk, still being sent when the client goes
    assert last == b"row 0\nrow 1\nrow 2\n"
    await chunks.aclose()
    assert ended == ["left"]
