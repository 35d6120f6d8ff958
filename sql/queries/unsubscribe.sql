-- name: unsubscribe(subscription_id)^
-- Unsubscribes a pending or confirmed subscription and queues the receipt; says what it found.
WITH changed AS (
    UPDATE subscriptions
    SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
    WHERE id = :subscription_id AND status IN ('pending', 'confirmed')
    RETURNING id
), receipt AS (
    INSERT INTO outbox (subscription_id, kind)
    SELECT id, 'unsubscribed' FROM changed
    RETURNING id
)
SELECT (SELECT id FROM receipt) AS outbox_id,
       EXISTS (SELECT 1 FROM subscriptions WHERE id = :subscription_id) AS known;

-- name: subscription_for_page(unsubscribe_id, subscription_id)^
-- The list and sealed address an unsubscribe link names, by its random id or (older links) row number.
SELECT list_name, email_sealed, seal_key_id, status::text AS status
FROM subscriptions
WHERE unsubscribe_id = :unsubscribe_id OR id = :subscription_id;
