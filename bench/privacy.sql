-- name: seed_confirmed(count, email_sealed, name_sealed, key_id)!
-- Confirmed subscriptions sharing one sealed address, each with its own blind index.
INSERT INTO subscriptions (list_name, email_index, email_sealed, name_sealed, seal_key_id,
                           locale, consent_form_version, status, confirmed_at)
SELECT 'newsletter', sha256(convert_to('c' || i, 'UTF8')), :email_sealed, :name_sealed, :key_id,
       'en', '1', 'confirmed', now()
FROM generate_series(1, :count) AS i;

-- name: seed_expired_pending(count)!
-- Pending subscriptions last touched 60 days ago, each with a sent confirmation.
WITH subs AS (
    INSERT INTO subscriptions (list_name, email_index, email_sealed, locale,
                               consent_form_version, updated_at)
    SELECT 'newsletter', sha256(convert_to('p' || i, 'UTF8')), '\x00', 'en', '1',
           now() - interval '60 days'
    FROM generate_series(1, :count) AS i
    RETURNING id
)
INSERT INTO outbox (subscription_id, kind, sent_at)
SELECT id, 'confirmation', now() - interval '60 days' FROM subs;

-- name: clear#
-- Empties the tables between phases.
TRUNCATE subscriptions, confirmation_tokens, outbox, provider_events CASCADE;
