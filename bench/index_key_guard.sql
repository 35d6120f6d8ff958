-- name: guarded(key_id)$
-- One call of the write guard every signup's upsert makes.
SELECT blind_index_key_guard(:key_id);

-- name: unguarded(key_id)$
-- The same round trip without it: the baseline.
SELECT CAST(:key_id AS text);
