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
