-- name: create_migrations_table#
-- Creates the bookkeeping table that records which migration files ran.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: lock_migrations()$
-- Takes the transaction-scoped advisory lock that serialises concurrent migration runners.
SELECT pg_advisory_xact_lock(7361626537);

-- name: applied_migrations()
-- Lists every migration already applied with its checksum.
SELECT version, checksum FROM schema_migrations ORDER BY version;

-- name: record_migration(version, checksum)!
-- Records one applied migration file.
INSERT INTO schema_migrations (version, checksum) VALUES (:version, :checksum);
