-- name: unsubscribe(subscription_id, events, traceparent)^
-- Unsubscribes a pending or confirmed subscription, queues the receipt in the request's trace and (with events, for a confirmed one) its event; says what it found.
WITH before AS (
    SELECT status FROM subscriptions WHERE id = :subscription_id
), changed AS (
    UPDATE subscriptions
    SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
    WHERE id = :subscription_id AND status IN ('pending', 'confirmed')
    RETURNING id, email_index, list_name, email_sealed, seal_key_id
), announced AS (
    INSERT INTO outbound_events (type, email_index, list_name, email_sealed, seal_key_id)
    SELECT 'subscriber.unsubscribed', email_index, list_name, email_sealed, seal_key_id
    FROM changed WHERE :events AND (SELECT status FROM before) = 'confirmed'
), receipt AS (
    INSERT INTO outbox (subscription_id, kind, traceparent)
    SELECT id, 'unsubscribed', :traceparent FROM changed
    RETURNING id
)
SELECT (SELECT id FROM receipt) AS outbox_id,
       EXISTS (SELECT 1 FROM subscriptions WHERE id = :subscription_id) AS known;

-- name: subscription_for_page(unsubscribe_id, subscription_id)^
-- The list and sealed address an unsubscribe link names, by its random id or (older links) row number.
SELECT list_name, email_sealed, seal_key_id, status::text AS status
FROM subscriptions
WHERE unsubscribe_id = :unsubscribe_id OR id = :subscription_id;
