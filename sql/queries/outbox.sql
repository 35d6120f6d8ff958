-- name: claim_unrelayed_outbox(batch)
-- Claims unsent rows that no queue message carries yet (new, or released as lost).
-- Rows paced for later (not_before) wait; the due index is read only up to now.
UPDATE outbox SET relayed_at = now()
WHERE id IN (
    SELECT id FROM outbox
    WHERE sent_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL
      AND coalesce(not_before, '-infinity'::timestamptz) <= now()
    ORDER BY coalesce(not_before, '-infinity'::timestamptz), id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
RETURNING id, traceparent;

-- name: record_outbox_messages(ids, message_ids)!
-- Records which queue message carries each claimed row.
UPDATE outbox SET message_id = m.message_id
FROM unnest(:ids::bigint[], :message_ids::text[]) AS m (id, message_id)
WHERE outbox.id = m.id;

-- name: relayed_outbox_unsent(older_than, batch)
-- Unsent rows relayed longer ago than the cutoff, with the message that carries them.
SELECT id, message_id FROM outbox
WHERE sent_at IS NULL AND failed_at IS NULL
  AND relayed_at < now() - make_interval(secs => :older_than)
ORDER BY relayed_at, id
LIMIT :batch;

-- name: release_outbox(ids, message_ids)$
-- Returns unsent rows whose message was lost to the relay; a row since re-claimed is left.
WITH released AS (
    UPDATE outbox SET relayed_at = NULL, message_id = NULL
    FROM unnest(:ids::bigint[], :message_ids::text[]) AS m (id, message_id)
    WHERE outbox.id = m.id AND outbox.message_id IS NOT DISTINCT FROM m.message_id
      AND outbox.sent_at IS NULL AND outbox.failed_at IS NULL
    RETURNING outbox.id
)
SELECT count(*) FROM released;

-- name: lock_outbox_mail(outbox_id)^
-- Locks one unsent outbox row with what its mail needs; waits for a relay or sender holding it.
SELECT o.id, o.kind, o.subscription_id,
       -- The address-level list wins over the row: suppressed on any list, suppressed here.
       CASE WHEN EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = s.email_index)
            THEN 'suppressed' ELSE s.status::text END AS status,
       s.email_sealed, s.name_sealed, s.seal_key_id, s.locale, s.list_name, s.email_index, s.unsubscribe_id
FROM outbox o
JOIN subscriptions s ON s.id = o.subscription_id
WHERE o.id = :outbox_id AND o.sent_at IS NULL AND o.failed_at IS NULL
FOR UPDATE OF o;

-- name: check_mail_address(index_key, lookups)^
-- Under the row lock, the sender's own check of the address it opened: suppressed under any of its hashes? Refused (55000) on a stale blind-index key.
SELECT blind_index_key_guard(:index_key) AS key_id,
       EXISTS (SELECT 1 FROM suppressions WHERE email_index = ANY(:lookups::bytea[])) AS suppressed;

-- name: release_outbox_row(outbox_id)!
-- Gives an unsent row back to the relay (a worker on a stale blind-index key leaves it to one on the current key).
UPDATE outbox SET relayed_at = NULL, message_id = NULL
WHERE id = :outbox_id AND sent_at IS NULL AND failed_at IS NULL;

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
