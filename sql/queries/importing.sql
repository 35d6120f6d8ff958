-- name: import_stage()!
-- A temporary table for one batch of checked, sealed rows (filled by COPY), dropped at commit.
CREATE TEMPORARY TABLE import_stage (
    list_name      text,
    email_index    bytea,
    -- The address's hash under the suppression key (the same as email_index without one).
    held_index     bytea,
    email_sealed   bytea,
    name_sealed    bytea,
    locale         text,
    consent_at     timestamptz,
    wording_hash   bytea,
    ip_hash        bytea,
    -- Drawn by the import: the column's gen_random_uuid() default was a quarter of the insert.
    unsubscribe_id uuid
) ON COMMIT DROP;

-- name: import_batch(index_key, seal_key_id, ip_key, form_version, batch_id, actor, confirmed, start, first, spacing)^
-- Imports the staged batch: new addresses inserted (confirmed, or pending with a paced confirmation), others counted.
WITH staged AS MATERIALIZED (
    -- Per row, by index look-ups (subqueries, so no join plan can scan the whole table):
    -- suppressed on any list under either key (never imported, counted), and already on its
    -- list from an earlier run of this same import (same file, same options).
    SELECT i.*,
           EXISTS (SELECT 1 FROM suppressions x
                   WHERE x.email_index IN (i.email_index, i.held_index)) AS suppressed,
           (SELECT s.consent_source = 'import' AND s.consent_origin = :batch_id
            FROM subscriptions s
            WHERE s.email_index = i.email_index AND s.list_name = i.list_name) AS earlier
    FROM import_stage i
), added AS (
    INSERT INTO subscriptions AS s
        (list_name, email_index, email_index_key, email_sealed, name_sealed, seal_key_id, locale,
         status, confirmed_at, confirmed_via, last_mailed_at, consent_at, consent_form_version,
         consent_source, consent_origin, consent_actor, consent_wording_hash, consent_ip_hash,
         consent_ip_key, unsubscribe_id)
    SELECT i.list_name, i.email_index, :index_key, i.email_sealed, i.name_sealed, :seal_key_id,
           i.locale,
           CASE WHEN :confirmed THEN 'confirmed' ELSE 'pending' END::subscription_status,
           CASE WHEN :confirmed THEN now() END, CASE WHEN :confirmed THEN 'import' END,
           CASE WHEN :confirmed THEN NULL ELSE now() END,
           i.consent_at, :form_version, 'import', :batch_id, :actor, i.wording_hash, i.ip_hash,
           CASE WHEN i.ip_hash IS NULL THEN NULL ELSE CAST(:ip_key AS text) END,
           i.unsubscribe_id
    FROM staged i
    WHERE NOT i.suppressed
    ON CONFLICT (email_index, list_name) DO NOTHING
    RETURNING s.id
), queued AS (
    -- One confirmation per new address, each `spacing` seconds after the one before.
    INSERT INTO outbox (subscription_id, kind, not_before)
    -- Paced from the first batch's own time, never from the past: a mail due before it was
    -- queued would go at once, closer to the one before than the rate allows.
    SELECT id, 'confirmation',
           greatest(CAST(:start AS timestamptz), now())
           + make_interval(secs => (:first + row_number() OVER (ORDER BY id) - 1) * :spacing)
    FROM added WHERE NOT :confirmed
    RETURNING 1
)
SELECT (SELECT count(*) FROM added) AS imported,
       (SELECT count(*) FROM staged WHERE suppressed) AS suppressed,
       (SELECT count(*) FROM staged WHERE earlier AND NOT suppressed) AS resumed, (SELECT count(*) FROM queued) AS queued,
       greatest(CAST(:start AS timestamptz), now()) AS paced_from;
