-- name: lock_token(token_hash)^
-- Locks one confirmation token and its subscription, saying whether the token is still usable.
SELECT t.subscription_id,
       t.consumed_at IS NOT NULL AS consumed,
       t.expires_at <= now() AS expired,
       s.status::text AS status,
       s.list_name
FROM confirmation_tokens t
JOIN subscriptions s ON s.id = t.subscription_id
WHERE t.token_hash = :token_hash
FOR UPDATE OF t, s;

-- name: consume_token(token_hash)!
-- Marks a confirmation token spent so it can never be used again.
UPDATE confirmation_tokens SET consumed_at = now()
WHERE token_hash = :token_hash AND consumed_at IS NULL;

-- name: confirm_subscription(subscription_id, ip_hash, user_agent, events, traceparent)$
-- Confirms a pending subscription (recording the click's IP hash and browser family), queues its welcome mail in the confirming request's trace and (with events) its subscriber.confirmed event; returns the outbox id.
WITH confirmed AS (
    UPDATE subscriptions
    SET status = 'confirmed', confirmed_at = now(), updated_at = now(), last_mailed_at = now(),
        confirmed_via = 'link', confirmed_ip_hash = :ip_hash, confirmed_user_agent = :user_agent
    WHERE id = :subscription_id AND status = 'pending'
    RETURNING id, email_index, list_name, email_sealed, name_sealed, seal_key_id
), announced AS (
    INSERT INTO outbound_events (type, email_index, list_name, email_sealed, name_sealed, seal_key_id)
    SELECT 'subscriber.confirmed', email_index, list_name, email_sealed, name_sealed, seal_key_id
    FROM confirmed WHERE :events
)
INSERT INTO outbox (subscription_id, kind, traceparent)
SELECT id, 'welcome', :traceparent FROM confirmed
RETURNING id;

-- name: token_state(token_hash)^
-- What a confirmation link's page should say, read without locking or changing anything.
SELECT t.consumed_at IS NOT NULL AS consumed,
       t.expires_at <= now() AS expired,
       s.status::text AS status,
       s.list_name
FROM confirmation_tokens t
JOIN subscriptions s ON s.id = t.subscription_id
WHERE t.token_hash = :token_hash;
