-- name: claim_unrelayed_hooks(batch)
-- Claims undelivered outbound events that no queue message carries yet (new, or released as lost).
UPDATE outbound_events SET relayed_at = now()
WHERE id IN (
    SELECT id FROM outbound_events
    WHERE sent_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL
    ORDER BY id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
RETURNING id, NULL::text AS traceparent;

-- name: record_hook_messages(ids, message_ids)!
-- Records which queue message carries each claimed outbound event.
UPDATE outbound_events SET message_id = m.message_id
FROM unnest(:ids::bigint[], :message_ids::text[]) AS m (id, message_id)
WHERE outbound_events.id = m.id;

-- name: relayed_hooks_unsent(older_than, batch)
-- Undelivered outbound events relayed longer ago than the cutoff, with their message.
SELECT id, message_id FROM outbound_events
WHERE sent_at IS NULL AND failed_at IS NULL
  AND relayed_at < now() - make_interval(secs => :older_than)
ORDER BY relayed_at, id
LIMIT :batch;

-- name: release_hooks(ids, message_ids)$
-- Returns undelivered outbound events whose message was lost to the relay.
WITH released AS (
    UPDATE outbound_events SET relayed_at = NULL, message_id = NULL
    FROM unnest(:ids::bigint[], :message_ids::text[]) AS m (id, message_id)
    WHERE outbound_events.id = m.id
      AND outbound_events.message_id IS NOT DISTINCT FROM m.message_id
      AND outbound_events.sent_at IS NULL AND outbound_events.failed_at IS NULL
    RETURNING outbound_events.id
)
SELECT count(*) FROM released;

-- name: lock_hook(event_id)^
-- Locks one undelivered outbound event with what its request needs.
SELECT id, webhook_id, type, list_name, email_sealed, name_sealed, seal_key_id, reason,
       occurred_at, attempts
FROM outbound_events
WHERE id = :event_id AND sent_at IS NULL AND failed_at IS NULL
FOR UPDATE;

-- name: mark_hook_sent(event_id)!
-- Records a delivered outbound event and forgets the address it carried.
UPDATE outbound_events
SET sent_at = now(), email_sealed = NULL, name_sealed = NULL, attempts = attempts + 1
WHERE id = :event_id;

-- name: count_hook_attempt(event_id, failure)!
-- Counts a failed delivery attempt that will be retried, and why.
UPDATE outbound_events SET attempts = attempts + 1, failure = :failure WHERE id = :event_id;

-- name: mark_hook_failed(event_id, failure)!
-- Dead-letters an outbound event that will not be tried again, and why.
UPDATE outbound_events SET failed_at = now(), failure = :failure
WHERE id = :event_id AND sent_at IS NULL AND failed_at IS NULL;

-- name: mark_hook_gave_up(event_id)$
-- Dead-letters an undelivered outbound event after its retries ran out; returns its type, NULL if done.
UPDATE outbound_events
SET failed_at = now(), failure = coalesce(failure, 'no answer') || ' (gave up)'
WHERE id = :event_id AND sent_at IS NULL AND failed_at IS NULL
RETURNING type;

-- name: dead_hooks(limit)
-- Outbound events that failed for good, newest first, with why (never an address).
SELECT id, type, list_name, occurred_at, failed_at, attempts, failure
FROM outbound_events
WHERE failed_at IS NOT NULL AND sent_at IS NULL
ORDER BY failed_at DESC, id DESC
LIMIT :limit;

-- name: replay_dead_hooks(event_id)$
-- Resets dead-lettered outbound events (one, or all when event_id is NULL) so the relay sends them again, same webhook-id.
WITH reset AS (
    UPDATE outbound_events
    SET failed_at = NULL, failure = NULL, relayed_at = NULL, message_id = NULL, attempts = 0
    WHERE failed_at IS NOT NULL AND sent_at IS NULL
      AND (CAST(:event_id AS bigint) IS NULL OR id = :event_id)
    RETURNING 1
)
SELECT count(*) FROM reset;
