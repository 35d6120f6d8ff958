"""The worker's queues: their names, and how a poll's rows are cut into messages."""

MAIL_QUEUE = "mail"
EVENTS_QUEUE = "events"
HOOKS_QUEUE = "hooks"

# The most rows a message carries; with a 10 s SMTP timeout, a chunk finishes well within its
# time limit.
# (25 was tried: interleaved runs against 10 showed no difference in mails/s.)
CHUNK = 10


def chunks(ids: list[int], hands: int) -> list[list[int]]:
    """The rows of one poll as messages: up to CHUNK rows each, but a poll's few rows are
    spread over the worker's `hands` (threads in all its processes), so a quiet moment's mails
    go out side by side rather than one after another in one thread. A poll with CHUNK rows
    a hand or more makes full chunks. `hands` 1 makes full chunks whatever the poll found."""
    size = max(1, min(CHUNK, -(-len(ids) // max(hands, 1))))
    return [ids[start : start + size] for start in range(0, len(ids), size)]
