"""Which queue messages Dramatiq's Redis broker still holds, read from its own keys.

The broker keeps every message's body in a hash per queue (`<ns>:<queue>.msgs`) from enqueue
until it is acknowledged; a message waiting for a retry sits in the delay queue's hash
(`<ns>:<queue>.DQ.msgs`), and one in a worker's hands stays in the hash until acked, and goes
back to its queue if that worker dies. So a message in neither hash is gone: acknowledged, dead-
lettered, or lost with Redis. A test drills this against the installed Dramatiq.
"""

from __future__ import annotations

from collections.abc import Iterable

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name


def held(broker: RedisBroker, queue: str, message_ids: Iterable[str]) -> set[str]:
    """The subset of message_ids that the broker still holds for the queue."""
    ids = sorted(message_ids)
    if not ids:
        return set()
    hashes = [f"{broker.namespace}:{name}.msgs" for name in (queue, dq_name(queue))]
    pipe = broker.client.pipeline(transaction=False)
    for key in hashes:
        pipe.hmget(key, ids)
    found: set[str] = set()
    for values in pipe.execute():
        found.update(i for i, value in zip(ids, values, strict=True) if value is not None)
    return found
