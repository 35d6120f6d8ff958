-- name: insert_events(providers, event_ids, kinds, email_indexes, occurred, details, traceparent, index_key)
-- Stores a batch of provider events; an event seen before is skipped. Returns the new ids.
INSERT INTO provider_events
    (provider, event_id, kind, email_index, occurred_at, detail, traceparent, email_index_key)
SELECT *, :traceparent::text, :index_key::text FROM unnest(:providers::text[], :event_ids::text[], :kinds::text[],
                     :email_indexes::bytea[], :occurred::timestamptz[], :details::text[])
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING id;

-- name: claim_unrelayed_events(batch)
-- Claims unapplied events that no queue message carries yet (new, or released as lost).
UPDATE provider_events SET relayed_at = now()
WHERE id IN (
    SELECT id FROM provider_events
    WHERE applied_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL
    ORDER BY id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
RETURNING id, traceparent;

-- name: record_event_messages(ids, message_ids)!
-- Records which queue message carries each claimed event.
UPDATE provider_events SET message_id = m.message_id
FROM unnest(:ids::bigint[], :message_ids::text[]) AS m (id, message_id)
WHERE provider_events.id = m.id;

-- name: relayed_events_unapplied(older_than, batch)
-- Unapplied events relayed longer ago than the cutoff, with the message that carries them.
SELECT id, message_id FROM provider_events
WHERE applied_at IS NULL AND failed_at IS NULL
  AND relayed_at < now() - make_interval(secs => :older_than)
ORDER BY relayed_at, id
LIMIT :batch;

-- name: release_events(ids, message_ids)$
-- Returns unapplied events whose message was lost to the relay; one since re-claimed is left.
WITH released AS (
    UPDATE provider_events SET relayed_at = NULL, message_id = NULL
    FROM unnest(:ids::bigint[], :message_ids::text[]) AS m (id, message_id)
    WHERE provider_events.id = m.id
      AND provider_events.message_id IS NOT DISTINCT FROM m.message_id
      AND provider_events.applied_at IS NULL AND provider_events.failed_at IS NULL
    RETURNING provider_events.id
)
SELECT count(*) FROM released;

-- name: mark_event_failed(event_id, failure)!
-- Records that an event could not be applied and will not be tried again, and why.
UPDATE provider_events SET failed_at = now(), failure = :failure
WHERE id = :event_id AND applied_at IS NULL;

-- name: lock_event(event_id)^
-- Locks one unapplied provider event.
SELECT id, provider, kind, email_index, email_index_key, occurred_at, detail
FROM provider_events WHERE id = :event_id AND applied_at IS NULL AND failed_at IS NULL
FOR UPDATE;

-- name: most_soft_bounces_in_a_window(email_index, window_seconds)$
-- The most soft bounces of an address whose own times fall within one window of each other.
SELECT coalesce(max(n), 0) FROM (
    SELECT count(*) OVER (
        ORDER BY occurred_at
        RANGE BETWEEN make_interval(secs => :window_seconds) PRECEDING AND CURRENT ROW
    ) AS n
    FROM provider_events
    WHERE email_index = :email_index AND kind = 'soft_bounce'
) AS windows;

-- name: suppress_address(email_index, index_key, reason, provider, events)!
-- Suppresses an address on every list, rows or not (with events, announced once per address); the first reason is kept, never undone here.
WITH listed AS (
    INSERT INTO suppressions (email_index, email_index_key, reason, provider)
    VALUES (:email_index, :index_key, :reason, :provider)
    ON CONFLICT (email_index) DO NOTHING
), changed AS (
    UPDATE subscriptions
    SET status = 'suppressed', suppressed_at = now(), suppression_reason = :reason, updated_at = now()
    WHERE email_index = :email_index AND status <> 'suppressed'
    RETURNING email_index, email_sealed, seal_key_id
)
INSERT INTO outbound_events (type, email_index, email_sealed, seal_key_id, reason)
SELECT DISTINCT ON (email_index) 'subscriber.suppressed', email_index, email_sealed, seal_key_id,
       :reason
FROM changed WHERE :events;

-- name: unsubscribe_address(email_index, events)!
-- Unsubscribes every pending or confirmed subscription of an address (provider-side unsubscribe); with events, each confirmed one is announced.
WITH changed AS (
    UPDATE subscriptions s
    SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
    FROM subscriptions old
    WHERE old.id = s.id AND s.email_index = :email_index AND s.status IN ('pending', 'confirmed')
    RETURNING s.email_index, s.list_name, s.email_sealed, s.seal_key_id, old.status AS was
)
INSERT INTO outbound_events (type, email_index, list_name, email_sealed, seal_key_id)
SELECT 'subscriber.unsubscribed', email_index, list_name, email_sealed, seal_key_id
FROM changed WHERE :events AND was = 'confirmed';

-- name: mark_event_applied(event_id)!
-- Records that a provider event has been applied.
UPDATE provider_events SET applied_at = now() WHERE id = :event_id;

-- name: suppress_subscription(subscription_id, reason, provider, events)!
-- Suppresses the address of one subscription, on every list, after a permanent refusal (with events, announced once).
WITH target AS (
    -- Locked: a blind-index rotation refiling this row is waited for, and its new index read.
    SELECT email_index, email_index_key FROM subscriptions WHERE id = :subscription_id FOR UPDATE
), listed AS (
    INSERT INTO suppressions (email_index, email_index_key, reason, provider)
    SELECT email_index, email_index_key, :reason, :provider FROM target
    ON CONFLICT (email_index) DO NOTHING
), changed AS (
    UPDATE subscriptions
    SET status = 'suppressed', suppressed_at = now(), suppression_reason = :reason, updated_at = now()
    WHERE email_index = (SELECT email_index FROM target) AND status <> 'suppressed'
    RETURNING email_index, email_sealed, seal_key_id
)
INSERT INTO outbound_events (type, email_index, email_sealed, seal_key_id, reason)
SELECT DISTINCT ON (email_index) 'subscriber.suppressed', email_index, email_sealed, seal_key_id,
       :reason
FROM changed WHERE :events;
