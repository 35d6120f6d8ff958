"""Dramatiq's Redis broker, with idle consumers that wait to be woken instead of polling.

Dramatiq's Redis consumer has no blocking fetch: an idle one runs the fetch script again after
a backoff of at most the worker timeout. At our 100 ms (signup_worker.cli's POLL_MS, so a mail
after a quiet spell is not held up to a second) a worker process's six consumers (mail, events,
hooks and their delay queues) ran about sixty scripts a second doing nothing: ~5 % of a core
per idle process, and Redis' CPU besides. Here a fetch that finds its queue empty waits on the
queue's wake-up list (BLPOP) for up to IDLE_WAIT, and every enqueue pushes to that list, so an
idle consumer fetches about once a second and a new message is still fetched at once.

Messages that reach a queue without an enqueue (a dead worker's, requeued by the broker's
maintenance; a stopping worker's, requeued) are fetched within IDLE_WAIT.
"""

from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker

# Seconds an idle consumer waits for a wake-up before it fetches again (and so stamps the
# heartbeat that tells the other workers, and /readyz, it is alive).
IDLE_WAIT = 1.0
# Wake-ups kept per queue: enough to wake every consumer of a queue across the processes; the
# rest would only be spurious wake-ups. They expire unless consumed.
KEPT = 32
KEPT_MS = 60_000


class WakeableBroker(RedisBroker):
    def __init__(self, **options) -> None:
        super().__init__(**options)
        # Below the heartbeat timeout with room: a consumer heartbeats only when it fetches.
        self._idle_wait = min(IDLE_WAIT, self.heartbeat_timeout / 1000 / 5)
        self._prefetch: dict[str, int] = {}

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        self._prefetch[queue_name] = prefetch
        return super().consume(queue_name, prefetch, timeout)

    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def do_enqueue(self, queue_name: str, *args):
        result = self._dispatch("enqueue")(queue_name, *args)
        key = self.wake_key(queue_name)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.lpush(key, 1).ltrim(key, 0, KEPT - 1).pexpire(key, KEPT_MS).execute()
        return result

    def do_fetch(self, queue_name: str, prefetch: int):
        fetch = self._dispatch("fetch")
        messages = fetch(queue_name, prefetch)
        # Only a consumer with no message in hand waits (it asks for its whole prefetch): the
        # consumer's thread acks finished messages between fetches, so one waiting with
        # messages out would hold their acks, and its room to fetch more, for the wait.
        idle = prefetch >= self._prefetch.get(queue_name, prefetch + 1)
        if (
            not messages
            and idle
            and self.client.blpop([self.wake_key(queue_name)], self._idle_wait)
        ):
            messages = fetch(queue_name, prefetch)
        return messages
