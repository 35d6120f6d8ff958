-- name: import_batch(list_names, email_indexes, emails_sealed, names_sealed, locales, consent_ats, wording_hashes, ip_hashes, index_key, seal_key_id, ip_key, form_version, batch_id, actor, confirmed, start, first, spacing)^
-- Imports one batch of checked rows: new addresses inserted (confirmed, or pending with a paced confirmation), others counted.
WITH input AS (
    SELECT * FROM unnest(:list_names::text[], :email_indexes::bytea[], :emails_sealed::bytea[],
                         :names_sealed::bytea[], :locales::text[], :consent_ats::timestamptz[],
                         :wording_hashes::bytea[], :ip_hashes::bytea[])
        AS i (list_name, email_index, email_sealed, name_sealed, locale, consent_at,
              wording_hash, ip_hash)
), blocked AS (
    SELECT 1 FROM input i
    WHERE EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = i.email_index)
), earlier AS (
    -- Rows this same import (same file, same options) wrote on an earlier run.
    SELECT 1 FROM input i
    JOIN subscriptions s ON s.email_index = i.email_index AND s.list_name = i.list_name
    WHERE s.consent_source = 'import' AND s.consent_origin = :batch_id
      AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = i.email_index)
), added AS (
    INSERT INTO subscriptions AS s
        (list_name, email_index, email_index_key, email_sealed, name_sealed, seal_key_id, locale,
         status, confirmed_at, confirmed_via, last_mailed_at, consent_at, consent_form_version,
         consent_source, consent_origin, consent_actor, consent_wording_hash, consent_ip_hash,
         consent_ip_key)
    SELECT i.list_name, i.email_index, :index_key, i.email_sealed, i.name_sealed, :seal_key_id,
           i.locale,
           CASE WHEN :confirmed THEN 'confirmed' ELSE 'pending' END::subscription_status,
           CASE WHEN :confirmed THEN now() END, CASE WHEN :confirmed THEN 'import' END,
           CASE WHEN :confirmed THEN NULL ELSE now() END,
           i.consent_at, :form_version, 'import', :batch_id, :actor, i.wording_hash, i.ip_hash,
           CASE WHEN i.ip_hash IS NULL THEN NULL ELSE CAST(:ip_key AS text) END
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = i.email_index)
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
SELECT (SELECT count(*) FROM added) AS imported, (SELECT count(*) FROM blocked) AS suppressed,
       (SELECT count(*) FROM earlier) AS resumed, (SELECT count(*) FROM queued) AS queued,
       greatest(CAST(:start AS timestamptz), now()) AS paced_from;
