-- Outbound events for the owner's tools (subscriber.confirmed / unsubscribed / suppressed /
-- erased), written in the transaction that changes the subscription and delivered by the
-- worker through the relay, as mail is. The address travels sealed, copied from the
-- subscription, and is cleared once the event is delivered; webhook_id is fixed at write time
-- so every retry carries the same one (receivers skip duplicates by it).

CREATE TABLE outbound_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id    text NOT NULL UNIQUE
                  DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    type          text NOT NULL CHECK (type IN ('subscriber.confirmed', 'subscriber.unsubscribed',
                                                'subscriber.suppressed', 'subscriber.erased')),
    email_index   bytea NOT NULL,
    list_name     text,
    email_sealed  bytea,
    name_sealed   bytea,
    seal_key_id   text,
    reason        text,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    relayed_at    timestamptz,
    message_id    text,
    attempts      integer NOT NULL DEFAULT 0,
    sent_at       timestamptz,
    failed_at     timestamptz,
    failure       text
);

CREATE INDEX outbound_events_pending_idx ON outbound_events (relayed_at NULLS FIRST, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbound_events_sent_idx ON outbound_events (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbound_events_failed_idx ON outbound_events (failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX outbound_events_email_idx ON outbound_events (email_index);
