-- The consent record a regulator or a mailbox provider asks for, per subscription: where consent
-- was given (and by whose hand for an import or the admin API), a hash of the wording shown, the
-- key the consent IP hash was made with, and how and from where the confirming click came.
-- Rows written before this migration leave the new columns NULL ("not recorded then"), except
-- confirmed_via: a confirmation link was the only way to be confirmed before imports.

ALTER TABLE subscriptions
    ADD COLUMN consent_source text
        CHECK (consent_source IN ('landing', 'kit', 'import', 'admin', 'provider')),
    -- The kit's page origin, the import batch id, or nothing (our own landing page).
    ADD COLUMN consent_origin text,
    -- SHA-256 of the consent wording shown (or, for an import, of the source the operator stated).
    ADD COLUMN consent_wording_hash bytea,
    -- Fingerprint of the key consent_ip_hash was made with (signup_core.consent).
    ADD COLUMN consent_ip_key text,
    -- The operator who imported the row (their audit-trail name), never a subscriber.
    ADD COLUMN consent_actor text,
    ADD COLUMN confirmed_via text CHECK (confirmed_via IN ('link', 'import', 'admin', 'provider')),
    ADD COLUMN confirmed_ip_hash bytea,
    -- Browser family of the confirming click ("Firefox", "Chrome", ...), never the full header.
    ADD COLUMN confirmed_user_agent text;

UPDATE subscriptions SET confirmed_via = 'link' WHERE confirmed_at IS NOT NULL;
