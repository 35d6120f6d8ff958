-- name: waiting_ages()^
-- Seconds since the oldest unsent outbox row and the oldest unapplied provider event were written.
SELECT
    coalesce(extract(epoch FROM now() - (
        -- A row paced for later (an import's confirmations) is waiting only once it is due.
        SELECT min(coalesce(not_before, created_at)) FROM outbox
        WHERE sent_at IS NULL AND failed_at IS NULL
          AND coalesce(not_before, '-infinity'::timestamptz) <= now()
    )), 0)::float8 AS outbox_age,
    coalesce(extract(epoch FROM now() - (
        SELECT min(received_at) FROM provider_events WHERE applied_at IS NULL AND failed_at IS NULL
    )), 0)::float8 AS events_age;

-- name: mark_outbox_gave_up(outbox_id)$
-- Dead-letters an unsent outbox row after its retries ran out; returns its kind, NULL if done.
UPDATE outbox SET failed_at = now(), failure = 'gave up'
WHERE id = :outbox_id AND sent_at IS NULL AND failed_at IS NULL
RETURNING kind;
