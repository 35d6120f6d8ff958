-- name: seal_key_ids()
-- Every key id some row is sealed under: a loose index scan, one probe per distinct id.
WITH RECURSIVE ids AS (
    (SELECT seal_key_id FROM subscriptions WHERE seal_key_id IS NOT NULL
     ORDER BY seal_key_id LIMIT 1)
    UNION ALL
    SELECT (SELECT s.seal_key_id FROM subscriptions s WHERE s.seal_key_id > ids.seal_key_id
            ORDER BY s.seal_key_id LIMIT 1)
    FROM ids WHERE ids.seal_key_id IS NOT NULL
)
SELECT seal_key_id FROM ids WHERE seal_key_id IS NOT NULL;

-- name: count_unsealed_rows(current_id)$
-- How many subscriptions are not sealed under the current key (legacy plaintext included).
SELECT count(*) FROM subscriptions WHERE seal_key_id IS DISTINCT FROM :current_id;

-- name: lock_rows_to_reseal(current_id, after_id, batch)
-- The next batch of rows off the current key, locked; rows a request holds are left for later.
SELECT id, email_sealed, name_sealed, seal_key_id FROM subscriptions
WHERE id > :after_id AND seal_key_id IS DISTINCT FROM :current_id
ORDER BY id
LIMIT :batch
FOR UPDATE SKIP LOCKED;

-- name: reseal_rows(ids, emails, names, key_ids)!
-- Stores re-sealed columns for rows locked by lock_rows_to_reseal.
UPDATE subscriptions SET email_sealed = r.email, name_sealed = r.name, seal_key_id = r.key_id
FROM unnest(:ids::bigint[], :emails::bytea[], :names::bytea[], :key_ids::text[])
     AS r (id, email, name, key_id)
WHERE subscriptions.id = r.id;
