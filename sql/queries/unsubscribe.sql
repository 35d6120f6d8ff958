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
