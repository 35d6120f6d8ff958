-- Paced mail: an import's confirmations are queued at once, each with the time before which the
-- relay must not hand it on. The relay's claim walks this index up to now(), so rows scheduled
-- for later cost it nothing.

ALTER TABLE outbox ADD COLUMN not_before timestamptz;

CREATE INDEX outbox_due_idx ON outbox (coalesce(not_before, '-infinity'::timestamptz), id)
    WHERE sent_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL;
