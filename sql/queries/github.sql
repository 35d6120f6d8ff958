-- name: join_verified(list_name, email_index, index_key, email_sealed, seal_key_id, locale, form_version, ip_hash, ip_key, wording_hash, user_agent)^
-- Subscribes an address its provider verified, confirmed at once (no confirmation mail), and queues the welcome mail; the new status, or NULL when it was confirmed or suppressed before.
WITH joined AS (
    INSERT INTO subscriptions AS s
        (list_name, email_index, email_index_key, email_sealed, seal_key_id, locale,
         consent_form_version, consent_ip_hash, consent_ip_key, consent_source,
         consent_wording_hash, status, confirmed_at, confirmed_via, confirmed_ip_hash,
         confirmed_user_agent, last_mailed_at)
    SELECT :list_name, :email_index, :index_key, :email_sealed, :seal_key_id, :locale,
           :form_version, :ip_hash, :ip_key, 'github', :wording_hash, 'confirmed', now(),
           'provider', :ip_hash, :user_agent, now()
    -- A suppressed address joins nothing, however it signs in.
    WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE email_index = :email_index)
    ON CONFLICT (email_index, list_name) DO UPDATE SET
        status = 'confirmed', confirmed_at = now(), confirmed_via = 'provider',
        confirmed_ip_hash = EXCLUDED.confirmed_ip_hash,
        confirmed_user_agent = EXCLUDED.confirmed_user_agent,
        locale = EXCLUDED.locale,
        consent_at = now(), consent_source = 'github', consent_origin = NULL,
        consent_actor = NULL, consent_form_version = EXCLUDED.consent_form_version,
        consent_wording_hash = EXCLUDED.consent_wording_hash,
        consent_ip_hash = EXCLUDED.consent_ip_hash, consent_ip_key = EXCLUDED.consent_ip_key,
        last_mailed_at = now(), updated_at = now()
    WHERE s.status IN ('pending', 'unsubscribed')
    RETURNING s.id, s.status
), queued AS (
    INSERT INTO outbox (subscription_id, kind)
    SELECT id, 'welcome' FROM joined
    RETURNING id
)
SELECT (SELECT status::text FROM joined) AS status, (SELECT id FROM queued) AS outbox_id;
