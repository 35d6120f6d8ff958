"""The mail worker: Dramatiq actors on Redis, plus the outbox relay."""
