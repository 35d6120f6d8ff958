-- Failed deliveries that are not the recipient's fault are kept, counted and never suppress:
-- blocked (policy or reputation), deferred (the provider is still trying), other.

ALTER TABLE provider_events DROP CONSTRAINT provider_events_kind_check;
ALTER TABLE provider_events ADD CONSTRAINT provider_events_kind_check
    CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe', 'delivered',
                    'blocked', 'deferred', 'other'));
