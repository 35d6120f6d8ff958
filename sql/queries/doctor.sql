-- name: index_key_counts(index_key)
-- Rows of each table filed under a blind-index key other than the current one, by key fingerprint.
SELECT key_id, sum(n)::bigint AS n FROM (
    SELECT email_index_key AS key_id, count(*) AS n FROM subscriptions
    WHERE email_index_key IS DISTINCT FROM :index_key GROUP BY 1
    UNION ALL
    SELECT email_index_key, count(*) FROM suppressions
    WHERE email_index_key IS DISTINCT FROM :index_key GROUP BY 1
    UNION ALL
    SELECT email_index_key, count(*) FROM provider_events
    WHERE email_index_key IS DISTINCT FROM :index_key GROUP BY 1
) AS filed
GROUP BY key_id;

-- name: server_version()$
-- The PostgreSQL server's version, as `signupctl doctor` shows it.
SELECT current_setting('server_version');
