-- Running Scribe as a service (issue 12): people who come through a bot,
-- daily request limits, login throttling, the audit trail and request ids
-- carried into jobs.

-- People a service (a bot) acts for: no email and no password; named by the
-- service (its key's name) and the id the service knows them by. Keys of one
-- name act for the same people, so a key can be rotated without losing them.
ALTER TABLE users
    ALTER COLUMN email DROP NOT NULL,
    ALTER COLUMN password_hash DROP NOT NULL,
    ADD COLUMN service text NULL CHECK (length(service) BETWEEN 1 AND 100),
    ADD COLUMN external_id text NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    ADD CONSTRAINT users_kind CHECK (
        (service IS NULL AND external_id IS NULL AND email IS NOT NULL AND password_hash IS NOT NULL)
        OR (service IS NOT NULL AND external_id IS NOT NULL AND email IS NULL AND password_hash IS NULL)
    ),
    -- NULLs are distinct: web users never collide here.
    ADD CONSTRAINT users_external_key UNIQUE (service, external_id);

-- Requests each person made on each UTC day, counted against their channel's
-- DAILY_REQUEST_LIMIT in the same statement that adds to it.
CREATE TABLE daily_usage (
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day      date NOT NULL,
    requests integer NOT NULL CHECK (requests >= 0),
    PRIMARY KEY (user_id, day)
);

-- Failed logins per subject: an account (by a hash of the login as typed, so
-- a password typed into the wrong field is never kept) or an address.
CREATE TABLE login_failures (
    subject         text PRIMARY KEY,
    failures        integer NOT NULL CHECK (failures > 0),
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    blocked_until   timestamptz NULL
);

-- Who did what, when, from where: never a secret. No foreign keys, so the
-- trail outlives what it names.
CREATE TABLE audit_events (
    id             uuid PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    action         text NOT NULL,
    user_id        uuid NULL,
    service_key_id uuid NULL,
    address        text NULL,
    request_id     text NULL,
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, at) WHERE user_id IS NOT NULL;

-- What a job's creator wants to follow it (e.g. the request id), for its logs.
-- The queue carries it and never reads it.
ALTER TABLE jobs ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';

-- The per-user cap on files in flight counts these.
CREATE INDEX uploads_user_unanswered ON uploads (user_id) WHERE answered_at IS NULL;
