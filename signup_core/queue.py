"""Queue names the worker and the operator tools share."""

MAIL_QUEUE = "mail"
EVENTS_QUEUE = "events"
HOOKS_QUEUE = "hooks"
