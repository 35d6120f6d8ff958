-- name: upsert_signup(list_name, email_index, index_key, email_sealed, name_sealed, seal_key_id, locale, form_version, ip_hash, ip_key, consent_source, consent_origin, wording_hash, resend_window, reveal_existing, traceparent)^
-- Creates or refreshes a subscription and, when a mail is due, queues it in the outbox; one round trip.
-- With reveal_existing, a confirmed address is told so on screen (409) and gets no mail.
WITH upserted AS (
    INSERT INTO subscriptions AS s
        (list_name, email_index, email_index_key, email_sealed, name_sealed, seal_key_id, locale,
         consent_form_version, consent_ip_hash, consent_ip_key, consent_source, consent_origin,
         consent_wording_hash, last_mailed_at, status)
    VALUES
        (:list_name, :email_index, :index_key, :email_sealed, :name_sealed, :seal_key_id, :locale,
         :form_version, :ip_hash, :ip_key, :consent_source, :consent_origin, :wording_hash, now(),
         -- An address suppressed on any list (or with no row at all) is suppressed on this one.
         CASE WHEN EXISTS (SELECT 1 FROM suppressions WHERE email_index = :email_index)
              THEN 'suppressed'::subscription_status ELSE 'pending' END)
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
    RETURNING s.id, s.status, s.last_mailed_at = now() AS mail_due
), queued AS (
    INSERT INTO outbox (subscription_id, kind, traceparent)
    SELECT id, CASE WHEN status = 'confirmed' THEN 'already_subscribed' ELSE 'confirmation' END,
           :traceparent
    FROM upserted
    WHERE mail_due
      AND (status = 'pending' OR (status = 'confirmed' AND NOT :reveal_existing))
    RETURNING id
)
SELECT upserted.status::text AS status, (SELECT id FROM queued) AS outbox_id FROM upserted;

-- name: find_subscription_for_link(unsubscribe_id)$
-- The subscription an unsubscribe link names by its random id, or NULL.
SELECT id FROM subscriptions WHERE unsubscribe_id = :unsubscribe_id;
