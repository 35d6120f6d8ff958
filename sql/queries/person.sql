-- name: person_subscriptions(email_indexes)
-- Every subscription of an address (under its current or previous blind index), with its unspent, unexpired tokens counted.
SELECT s.*, s.status::text AS status_text,
       (SELECT count(*) FROM confirmation_tokens t
        WHERE t.subscription_id = s.id AND t.consumed_at IS NULL AND t.expires_at > now())
           AS tokens_outstanding
FROM subscriptions s
WHERE s.email_index = ANY(:email_indexes::bytea[])
ORDER BY s.list_name, s.id;

-- name: person_mails(email_indexes)
-- Every mail queued to an address: kind, list, when queued, due, sent or failed, and why.
SELECT s.list_name, o.id, o.kind, o.created_at, o.not_before, o.sent_at, o.failed_at, o.failure
FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
WHERE s.email_index = ANY(:email_indexes::bytea[])
ORDER BY o.created_at, o.id;

-- name: person_suppression(email_indexes)
-- The suppression entry of an address, if any.
SELECT reason, provider, suppressed_at, email_index_key
FROM suppressions WHERE email_index = ANY(:email_indexes::bytea[]);

-- name: person_events(email_indexes)
-- Every provider event about an address.
SELECT provider, event_id, kind, occurred_at, received_at, applied_at, failed_at, detail
FROM provider_events WHERE email_index = ANY(:email_indexes::bytea[])
ORDER BY occurred_at, id;

-- name: person_audit(hexes)
-- Audit rows that name an address by its blind index (hex), one or in a list.
SELECT id, at, actor, action, params::text AS params, counts::text AS counts, outcome
FROM audit_log
WHERE params->>'email_index' = ANY(:hexes::text[])
   OR (jsonb_typeof(params->'email_indexes') = 'array' AND params->'email_indexes' ?| :hexes::text[])
ORDER BY at, id;
