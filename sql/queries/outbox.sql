-- name: claim_stranded_outbox(stale_after, batch)
-- Claims rows never relayed, or relayed so long ago that their queue message must be lost.
UPDATE outbox SET relayed_at = now()
WHERE id IN (
    SELECT id FROM outbox
    WHERE sent_at IS NULL AND failed_at IS NULL
      AND (relayed_at IS NULL OR relayed_at < now() - make_interval(secs => :stale_after))
    ORDER BY relayed_at NULLS FIRST, id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
RETURNING id;

-- name: lock_outbox_mail(outbox_id)^
-- Locks one unsent outbox row with what its mail needs; waits for a relay or sender holding it.
SELECT o.id, o.kind, o.subscription_id, s.status::text AS status,
       s.email_sealed, s.name_sealed, s.locale, s.list_name, s.email_index
FROM outbox o
JOIN subscriptions s ON s.id = o.subscription_id
WHERE o.id = :outbox_id AND o.sent_at IS NULL AND o.failed_at IS NULL
FOR UPDATE OF o;

-- name: mark_outbox_sent(outbox_id)!
-- Records that the mail for an outbox row was handed to the mail server.
UPDATE outbox SET sent_at = now() WHERE id = :outbox_id;

-- name: mark_outbox_failed(outbox_id, failure)!
-- Records that an outbox row will never be sent, and why.
UPDATE outbox SET failed_at = now(), failure = :failure
WHERE id = :outbox_id AND sent_at IS NULL;

-- name: mark_confirmation_sent(outbox_id, token_hash, subscription_id, ttl_seconds)!
-- Records a sent confirmation and stores the SHA-256 of the token its link carries, in one
-- round trip. Both happen in the sending transaction, so neither is seen without the other.
WITH token AS (
    INSERT INTO confirmation_tokens (token_hash, subscription_id, expires_at)
    VALUES (:token_hash, :subscription_id, now() + make_interval(secs => :ttl_seconds))
)
UPDATE outbox SET sent_at = now() WHERE id = :outbox_id;
