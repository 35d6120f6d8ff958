-- name: lock_address_mail(email_index)
-- Locks an address's outbox rows first, in the order the sender takes them (outbox, then
-- subscription), so an erasure waits for a mail being sent instead of deadlocking with it.
SELECT o.id FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
WHERE s.email_index = :email_index
ORDER BY o.id
FOR UPDATE OF o;

-- name: erase_address(email_index, events)^
-- Deletes every subscription, token, outbox row, provider event and undelivered outbound event of an address (with events, announcing the erasure); counts each.
WITH subs AS (
    SELECT id, email_sealed, seal_key_id FROM subscriptions WHERE email_index = :email_index
    FOR UPDATE
), forgotten AS (
    DELETE FROM outbound_events WHERE email_index = :email_index RETURNING 1
), announced AS (
    INSERT INTO outbound_events (type, email_index, email_sealed, seal_key_id)
    SELECT 'subscriber.erased', :email_index, email_sealed, seal_key_id FROM subs
    WHERE :events ORDER BY id LIMIT 1
), tokens AS (
    DELETE FROM confirmation_tokens WHERE subscription_id IN (SELECT id FROM subs) RETURNING 1
), mails AS (
    DELETE FROM outbox WHERE subscription_id IN (SELECT id FROM subs) RETURNING 1
), events AS (
    DELETE FROM provider_events WHERE email_index = :email_index RETURNING 1
), gone AS (
    DELETE FROM subscriptions WHERE id IN (SELECT id FROM subs) RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS subscriptions,
       (SELECT count(*) FROM tokens) AS tokens,
       (SELECT count(*) FROM mails) AS outbox,
       (SELECT count(*) FROM events) AS events,
       EXISTS (SELECT 1 FROM suppressions WHERE email_index = :email_index) AS suppression_kept;

-- name: unsuppress_address(email_index)^
-- Lifts an address's suppression; its suppressed rows become unsubscribed (a new signup re-confirms).
WITH lifted AS (
    DELETE FROM suppressions WHERE email_index = :email_index RETURNING 1
), rows AS (
    UPDATE subscriptions
    SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
    WHERE email_index = :email_index AND status = 'suppressed'
    RETURNING 1
)
SELECT (SELECT count(*) FROM lifted) AS suppressions, (SELECT count(*) FROM rows) AS subscriptions;

-- name: is_suppressed(email_index)$
-- Whether an address is on the suppression list.
SELECT EXISTS (SELECT 1 FROM suppressions WHERE email_index = :email_index);

-- name: resend_confirmation(email_index, list_name)$
-- Queues a fresh confirmation for each pending, unsuppressed subscription of an address; counts them.
WITH due AS (
    UPDATE subscriptions SET last_mailed_at = now(), updated_at = now()
    WHERE email_index = :email_index AND status = 'pending'
      AND (CAST(:list_name AS text) IS NULL OR list_name = :list_name)
      AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = :email_index)
    RETURNING id
), queued AS (
    INSERT INTO outbox (subscription_id, kind) SELECT id, 'confirmation' FROM due RETURNING 1
)
SELECT count(*) FROM queued;

-- name: export_confirmed(list_name, since, until)
-- Confirmed subscribers, oldest first, optionally of one list and confirmed within [since, until).
SELECT s.email_sealed, s.name_sealed, s.seal_key_id, s.list_name, s.locale, s.confirmed_at,
       s.consent_form_version, s.unsubscribe_id, s.consent_at, s.consent_source, s.consent_origin,
       s.consent_wording_hash, s.consent_ip_hash, s.consent_ip_key, s.consent_actor,
       s.confirmed_via, s.confirmed_ip_hash, s.confirmed_user_agent
FROM subscriptions s
WHERE s.status = 'confirmed'
  AND (CAST(:list_name AS text) IS NULL OR s.list_name = :list_name)
  AND (CAST(:since AS timestamptz) IS NULL OR s.confirmed_at >= :since)
  AND (CAST(:until AS timestamptz) IS NULL OR s.confirmed_at < :until)
ORDER BY s.id;

-- name: list_stats(now)
-- Per list: counts by status, signups and confirmations in the last day and week, 30-day rates.
WITH subs AS (
    SELECT list_name,
           count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
           count(*) FILTER (WHERE status = 'unsubscribed') AS unsubscribed,
           count(*) FILTER (WHERE status = 'suppressed') AS suppressed,
           count(*) FILTER (WHERE created_at >= CAST(:now AS timestamptz) - interval '1 day') AS signups_day,
           count(*) FILTER (WHERE created_at >= CAST(:now AS timestamptz) - interval '7 days') AS signups_week,
           count(*) FILTER (WHERE confirmed_at >= CAST(:now AS timestamptz) - interval '1 day') AS confirmed_day,
           count(*) FILTER (WHERE confirmed_at >= CAST(:now AS timestamptz) - interval '7 days') AS confirmed_week,
           count(*) FILTER (WHERE created_at >= CAST(:now AS timestamptz) - interval '30 days') AS signups_month,
           count(*) FILTER (WHERE created_at >= CAST(:now AS timestamptz) - interval '30 days'
                              AND confirmed_at IS NOT NULL) AS confirmed_of_month
    FROM subscriptions GROUP BY list_name
), sent AS (
    SELECT s.list_name, count(*) AS mails
    FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
    WHERE o.sent_at >= CAST(:now AS timestamptz) - interval '30 days' GROUP BY s.list_name
), events AS (
    SELECT s.list_name,
           count(*) FILTER (WHERE e.kind IN ('hard_bounce', 'soft_bounce')) AS bounces,
           count(*) FILTER (WHERE e.kind = 'complaint') AS complaints
    FROM provider_events e JOIN subscriptions s ON s.email_index = e.email_index
    WHERE e.occurred_at >= CAST(:now AS timestamptz) - interval '30 days' GROUP BY s.list_name
)
SELECT subs.*, coalesce(sent.mails, 0) AS mails_month,
       coalesce(events.bounces, 0) AS bounces_month,
       coalesce(events.complaints, 0) AS complaints_month
FROM subs LEFT JOIN sent USING (list_name) LEFT JOIN events USING (list_name)
ORDER BY list_name;

-- name: dead_letters(limit)
-- Outbox rows that failed for good, newest first, with why (never an address).
SELECT o.id, o.kind, s.list_name, o.created_at, o.failed_at, o.failure
FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
WHERE o.failed_at IS NOT NULL AND o.sent_at IS NULL
ORDER BY o.failed_at DESC, o.id DESC
LIMIT :limit;

-- name: replay_dead_letters(outbox_id)$
-- Resets failed outbox rows (one, or all when outbox_id is NULL) so the relay queues them again.
WITH reset AS (
    UPDATE outbox SET failed_at = NULL, failure = NULL, relayed_at = NULL, message_id = NULL
    WHERE failed_at IS NOT NULL AND sent_at IS NULL
      AND (CAST(:outbox_id AS bigint) IS NULL OR id = :outbox_id)
    RETURNING 1
)
SELECT count(*) FROM reset;

-- name: record_audit(actor, action, params, counts, outcome)!
-- Records one operator action: who, what, with which (PII-free) parameters, and counts.
INSERT INTO audit_log (actor, action, params, counts, outcome)
VALUES (:actor, :action, :params::jsonb, :counts::jsonb, :outcome);

-- name: audit_entries(since, limit)
-- Audit rows since a time, newest first.
SELECT id, at, actor, action, params::text AS params, counts::text AS counts, outcome
FROM audit_log
WHERE CAST(:since AS timestamptz) IS NULL OR at >= :since
ORDER BY at DESC, id DESC
LIMIT :limit;

-- name: list_has_rows(list_name)$
-- Whether any subscription is on a list (one that is no longer configured may still hold rows).
SELECT EXISTS (SELECT 1 FROM subscriptions WHERE list_name = :list_name);
