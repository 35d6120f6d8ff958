-- name: upsert_signups(list_names, email_indexes, held_indexes, previous_indexes, emails_sealed, names_sealed, locales, ip_hashes, ip_keys, consent_sources, consent_origins, wording_hashes, traceparents, index_key, seal_key_id, form_version, resend_window, reveal_existing)
-- Creates or refreshes one subscription per array position (no address and list twice) and queues each due mail; one round trip, one row back per position n, in order.
-- With reveal_existing, a confirmed address is told so on screen (409) and gets no mail.
-- Refused as a whole (SQLSTATE 55000, blind_index_key_guard) when index_key is no longer the current key.
WITH guard AS (
    -- Once per statement, whatever the number of rows (a volatile CTE is never inlined).
    SELECT blind_index_key_guard(:index_key) AS index_key
), input AS (
    SELECT *
    FROM unnest(:list_names::text[], :email_indexes::bytea[], :held_indexes::bytea[],
                :previous_indexes::bytea[], :emails_sealed::bytea[], :names_sealed::bytea[],
                :locales::text[], :ip_hashes::bytea[], :ip_keys::text[], :consent_sources::text[],
                :consent_origins::text[], :wording_hashes::bytea[], :traceparents::text[])
         WITH ORDINALITY AS i (list_name, email_index, held_index, previous_index, email_sealed,
                               name_sealed, locale, ip_hash, ip_key, consent_source,
                               consent_origin, wording_hash, traceparent, n)
), upserted AS (
    INSERT INTO subscriptions AS s
        (list_name, email_index, email_index_key, email_sealed, name_sealed, seal_key_id, locale,
         consent_form_version, consent_ip_hash, consent_ip_key, consent_source, consent_origin,
         consent_wording_hash, last_mailed_at, status)
    SELECT i.list_name, i.email_index, g.index_key, i.email_sealed, i.name_sealed, :seal_key_id,
           i.locale, :form_version, i.ip_hash, i.ip_key, i.consent_source, i.consent_origin,
           i.wording_hash, now(),
           -- An address suppressed on any list (or with no row at all) is suppressed on this one,
           -- whichever key its entry is filed under: the current index, the suppression key's
           -- hash, the previous key's during a rotation (NULL outside one).
           CASE WHEN EXISTS (SELECT 1 FROM suppressions x
                             WHERE x.email_index IN (i.email_index, i.held_index, i.previous_index))
                THEN 'suppressed'::subscription_status ELSE 'pending' END
    FROM guard g CROSS JOIN input i
    -- The callers send rows sorted by index and list: concurrent batches lock in one order.
    ORDER BY i.n
    ON CONFLICT (email_index, list_name) DO UPDATE SET
        -- Someone who unsubscribed may sign up again; a suppressed address stays suppressed.
        status = CASE WHEN EXCLUDED.status = 'suppressed' THEN 'suppressed'
                      WHEN s.status = 'unsubscribed' THEN 'pending'::subscription_status
                      ELSE s.status END,
        -- An unauthenticated request may refresh only what is not yet confirmed.
        email_sealed = CASE WHEN s.status IN ('pending', 'unsubscribed')
                            THEN EXCLUDED.email_sealed ELSE s.email_sealed END,
        name_sealed = CASE WHEN s.status IN ('pending', 'unsubscribed')
                           THEN EXCLUDED.name_sealed ELSE s.name_sealed END,
        seal_key_id = CASE WHEN s.status IN ('pending', 'unsubscribed')
                           THEN EXCLUDED.seal_key_id ELSE s.seal_key_id END,
        locale = CASE WHEN s.status IN ('pending', 'unsubscribed')
                      THEN EXCLUDED.locale ELSE s.locale END,
        consent_at = CASE WHEN s.status IN ('pending', 'unsubscribed')
                          THEN now() ELSE s.consent_at END,
        consent_form_version = CASE WHEN s.status IN ('pending', 'unsubscribed')
                                    THEN EXCLUDED.consent_form_version
                                    ELSE s.consent_form_version END,
        consent_ip_hash = CASE WHEN s.status IN ('pending', 'unsubscribed')
                               THEN EXCLUDED.consent_ip_hash ELSE s.consent_ip_hash END,
        consent_ip_key = CASE WHEN s.status IN ('pending', 'unsubscribed')
                              THEN EXCLUDED.consent_ip_key ELSE s.consent_ip_key END,
        consent_source = CASE WHEN s.status IN ('pending', 'unsubscribed')
                              THEN EXCLUDED.consent_source ELSE s.consent_source END,
        consent_origin = CASE WHEN s.status IN ('pending', 'unsubscribed')
                              THEN EXCLUDED.consent_origin ELSE s.consent_origin END,
        consent_wording_hash = CASE WHEN s.status IN ('pending', 'unsubscribed')
                                    THEN EXCLUDED.consent_wording_hash
                                    ELSE s.consent_wording_hash END,
        consent_actor = CASE WHEN s.status IN ('pending', 'unsubscribed')
                             THEN NULL ELSE s.consent_actor END,
        minimised_at = CASE WHEN s.status IN ('pending', 'unsubscribed')
                            THEN NULL ELSE s.minimised_at END,
        last_mailed_at = CASE
            WHEN s.status = 'suppressed' THEN s.last_mailed_at
            WHEN s.status = 'confirmed' AND :reveal_existing THEN s.last_mailed_at
            WHEN s.status = 'unsubscribed' THEN now()
            WHEN s.last_mailed_at IS NULL
              OR s.last_mailed_at <= now() - make_interval(secs => :resend_window) THEN now()
            ELSE s.last_mailed_at END,
        updated_at = now()
    RETURNING s.id, s.status, s.last_mailed_at = now() AS mail_due, s.email_index, s.list_name
), matched AS (
    SELECT i.n, i.traceparent, u.id, u.status, u.mail_due
    FROM input i JOIN upserted u ON u.email_index = i.email_index AND u.list_name = i.list_name
), queued AS (
    INSERT INTO outbox (subscription_id, kind, traceparent)
    SELECT id, CASE WHEN status = 'confirmed' THEN 'already_subscribed' ELSE 'confirmation' END,
           traceparent
    FROM matched
    WHERE mail_due
      AND (status = 'pending' OR (status = 'confirmed' AND NOT :reveal_existing))
    RETURNING id, subscription_id
)
SELECT m.n, m.status::text AS status, q.id AS outbox_id
FROM matched m LEFT JOIN queued q ON q.subscription_id = m.id
ORDER BY m.n;

-- name: find_subscription_for_link(unsubscribe_id)$
-- The subscription an unsubscribe link names by its random id, or NULL.
SELECT id FROM subscriptions WHERE unsubscribe_id = :unsubscribe_id;
