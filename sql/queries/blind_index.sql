-- name: refile_address(old_index, new_index, index_key, held, held_key)!
-- Refiles an address's subscriptions and events from its previous blind index to the current one, its suppression to its suppression-key hash.
WITH subs AS (
    -- A list that already has a row under the current index keeps it; the old row is left.
    UPDATE subscriptions s SET email_index = :new_index, email_index_key = :index_key
    WHERE s.email_index = :old_index
      AND NOT EXISTS (SELECT 1 FROM subscriptions n
                      WHERE n.email_index = :new_index AND n.list_name = s.list_name)
), entries AS (
    SELECT email_index FROM suppressions WHERE email_index IN (:old_index, :new_index, :held)
), keeper AS (
    -- One entry per address: the one under the suppression key if there is one.
    SELECT email_index FROM entries
    ORDER BY email_index = :held DESC, email_index = :new_index DESC LIMIT 1
), refiled AS (
    UPDATE suppressions SET email_index = :held, email_index_key = :held_key
    WHERE email_index = (SELECT email_index FROM keeper) AND email_index <> :held
), duplicate AS (
    DELETE FROM suppressions
    WHERE email_index IN (SELECT email_index FROM entries)
      AND email_index <> (SELECT email_index FROM keeper)
)
UPDATE provider_events
SET email_index = :new_index, email_index_key = :index_key,
    suppression_index = :held, suppression_key = :held_key
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

-- name: merge_duplicate_rows(old_indexes, new_indexes)$
-- Deletes all but one row of each address and list filed under both keys (written by a process on the old key); counts them.
WITH pairs AS (
    SELECT DISTINCT * FROM unnest(:old_indexes::bytea[], :new_indexes::bytea[])
        AS p (old_index, new_index)
), found AS (
    SELECT DISTINCT ON (s.id) s.id, s.list_name, p.new_index, s.status, s.updated_at
    FROM subscriptions s JOIN pairs p ON s.email_index IN (p.old_index, p.new_index)
    ORDER BY s.id
), ranked AS (
    -- The row kept is the one that mails least: a suppression or an unsubscription beats a
    -- confirmation, which beats a pending signup; then the one changed last.
    SELECT id, row_number() OVER (
        PARTITION BY new_index, list_name
        ORDER BY status = 'suppressed' DESC, status = 'unsubscribed' DESC,
                 status = 'confirmed' DESC, updated_at DESC, id DESC) AS rank
    FROM found
), merged AS (
    DELETE FROM subscriptions WHERE id IN (SELECT id FROM ranked WHERE rank > 1) RETURNING 1
)
SELECT count(*) FROM merged;

-- name: reindex_addresses(old_indexes, new_indexes, helds, index_key, held_key)^
-- Refiles locked addresses (every list's row, events) under the current index, suppressions under the suppression key; counts rows moved and left.
WITH pairs AS (
    SELECT DISTINCT * FROM unnest(:old_indexes::bytea[], :new_indexes::bytea[], :helds::bytea[])
        AS p (old_index, new_index, held)
), moved AS (
    -- A list with a row under the current index already (written since the batch's merge)
    -- keeps both; the rotation reports the old one as a conflict, and its next run merges.
    UPDATE subscriptions s SET email_index = p.new_index, email_index_key = :index_key
    FROM pairs p
    WHERE s.email_index = p.old_index
      AND NOT EXISTS (SELECT 1 FROM subscriptions n
                      WHERE n.email_index = p.new_index AND n.list_name = s.list_name
                        AND n.id <> s.id)
    RETURNING s.id
), entries AS (
    SELECT DISTINCT ON (x.email_index) x.email_index, p.held,
           x.email_index = p.held AS is_held, x.email_index = p.new_index AS is_new
    FROM suppressions x JOIN pairs p ON x.email_index IN (p.old_index, p.new_index, p.held)
    ORDER BY x.email_index
), keepers AS (
    -- One entry per address: the one under the suppression key if there is one.
    SELECT DISTINCT ON (held) email_index, held FROM entries
    ORDER BY held, is_held DESC, is_new DESC
), refiled AS (
    UPDATE suppressions x SET email_index = k.held, email_index_key = :held_key
    FROM keepers k
    WHERE x.email_index = k.email_index AND k.email_index <> k.held
), duplicate AS (
    DELETE FROM suppressions x
    WHERE x.email_index IN (SELECT email_index FROM entries)
      AND x.email_index NOT IN (SELECT email_index FROM keepers)
), events AS (
    UPDATE provider_events e
    SET email_index = p.new_index, email_index_key = :index_key,
        suppression_index = p.held, suppression_key = :held_key
    FROM pairs p WHERE e.email_index = p.old_index
)
SELECT (SELECT count(*) FROM moved) AS moved,
       (SELECT count(*) FROM subscriptions s JOIN pairs p ON s.email_index = p.old_index)
         - (SELECT count(*) FROM moved) AS conflicts;

-- name: count_off_index_key(index_key, held_key)^
-- How many rows of each table are not filed under the current blind-index key (suppressions: nor the suppression key).
-- Minimised rows (no address left) are not counted: like erased addresses' suppression
-- entries, they stay filed under the key they were made with.
SELECT (SELECT count(*) FROM subscriptions
        WHERE email_index_key IS DISTINCT FROM :index_key AND email_sealed IS NOT NULL)
           AS subscriptions,
       (SELECT count(*) FROM suppressions
        WHERE email_index_key IS DISTINCT FROM :index_key
          AND email_index_key IS DISTINCT FROM :held_key) AS suppressions,
       (SELECT count(*) FROM provider_events
        WHERE email_index_key IS DISTINCT FROM :index_key) AS events;

-- name: lock_index_key_registry()^
-- Waits for every write under way (each holds the guard's shared lock) and holds them off.
SELECT pg_advisory_xact_lock(hashtext('signup blind_index_keys'));

-- name: index_key_states()
-- The blind-index keys the processes have registered, by fingerprint, and what each is now.
SELECT key_id, state FROM blind_index_keys;

-- name: file_index_key(key_id, state)!
-- Records a blind-index key as current, previous or retired.
INSERT INTO blind_index_keys (key_id, state) VALUES (:key_id, :state)
ON CONFLICT (key_id) DO UPDATE SET state = EXCLUDED.state, changed_at = now();

-- name: retire_index_keys(keep)!
-- Marks every key but these as retired (none is current any more).
UPDATE blind_index_keys SET state = 'retired', changed_at = now()
WHERE state <> 'retired' AND key_id <> ALL(:keep::text[]);

-- name: suppression_key_ids()
-- The distinct keys suppression entries are filed under: one index probe per key.
WITH RECURSIVE ids AS (
    (SELECT email_index_key AS id FROM suppressions WHERE email_index_key IS NOT NULL
     ORDER BY email_index_key LIMIT 1)
    UNION ALL
    SELECT (SELECT email_index_key FROM suppressions WHERE email_index_key > ids.id
            ORDER BY email_index_key LIMIT 1)
    FROM ids WHERE ids.id IS NOT NULL
)
SELECT id FROM ids WHERE id IS NOT NULL;
