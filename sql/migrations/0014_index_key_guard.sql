-- The blind-index keys the processes have started with, by fingerprint (never the key). The one
-- marked current is the key every row is filed under from now on: a process started with a new
-- key and the current one as its previous makes its own current (a rotation starts), and from
-- then on a process still on the old key refuses to write (blind_index_key_guard), so it can
-- neither file a duplicate row under the old index nor miss a suppression refiled under the new.

CREATE TABLE blind_index_keys (
    key_id      text PRIMARY KEY,
    state       text NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX blind_index_keys_one_current ON blind_index_keys (state)
    WHERE state = 'current';

-- Called by every statement that files something under a blind index. It takes a shared lock
-- that the switch to a new key takes exclusively, then reads the current key afresh (a
-- volatile PL/pgSQL function's query sees what was committed before it ran, not the calling
-- statement's snapshot): either the switch commits after this transaction ends, or this
-- statement sees it and fails with SQLSTATE 55000. An empty table (nothing registered yet)
-- lets every key write.
CREATE FUNCTION blind_index_key_guard(key_id text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    current_id text;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('signup blind_index_keys'));
    SELECT b.key_id INTO current_id FROM blind_index_keys b WHERE b.state = 'current';
    IF current_id IS NOT NULL AND current_id IS DISTINCT FROM key_id THEN
        RAISE EXCEPTION 'blind-index key % is not the current key %', key_id, current_id
            USING ERRCODE = '55000';
    END IF;
    RETURN key_id;
END
$$;

-- The start-up check reads which keys suppression entries are filed under.
CREATE INDEX suppressions_index_key_idx ON suppressions (email_index_key);

-- A provider event also carries its address's hash under the suppression key, so the entry
-- it files outlives the blind-index key (NULL: stored before this column; its email_index).
ALTER TABLE provider_events ADD COLUMN suppression_index bytea;
ALTER TABLE provider_events ADD COLUMN suppression_key text;

-- Which key the consent IP hash was made with: subscriptions.consent_ip_key, added with the
-- rest of the consent record (0016).
