"""Which queue messages Dramatiq's Redis broker still holds for a live worker, read from its own
keys.

The broker keeps every message's body in a hash per queue (`<ns>:<queue>.msgs`) from enqueue
until it is acknowledged; a message waiting for a retry sits in the delay queue's hash
(`<ns>:<queue>.DQ.msgs`). A message in neither hash is gone: acknowledged, dead-lettered, or
lost with Redis.

A message a worker has fetched stays in the hash, and its id in that worker's ack set
(`<ns>:__acks__.<worker>.<queue>`), until acknowledged. When the worker dies, Dramatiq moves
those back to the queue only during its "maintenance", which runs on a random 1 in 1,000 of the
broker's commands once the worker's heartbeat (`<ns>:__heartbeats__`, a sorted set of
milliseconds) is older than the heartbeat timeout: minutes on a quiet queue. So a message in
a dead worker's ack set counts as not held, and its row goes back to the relay; if maintenance
requeues the old message later, the actor finds its row done and skips it. A test drills this
against the installed Dramatiq.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name


def held(broker: RedisBroker, queue: str, message_ids: Iterable[str]) -> set[str]:
    """The subset of message_ids that the broker still holds for the queue, other than those in
    the hands of a worker whose heartbeat stopped."""
    ids = sorted(message_ids)
    if not ids:
        return set()
    queues = (queue, dq_name(queue))
    pipe = broker.client.pipeline(transaction=False)
    for name in queues:
        pipe.hmget(f"{broker.namespace}:{name}.msgs", ids)
    found: set[str] = set()
    for values in pipe.execute():
        found.update(i for i, value in zip(ids, values, strict=True) if value is not None)
    return found - orphaned(broker, queues) if found else found


def orphaned(broker: RedisBroker, queues: Iterable[str]) -> set[str]:
    """Ids of messages fetched by workers whose last heartbeat is older than the timeout."""
    client = broker.client
    cutoff = int(time.time() * 1000) - broker.heartbeat_timeout
    dead = client.zrangebyscore(f"{broker.namespace}:__heartbeats__", 0, cutoff)
    if not dead:
        return set()
    pipe = client.pipeline(transaction=False)
    for worker in dead:
        for name in queues:
            pipe.smembers(f"{broker.namespace}:__acks__.{worker.decode()}.{name}")
    return {m.decode() for members in pipe.execute() for m in members}
