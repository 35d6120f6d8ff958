-- A provider that will not send to an address any more (it is on the provider's own suppression
-- list or blocklist: Resend's email.suppressed, Brevo's blocked) says so as 'suppressed'.

ALTER TABLE provider_events DROP CONSTRAINT provider_events_kind_check;
ALTER TABLE provider_events ADD CONSTRAINT provider_events_kind_check
    CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe', 'delivered',
                    'blocked', 'deferred', 'other', 'suppressed'));
