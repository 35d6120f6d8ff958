-- Encryption at rest, retention and the operator's audit trail: the indexes that keep the key
-- check, rotation and each purge batch cheap, and one row per operator action (never PII).

-- The start-up key check reads the distinct key ids; rotation looks for rows off the current key.
CREATE INDEX subscriptions_seal_key_idx ON subscriptions (seal_key_id, id);

-- Retention: each purge batch is an index range scan over what is expired, oldest first.
CREATE INDEX subscriptions_pending_updated_idx ON subscriptions (updated_at)
    WHERE status = 'pending';
CREATE INDEX confirmation_tokens_consumed_idx ON confirmation_tokens (consumed_at)
    WHERE consumed_at IS NOT NULL;
CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX provider_events_applied_idx ON provider_events (applied_at)
    WHERE applied_at IS NOT NULL;
-- Deleting a subscription (purge, erasure) cascades to its outbox rows: without this, each
-- cascade is a scan of the whole outbox (a purge batch of 1,000 timed out at 100,000 rows).
CREATE INDEX outbox_subscription_idx ON outbox (subscription_id);
-- Erasure deletes an address's events by its blind index.
CREATE INDEX provider_events_email_idx ON provider_events (email_index);
-- Dead letters are listed and replayed by when they failed.
CREATE INDEX outbox_failed_idx ON outbox (failed_at) WHERE failed_at IS NOT NULL;

CREATE TABLE audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    -- The OS user who ran signupctl, or what --actor said.
    actor   text NOT NULL,
    action  text NOT NULL,
    -- Never an address or a name: filters, counts, a blind index at most.
    params  jsonb NOT NULL DEFAULT '{}',
    counts  jsonb NOT NULL DEFAULT '{}',
    outcome text NOT NULL DEFAULT 'done' CHECK (outcome IN ('done', 'failed', 'dry-run'))
);

CREATE INDEX audit_log_at_idx ON audit_log (at);
