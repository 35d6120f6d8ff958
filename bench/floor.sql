-- name: create_floor_table#
-- The floor app's one table: what the least possible signup writes.
CREATE TABLE IF NOT EXISTS floor_signups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- name: insert_floor_signup(email, token_hash)$
-- One signup, as one INSERT ... ON CONFLICT.
INSERT INTO floor_signups (email, token_hash) VALUES (:email, :token_hash)
ON CONFLICT (email) DO UPDATE SET token_hash = EXCLUDED.token_hash
RETURNING id;
