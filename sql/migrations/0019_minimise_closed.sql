-- Data minimisation: an unsubscribed or suppressed subscription, once SIGNUP_RETAIN_CLOSED has
-- passed since it last changed, keeps only what suppression and proof need: its blind index,
-- list, status and reason, dates and consent record, but no longer the sealed address or name.

ALTER TABLE subscriptions ALTER COLUMN email_sealed DROP NOT NULL;
ALTER TABLE subscriptions ADD COLUMN minimised_at timestamptz;

-- Each minimisation batch is an index range scan over what is due, oldest first.
CREATE INDEX subscriptions_closed_idx ON subscriptions (updated_at)
    WHERE status IN ('unsubscribed', 'suppressed') AND minimised_at IS NULL;
