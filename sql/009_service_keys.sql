-- Service keys: what a bot (or any other service) sends as X-API-KEY to act
-- for its own people. Only a hash of each key is kept: the key itself is
-- printed once, when it is created, and cannot be read back.
CREATE TABLE service_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The key's first characters, to recognise it in lists and logs (never enough to use it).
    prefix       text NOT NULL,
    -- SHA-256 of the whole key: keys are 256 random bits, so a fast hash is safe.
    key_hash     bytea NOT NULL UNIQUE,
    -- What the key may do: chat, files.
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NULL,
    revoked_at   timestamptz NULL
);
