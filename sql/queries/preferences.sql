-- name: manage_link_subscriptions(unsubscribe_id)
-- Every subscription of the person one of whose subscriptions a preference link names, with whether the address is suppressed.
SELECT s.id, s.list_name, s.status::text AS status, s.email_index, s.email_sealed, s.seal_key_id,
       s.locale, s.unsubscribe_id,
       EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = s.email_index) AS suppressed
FROM subscriptions s
WHERE s.email_index = (SELECT email_index FROM subscriptions WHERE unsubscribe_id = :unsubscribe_id)
ORDER BY s.id;

-- name: leave_list(subscription_id)$
-- Unsubscribes one pending or confirmed subscription without a receipt mail (the page is the receipt); its id, or NULL.
UPDATE subscriptions
SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
WHERE id = :subscription_id AND status IN ('pending', 'confirmed')
RETURNING id;

-- name: join_from_preferences(subscription_id, list_name, form_version, wording_hash, ip_hash, ip_key, user_agent)$
-- Puts the person of a subscription on another list, confirmed (the mailed link proved the address), and queues its welcome mail; the outbox id, or NULL when suppressed or already on it.
WITH person AS (
    SELECT email_index, email_index_key, email_sealed, name_sealed, seal_key_id, locale
    FROM subscriptions WHERE id = :subscription_id
), joined AS (
    INSERT INTO subscriptions AS s
        (list_name, email_index, email_index_key, email_sealed, name_sealed, seal_key_id, locale,
         consent_form_version, consent_source, consent_wording_hash, consent_ip_hash,
         consent_ip_key, status, confirmed_at, confirmed_via, confirmed_ip_hash,
         confirmed_user_agent, last_mailed_at)
    SELECT :list_name, email_index, email_index_key, email_sealed, name_sealed, seal_key_id,
           locale, :form_version, 'preferences', :wording_hash, :ip_hash, :ip_key, 'confirmed',
           now(), 'preferences', :ip_hash, :user_agent, now()
    FROM person
    WHERE NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email_index = person.email_index)
    ON CONFLICT (email_index, list_name) DO UPDATE SET
        status = 'confirmed', confirmed_at = now(), confirmed_via = 'preferences',
        confirmed_ip_hash = EXCLUDED.confirmed_ip_hash,
        confirmed_user_agent = EXCLUDED.confirmed_user_agent,
        consent_at = now(), consent_source = 'preferences', consent_origin = NULL,
        consent_actor = NULL, consent_form_version = EXCLUDED.consent_form_version,
        consent_wording_hash = EXCLUDED.consent_wording_hash,
        consent_ip_hash = EXCLUDED.consent_ip_hash, consent_ip_key = EXCLUDED.consent_ip_key,
        last_mailed_at = now(), updated_at = now()
    WHERE s.status IN ('pending', 'unsubscribed')
    RETURNING s.id
)
INSERT INTO outbox (subscription_id, kind)
SELECT id, 'welcome' FROM joined
RETURNING id;

-- name: request_data_link(subscription_id, window)$
-- Queues the mail with a link to the person's data, unless one was queued for the address within the window; the outbox id, or NULL.
INSERT INTO outbox (subscription_id, kind)
SELECT s.id, 'data_link' FROM subscriptions s
WHERE s.id = :subscription_id
  AND NOT EXISTS (
      SELECT 1 FROM outbox o JOIN subscriptions t ON t.id = o.subscription_id
      WHERE t.email_index = s.email_index AND o.kind = 'data_link'
        AND o.created_at > now() - make_interval(secs => :window))
RETURNING id;
