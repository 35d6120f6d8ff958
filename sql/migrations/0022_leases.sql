-- Leases: which process runs a cluster-wide periodic job (the worker's purge loop), until when.
-- A row rather than a session advisory lock: behind PgBouncer in transaction pooling a session
-- lock is taken on one server connection and released, or left held for ever, on another.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);
