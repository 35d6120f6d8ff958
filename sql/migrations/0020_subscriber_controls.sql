-- The subscriber's own controls (issue 26): consent given on the preference page (a list joined
-- from a mail's manage link) or by a GitHub sign-in whose address GitHub verified, and the mail
-- that carries a link to download one's own data.

ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_consent_source_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_consent_source_check
    CHECK (consent_source IN ('landing', 'kit', 'import', 'admin', 'provider', 'preferences',
                              'github'));

-- 'preferences': the manage link (mailed to the address) proved it; 'provider': GitHub did.
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_confirmed_via_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_confirmed_via_check
    CHECK (confirmed_via IN ('link', 'import', 'admin', 'provider', 'preferences'));

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirmation', 'welcome', 'already_subscribed', 'unsubscribed', 'data_link'));
