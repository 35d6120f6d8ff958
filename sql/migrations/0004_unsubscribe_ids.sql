-- Unsubscribe links name a random id, not the row number, which would tell anyone the list's
-- size. Existing rows get one each here; links already mailed with the row number still work.

ALTER TABLE subscriptions ADD COLUMN unsubscribe_id uuid NOT NULL DEFAULT gen_random_uuid();

ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_unsubscribe_id_key UNIQUE (unsubscribe_id);
