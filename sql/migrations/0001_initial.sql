-- First schema: subscriptions keyed by a blind index, hashed confirmation tokens, the mail outbox.

CREATE TYPE subscription_status AS ENUM ('pending', 'confirmed', 'unsubscribed', 'suppressed');

CREATE TABLE subscriptions (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_name             text NOT NULL,
    -- HMAC-SHA256 of the normalised address: uniqueness and look-ups without the plaintext.
    email_index           bytea NOT NULL,
    -- Written only through signup_core.sealing; ciphertext once encryption lands.
    email_sealed          bytea NOT NULL,
    name_sealed           bytea,
    seal_key_id           text,
    locale                text NOT NULL,
    status                subscription_status NOT NULL DEFAULT 'pending',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    confirmed_at          timestamptz,
    unsubscribed_at       timestamptz,
    suppressed_at         timestamptz,
    -- When we last queued a mail to this address: the resend window is measured from here.
    last_mailed_at        timestamptz,
    consent_at            timestamptz NOT NULL DEFAULT now(),
    consent_form_version  text NOT NULL,
    consent_ip_hash       bytea,
    CONSTRAINT subscriptions_email_list_key UNIQUE (email_index, list_name)
);

CREATE INDEX subscriptions_status_created_idx ON subscriptions (status, created_at);

CREATE TABLE confirmation_tokens (
    token_hash       bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    subscription_id  bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    consumed_at      timestamptz
);

CREATE INDEX confirmation_tokens_subscription_idx ON confirmation_tokens (subscription_id);
CREATE INDEX confirmation_tokens_expires_idx ON confirmation_tokens (expires_at);

CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('confirmation', 'welcome', 'already_subscribed')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- Set when a relay hands the row to the queue; NULL rows are picked up by the sweep.
    relayed_at       timestamptz,
    sent_at          timestamptz,
    failed_at        timestamptz,
    failure          text
);

-- The relay's sweep only ever looks at rows that still need work.
CREATE INDEX outbox_pending_idx ON outbox (relayed_at NULLS FIRST, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
