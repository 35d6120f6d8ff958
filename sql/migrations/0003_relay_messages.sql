-- The queue message that carries each relayed row, so the relay can tell a lost message (Redis
-- restarted empty) from one still queued or in retry; events that failed for good are kept.

ALTER TABLE outbox ADD COLUMN message_id text;
ALTER TABLE provider_events ADD COLUMN message_id text;
ALTER TABLE provider_events ADD COLUMN failed_at timestamptz;
ALTER TABLE provider_events ADD COLUMN failure text;

DROP INDEX provider_events_pending_idx;
CREATE INDEX provider_events_pending_idx ON provider_events (relayed_at NULLS FIRST, id)
    WHERE applied_at IS NULL AND failed_at IS NULL;
