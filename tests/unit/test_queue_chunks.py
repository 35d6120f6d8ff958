"""How the relay cuts one poll's rows into messages (signup_core.queue.chunks)."""

from __future__ import annotations

import pytest

from signup_core.queue import CHUNK, chunks


@pytest.mark.parametrize(
    ("rows", "hands", "sizes"),
    [
        (10, 8, [2] * 5),  # a quiet poll: side by side, not ten in one thread
        (3, 8, [1] * 3),
        (25, 4, [7, 7, 7, 4]),
        (200, 8, [CHUNK] * 20),  # a busy poll: full chunks, the cheapest a mail
        (81, 8, [CHUNK] * 8 + [1]),
        (5, 0, [5]),  # no hands told: one message, as ever
        (0, 8, []),
    ],
)
def test_rows_are_spread_over_the_hands_in_chunks_of_at_most_chunk(rows, hands, sizes):
    ids = list(range(100, 100 + rows))
    made = chunks(ids, hands)
    assert [len(c) for c in made] == sizes
    assert [i for c in made for i in c] == ids  # each row once, in order
