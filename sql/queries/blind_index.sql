-- name: refile_address(old_index, new_index, index_key)!
-- Refiles an address's subscriptions, suppression and events from its previous blind index to the current one.
WITH subs AS (
    -- A list that already has a row under the current index keeps it; the old row is left.
    UPDATE subscriptions s SET email_index = :new_index, email_index_key = :index_key
    WHERE s.email_index = :old_index
      AND NOT EXISTS (SELECT 1 FROM subscriptions n
                      WHERE n.email_index = :new_index AND n.list_name = s.list_name)
), refiled AS (
    UPDATE suppressions SET email_index = :new_index, email_index_key = :index_key
    WHERE email_index = :old_index
      AND NOT EXISTS (SELECT 1 FROM suppressions n WHERE n.email_index = :new_index)
), duplicate AS (
    -- Suppressed under both: the entry under the current index stands.
    DELETE FROM suppressions
    WHERE email_index = :old_index
      AND EXISTS (SELECT 1 FROM suppressions n WHERE n.email_index = :new_index)
)
UPDATE provider_events SET email_index = :new_index, email_index_key = :index_key
WHERE email_index = :old_index;

-- name: lock_rows_to_reindex(index_key, after_id, batch)
-- The next batch of subscriptions not filed under the current blind-index key, locked; rows in use are left.
SELECT id, email_index, email_sealed, seal_key_id FROM subscriptions
WHERE id > :after_id AND email_index_key IS DISTINCT FROM :index_key
  -- A minimised row has no address to recompute from (see count_off_index_key).
  AND email_sealed IS NOT NULL
ORDER BY id
LIMIT :batch
FOR UPDATE SKIP LOCKED;

-- name: lock_filed_under(old_indexes)
-- Locks every row filed under these indexes that is free; returns the indexes some other transaction holds a row of.
WITH free_subscriptions AS (
    SELECT id FROM subscriptions WHERE email_index = ANY(:old_indexes::bytea[])
    FOR UPDATE SKIP LOCKED
), free_events AS (
    SELECT id FROM provider_events WHERE email_index = ANY(:old_indexes::bytea[])
    FOR UPDATE SKIP LOCKED
), free_suppressions AS (
    SELECT email_index FROM suppressions WHERE email_index = ANY(:old_indexes::bytea[])
    FOR UPDATE SKIP LOCKED
)
SELECT email_index FROM subscriptions
WHERE email_index = ANY(:old_indexes::bytea[])
  AND id NOT IN (SELECT id FROM free_subscriptions)
UNION
SELECT email_index FROM provider_events
WHERE email_index = ANY(:old_indexes::bytea[])
  AND id NOT IN (SELECT id FROM free_events)
UNION
SELECT email_index FROM suppressions
WHERE email_index = ANY(:old_indexes::bytea[])
  AND email_index NOT IN (SELECT email_index FROM free_suppressions);

-- name: reindex_addresses(old_indexes, new_indexes, index_key)^
-- Refiles locked addresses (every list's row, suppression, events) under the current index; counts rows moved and left.
WITH pairs AS (
    SELECT DISTINCT * FROM unnest(:old_indexes::bytea[], :new_indexes::bytea[])
        AS p (old_index, new_index)
), moved AS (
    -- A list with a row under the current index already (a duplicate written by a process that
    -- knew only the old key) keeps both; the rotation reports the old one as a conflict.
    UPDATE subscriptions s SET email_index = p.new_index, email_index_key = :index_key
    FROM pairs p
    WHERE s.email_index = p.old_index
      AND NOT EXISTS (SELECT 1 FROM subscriptions n
                      WHERE n.email_index = p.new_index AND n.list_name = s.list_name
                        AND n.id <> s.id)
    RETURNING s.id
), refiled AS (
    UPDATE suppressions x SET email_index = p.new_index, email_index_key = :index_key
    FROM pairs p
    WHERE x.email_index = p.old_index
      AND NOT EXISTS (SELECT 1 FROM suppressions n
                      WHERE n.email_index = p.new_index AND n.email_index <> p.old_index)
), duplicate AS (
    DELETE FROM suppressions x USING pairs p
    WHERE x.email_index = p.old_index AND p.old_index <> p.new_index
      AND EXISTS (SELECT 1 FROM suppressions n WHERE n.email_index = p.new_index)
), events AS (
    UPDATE provider_events e SET email_index = p.new_index, email_index_key = :index_key
    FROM pairs p WHERE e.email_index = p.old_index
)
SELECT (SELECT count(*) FROM moved) AS moved,
       (SELECT count(*) FROM subscriptions s JOIN pairs p ON s.email_index = p.old_index)
         - (SELECT count(*) FROM moved) AS conflicts;

-- name: count_off_index_key(index_key)^
-- How many rows of each table are not filed under the current blind-index key.
-- Minimised rows (no address left) are not counted: like erased addresses' suppression
-- entries, they stay filed under the key they were made with.
SELECT (SELECT count(*) FROM subscriptions
        WHERE email_index_key IS DISTINCT FROM :index_key AND email_sealed IS NOT NULL)
           AS subscriptions,
       (SELECT count(*) FROM suppressions
        WHERE email_index_key IS DISTINCT FROM :index_key) AS suppressions,
       (SELECT count(*) FROM provider_events
        WHERE email_index_key IS DISTINCT FROM :index_key) AS events;
