"""Names shared by the API and the worker for what travels through Redis."""

# Redis list of outbox ids the API has just committed; the worker's relay drains it.
OUTBOX_DOORBELL = "signup:outbox:ready"

# Redis list of provider event ids the webhooks have just stored.
EVENTS_DOORBELL = "signup:events:ready"

MAIL_QUEUE = "mail"
EVENTS_QUEUE = "events"
