-- Which blind-index key each row's email_index was computed under (a fingerprint, never the
-- key), so a key rotation knows what is left to recompute and what still needs the old key.
-- NULL: written before this column existed, under whatever key was in force then.

ALTER TABLE subscriptions ADD COLUMN email_index_key text;
ALTER TABLE suppressions ADD COLUMN email_index_key text;
ALTER TABLE provider_events ADD COLUMN email_index_key text;
