-- name: insert_events(providers, event_ids, kinds, email_indexes, occurred, details)
-- Stores a batch of provider events; an event seen before is skipped. Returns the new ids.
INSERT INTO provider_events (provider, event_id, kind, email_index, occurred_at, detail)
SELECT * FROM unnest(:providers::text[], :event_ids::text[], :kinds::text[],
                     :email_indexes::bytea[], :occurred::timestamptz[], :details::text[])
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING id;

-- name: claim_stranded_events(stale_after, batch)
-- Claims events never relayed, or relayed so long ago that their queue message must be lost.
UPDATE provider_events SET relayed_at = now()
WHERE id IN (
    SELECT id FROM provider_events
    WHERE applied_at IS NULL
      AND (relayed_at IS NULL OR relayed_at < now() - make_interval(secs => :stale_after))
    ORDER BY relayed_at NULLS FIRST, id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
RETURNING id;

-- name: lock_event(event_id)^
-- Locks one unapplied provider event.
SELECT id, provider, kind, email_index, occurred_at, detail
FROM provider_events WHERE id = :event_id AND applied_at IS NULL
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

-- name: suppress_address(email_index, reason)!
-- Suppresses every subscription of an address, on every list; suppression is never undone here.
UPDATE subscriptions
SET status = 'suppressed', suppressed_at = now(), suppression_reason = :reason, updated_at = now()
WHERE email_index = :email_index AND status <> 'suppressed';

-- name: unsubscribe_address(email_index)!
-- Unsubscribes every pending or confirmed subscription of an address (provider-side unsubscribe).
UPDATE subscriptions
SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
WHERE email_index = :email_index AND status IN ('pending', 'confirmed');

-- name: mark_event_applied(event_id)!
-- Records that a provider event has been applied.
UPDATE provider_events SET applied_at = now() WHERE id = :event_id;

-- name: suppress_subscription(subscription_id, reason)!
-- Suppresses one address, found through one of its subscriptions, after a permanent refusal.
UPDATE subscriptions
SET status = 'suppressed', suppressed_at = now(), suppression_reason = :reason, updated_at = now()
WHERE email_index = (SELECT email_index FROM subscriptions WHERE id = :subscription_id)
  AND status <> 'suppressed';
