-- name: relay_due()^
-- Which tables hold rows the relay would claim now: an idle poll is this one statement, not
-- a claiming transaction per table. Each test is its claim query's WHERE, on the same index.
SELECT EXISTS (
           SELECT 1 FROM outbox
           WHERE sent_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL
             AND coalesce(not_before, '-infinity'::timestamptz) <= now()
       ) AS mail,
       EXISTS (
           SELECT 1 FROM provider_events
           WHERE applied_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL
       ) AS events,
       EXISTS (
           SELECT 1 FROM outbound_events
           WHERE sent_at IS NULL AND failed_at IS NULL AND relayed_at IS NULL
       ) AS hooks;
