-- name: purge_pending(cutoff, batch)$
-- Deletes one batch of subscriptions left unconfirmed since before the cutoff (their tokens and mails go with them).
WITH doomed AS (
    SELECT id FROM subscriptions
    WHERE status = 'pending' AND updated_at < :cutoff
    ORDER BY updated_at LIMIT :batch
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM subscriptions s USING doomed WHERE s.id = doomed.id RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_pending(cutoff)$
-- How many subscriptions purge_pending would delete.
SELECT count(*) FROM subscriptions WHERE status = 'pending' AND updated_at < :cutoff;

-- name: purge_tokens(cutoff, batch)$
-- Deletes one batch of confirmation tokens spent or expired before the cutoff.
WITH doomed AS (
    SELECT token_hash FROM confirmation_tokens WHERE consumed_at < :cutoff
    UNION
    SELECT token_hash FROM confirmation_tokens WHERE expires_at < :cutoff
    LIMIT :batch
), gone AS (
    DELETE FROM confirmation_tokens t USING doomed
    WHERE t.token_hash = doomed.token_hash RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_tokens(cutoff)$
-- How many tokens purge_tokens would delete.
SELECT count(*) FROM confirmation_tokens WHERE consumed_at < :cutoff OR expires_at < :cutoff;

-- name: purge_outbox(cutoff, batch)$
-- Deletes one batch of outbox rows sent before the cutoff.
WITH doomed AS (
    SELECT id FROM outbox WHERE sent_at < :cutoff ORDER BY sent_at LIMIT :batch
), gone AS (
    DELETE FROM outbox o USING doomed WHERE o.id = doomed.id RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_outbox(cutoff)$
-- How many outbox rows purge_outbox would delete.
SELECT count(*) FROM outbox WHERE sent_at < :cutoff;

-- name: purge_events(cutoff, batch)$
-- Deletes one batch of provider events applied before the cutoff.
WITH doomed AS (
    SELECT id FROM provider_events WHERE applied_at < :cutoff ORDER BY applied_at LIMIT :batch
), gone AS (
    DELETE FROM provider_events e USING doomed WHERE e.id = doomed.id RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_events(cutoff)$
-- How many provider events purge_events would delete.
SELECT count(*) FROM provider_events WHERE applied_at < :cutoff;

-- name: take_lease(name, holder, ttl_seconds)$
-- Takes or renews a named lease unless another holder has it unexpired; true if now held.
INSERT INTO leases (name, holder, expires_at)
VALUES (:name, :holder, now() + make_interval(secs => :ttl_seconds))
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
RETURNING true;

-- name: drop_lease(name, holder)!
-- Gives a lease up before it expires, if this holder still has it.
DELETE FROM leases WHERE name = :name AND holder = :holder;

-- name: minimise_closed(cutoff, batch)$
-- Strips one batch of subscriptions unsubscribed or suppressed before the cutoff down to what suppression and proof need (no address, no name).
WITH due AS (
    SELECT id FROM subscriptions
    WHERE status IN ('unsubscribed', 'suppressed') AND minimised_at IS NULL
      AND updated_at < :cutoff
    ORDER BY updated_at LIMIT :batch
    FOR UPDATE SKIP LOCKED
), done AS (
    UPDATE subscriptions s
    SET email_sealed = NULL, name_sealed = NULL, minimised_at = now()
    FROM due WHERE s.id = due.id
    RETURNING 1
)
SELECT count(*) FROM done;

-- name: count_closed(cutoff)$
-- How many subscriptions minimise_closed would strip.
SELECT count(*) FROM subscriptions
WHERE status IN ('unsubscribed', 'suppressed') AND minimised_at IS NULL AND updated_at < :cutoff;

-- name: purge_dead_letters(cutoff, batch)$
-- Deletes one batch of outbox rows dead-lettered (never sent) before the cutoff.
WITH doomed AS (
    SELECT id FROM outbox WHERE failed_at < :cutoff AND sent_at IS NULL
    ORDER BY failed_at LIMIT :batch
), gone AS (
    DELETE FROM outbox o USING doomed WHERE o.id = doomed.id RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_dead_letters(cutoff)$
-- How many outbox rows purge_dead_letters would delete.
SELECT count(*) FROM outbox WHERE failed_at < :cutoff AND sent_at IS NULL;

-- name: purge_sent_hooks(cutoff, batch)$
-- Deletes one batch of outbound events delivered before the cutoff.
WITH doomed AS (
    SELECT id FROM outbound_events WHERE sent_at < :cutoff ORDER BY sent_at LIMIT :batch
), gone AS (
    DELETE FROM outbound_events e USING doomed WHERE e.id = doomed.id RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_sent_hooks(cutoff)$
-- How many outbound events purge_sent_hooks would delete.
SELECT count(*) FROM outbound_events WHERE sent_at < :cutoff;

-- name: purge_dead_hooks(cutoff, batch)$
-- Deletes one batch of outbound events dead-lettered before the cutoff (and the address they carry).
WITH doomed AS (
    SELECT id FROM outbound_events WHERE failed_at < :cutoff AND sent_at IS NULL
    ORDER BY failed_at LIMIT :batch
), gone AS (
    DELETE FROM outbound_events e USING doomed WHERE e.id = doomed.id RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_dead_hooks(cutoff)$
-- How many outbound events purge_dead_hooks would delete.
SELECT count(*) FROM outbound_events WHERE failed_at < :cutoff AND sent_at IS NULL;
