-- Observability: the W3C traceparent of the request that wrote a row, so the worker's spans join
-- its trace; and indexes that keep the scrape-time "oldest waiting row" ages to one index probe.

ALTER TABLE outbox ADD COLUMN traceparent text;
ALTER TABLE provider_events ADD COLUMN traceparent text;

CREATE INDEX outbox_unsent_created_idx ON outbox (created_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX provider_events_unapplied_received_idx ON provider_events (received_at)
    WHERE applied_at IS NULL AND failed_at IS NULL;
