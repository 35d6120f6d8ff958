"""Runs one Lua script for many concurrent callers in one pipelined Redis round trip.

Every signup runs the rate-limit script once. redis-py's asyncio client spends far more of our
CPU per command than Redis does running the script: a pooled connection taken and given back,
a write, a read, the task wake-ups around each. Calls made in the same turn of the event loop
are sent together as one pipeline, up to sixteen at a time (signup_api/turn_batch.py), so
those costs are paid once per batch, not once per signup.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import NoScriptError

from signup_api.turn_batch import Call, TurnBatcher, aborted, fail

Script = tuple[Sequence[str], Sequence[str | int]]


class ScriptBatcher(TurnBatcher[Script]):
    def __init__(self, client: redis.Redis, source: str, timeout: float | None = None) -> None:
        super().__init__()
        self._client = client
        self._source = source
        # Bounds each batch, not only each caller's wait: the client has no socket timeout,
        # and a batch stuck on a silent Redis would otherwise hold its connection for good.
        self._timeout = timeout
        # Redis names a script by its SHA-1; nothing here relies on SHA-1 being unbroken.
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int]):
        """The script's result for these keys and args; raises what Redis or the link raised."""
        return await self._call((keys, args))

    async def _send(self, batch: list[Call]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                results = await self._batch(batch)
        except asyncio.CancelledError:
            aborted(batch)
            raise
        except Exception as e:  # every waiting caller gets the failure, whatever it is
            fail(batch, e)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller gave up (timed out) meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _batch(self, batch: list[Call]) -> list:
        results = await self._run(batch)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # Redis restarted or its scripts were flushed: load once and run those again.
            # Nothing ran for a NoScriptError, so nothing is counted twice.
            await self._client.script_load(self._source)
            again = await self._run([batch[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _run(self, batch: list[Call]) -> list:
        async with self._client.pipeline(transaction=False) as pipe:
            for (keys, args), _ in batch:
                pipe.execute_command("EVALSHA", self._sha, len(keys), *keys, *args)
            return await pipe.execute(raise_on_error=False)
