"""The worker's queues: their names, and how many rows one message carries."""

MAIL_QUEUE = "mail"
EVENTS_QUEUE = "events"
HOOKS_QUEUE = "hooks"

# Rows per message; with a 10 s SMTP timeout, a chunk finishes well within its time limit.
# (25 was tried: interleaved runs against 10 showed no difference in mails/s.)
CHUNK = 10
