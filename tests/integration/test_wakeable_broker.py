"""Idle consumers wait to be woken (real Redis, the installed Dramatiq): a fetch on an empty
queue waits for the next enqueue and returns its message, instead of returning nothing for the
consumer to poll again 100 ms later; without an enqueue it waits about a second."""

from __future__ import annotations

import threading
import time
import uuid

import dramatiq
import pytest

from signup_worker.wakeable import KEPT, WakeableBroker


@pytest.fixture
def broker(redis_server):
    made = WakeableBroker(url=redis_server.url, namespace=f"wake-{uuid.uuid4().hex[:8]}")
    actor = dramatiq.Actor(
        lambda ids: None, broker=made, actor_name="send_mail", queue_name="mail", priority=0,
        options={},
    )  # fmt: skip
    made.consume("mail", prefetch=5)  # as a worker's consumer of the queue, taking 5 at a time
    yield made, actor
    made.flush_all()
    made.close()


def test_an_empty_fetch_returns_the_message_enqueued_while_it_waits(broker):
    made, actor = broker
    fetched = []
    waiting = threading.Thread(target=lambda: fetched.append(made.do_fetch("mail", 5)))
    waiting.start()
    time.sleep(0.3)  # the fetch found nothing and waits
    sent = made.enqueue(actor.message([1, 2]))
    waiting.join(timeout=5)
    [messages] = fetched
    assert len(messages) == 1 and sent.options["redis_message_id"].encode() in messages[0]


def test_an_idle_fetch_waits_before_it_answers_nothing(broker):
    made, _ = broker
    started = time.monotonic()
    assert made.do_fetch("mail", 5) == []
    assert time.monotonic() - started >= 0.5


def test_a_fetch_with_messages_in_hand_does_not_wait(broker):
    # Asking for fewer than the prefetch means some are out: their acks wait for the fetch.
    made, _ = broker
    started = time.monotonic()
    assert made.do_fetch("mail", 4) == []
    assert time.monotonic() - started < 0.5


def test_wake_ups_are_bounded_and_expire(broker):
    made, actor = broker
    for i in range(KEPT + 10):
        made.enqueue(actor.message([i]))
    key = made.wake_key("mail")
    assert made.client.llen(key) == KEPT and 0 < made.client.pttl(key) <= 60_000
    # A delayed retry wakes the delay queue's consumer
    made.enqueue(actor.message([0]), delay=10_000)
    assert made.client.llen(made.wake_key("mail.DQ")) == 1
