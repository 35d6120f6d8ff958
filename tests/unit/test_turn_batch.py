"""The batching base itself, with a store of its own (a list): a batch sent early by the caller
that filled it must not leave the other callers, or that caller's own call, to nobody when the
send fails in a way `_send` does not settle. The stores' batchers are tested on Redis and
PostgreSQL (tests/integration/test_coalesce.py, test_signup_batch.py)."""

from __future__ import annotations

import asyncio

from signup_api.turn_batch import SEND_AT, SenderCancelled, TurnBatcher


class Broken(TurnBatcher[int]):
    """Raises out of `_send` for the first batch (a fault of ours), answers the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[list[int]] = []

    async def __call__(self, n: int) -> int:
        return await self._call(n)

    async def _send(self, batch) -> None:
        self.sent.append([n for n, _ in batch])
        if len(self.sent) == 1:
            raise RuntimeError("a fault of ours")
        for n, future in batch:
            future.set_result(n)


async def test_a_send_that_raises_fails_the_others_instead_of_leaving_them_waiting():
    batcher = Broken()
    n = SEND_AT + 2
    answers = await asyncio.wait_for(
        asyncio.gather(*(batcher(i) for i in range(n)), return_exceptions=True), 2
    )
    # The caller that filled the batch gets the fault; the others of its batch an answer they
    # know (an OSError), and the calls after it their own batch's result
    assert batcher.sent == [list(range(SEND_AT)), [SEND_AT, SEND_AT + 1]]
    assert isinstance(answers[SEND_AT - 1], RuntimeError)
    assert all(isinstance(a, SenderCancelled) for a in answers[: SEND_AT - 1])
    assert answers[SEND_AT:] == [SEND_AT, SEND_AT + 1]
