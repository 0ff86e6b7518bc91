-- The durable file pipeline: the queue of jobs, and the recognised text on messages.

-- The text recognised from a message's file (OCR or a PDF's text layer): a
-- checkpoint a person can read, written before the LLM is asked.
ALTER TABLE messages ADD COLUMN document_text text NULL;

CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,
    queue            text NOT NULL DEFAULT 'default',
    -- available → running → succeeded | failed (retries spent or a permanent error) | cancelled
    state            text NOT NULL DEFAULT 'available'
                     CHECK (state IN ('available', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         smallint NOT NULL DEFAULT 0,
    -- Counted when a worker claims the job; a hand-back on shutdown gives it back.
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    run_at           timestamptz NOT NULL DEFAULT now(),
    -- The lease: which worker holds the job and until when.
    locked_by        text NULL,
    locked_until     timestamptz NULL,
    heartbeat_at     timestamptz NULL,
    -- The upload: bytes (dropped after success), name, sniffed type, size.
    payload          bytea NULL,
    filename         text NULL,
    content_type     text NULL,
    size             integer NULL,
    user_id          uuid NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id  uuid NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id       uuid NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- Where the job is (ocr, llm) and its checkpoints.
    stage            text NULL,
    ocr_text         text NULL,
    page_count       integer NULL,
    last_error       text NULL,
    -- [{attempt, at, error}] for every failed attempt.
    errors           jsonb NOT NULL DEFAULT '[]',
    idempotency_key  text NULL,
    -- The file's position within its upload request (for Idempotency-Key replays).
    request_position integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz NULL,
    finished_at      timestamptz NULL
);

-- Exactly the claim's WHERE and ORDER BY: only claimable rows are indexed, so
-- the index stays small however many finished jobs the table holds.
CREATE INDEX jobs_claimable ON jobs (queue, priority, run_at, id) WHERE state = 'available';
-- The rescuer's scan for expired leases.
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'running';
-- The pruner's scan for old finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX jobs_message ON jobs (message_id);
CREATE INDEX jobs_user ON jobs (user_id);
CREATE INDEX jobs_conversation ON jobs (conversation_id);
-- A retried upload with the same Idempotency-Key finds the first one's jobs.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (user_id, idempotency_key, request_position)
    WHERE idempotency_key IS NOT NULL;
