-- name: ping()$
-- Proves the database answers.
SELECT 1;
