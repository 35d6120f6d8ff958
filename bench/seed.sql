-- name: clear_signups#
-- Empties what the signup rounds wrote, between phases.
TRUNCATE subscriptions, confirmation_tokens, outbox, provider_events, floor_signups CASCADE;

-- name: seed_confirmations(count, prefix)!
-- Pending subscriptions each with one confirmation in the outbox, as signups would leave them.
WITH subs AS (
    INSERT INTO subscriptions (list_name, email_index, email_sealed, locale, consent_form_version)
    SELECT 'newsletter', sha256(convert_to(:prefix || i, 'UTF8')),
           convert_to(:prefix || i || '@example.com', 'UTF8'), 'en', '1'
    FROM generate_series(1, :count) AS i
    RETURNING id
)
INSERT INTO outbox (subscription_id, kind) SELECT id, 'confirmation' FROM subs;
