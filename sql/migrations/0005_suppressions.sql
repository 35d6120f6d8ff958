-- Suppression belongs to the address, not to a list row: one entry per blind index, consulted by
-- signup and by the sender, kept even for an address with no subscription (and after erasure).

CREATE TABLE suppressions (
    email_index    bytea PRIMARY KEY,
    reason         text NOT NULL,
    provider       text,
    suppressed_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO suppressions (email_index, reason, suppressed_at)
SELECT DISTINCT ON (email_index) email_index, coalesce(suppression_reason, 'unknown'),
       coalesce(suppressed_at, updated_at)
FROM subscriptions WHERE status = 'suppressed'
ORDER BY email_index, suppressed_at NULLS LAST;
