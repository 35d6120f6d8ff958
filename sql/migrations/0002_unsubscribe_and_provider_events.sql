-- Unsubscribe receipts, why an address was suppressed, and events from mail providers.

ALTER TABLE subscriptions ADD COLUMN suppression_reason text;

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirmation', 'welcome', 'already_subscribed', 'unsubscribed'));

-- One row per provider event, stored once by (provider, event_id) whatever the retries.
-- No address is kept: the blind index is enough to find the subscriptions it concerns.
CREATE TABLE provider_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text NOT NULL,
    event_id      text NOT NULL,
    kind          text NOT NULL
                  CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe',
                                  'delivered')),
    email_index   bytea NOT NULL,
    occurred_at   timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    detail        text,
    relayed_at    timestamptz,
    applied_at    timestamptz,
    CONSTRAINT provider_events_key UNIQUE (provider, event_id)
);

CREATE INDEX provider_events_pending_idx ON provider_events (relayed_at NULLS FIRST, id)
    WHERE applied_at IS NULL;
-- Soft bounces are counted per address within a window.
CREATE INDEX provider_events_soft_idx ON provider_events (email_index, occurred_at)
    WHERE kind = 'soft_bounce';
