-- Stages on a generic queue (issue 10).
--
-- The queue's `jobs` table now knows only jobs: a kind, a queue, JSON args,
-- priority, fair turns, attempts, run_at and a lease. What an upload is lives
-- in `uploads`; each file is worked through as stage jobs that name it in
-- their args: `ocr` (queue `ocr`) reads the file and enqueues `answer`
-- (queue `answer`), which asks the LLM and writes the assistant message.

CREATE TABLE uploads (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- The user message that carries the file.
    message_id       uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    filename         text NOT NULL,
    content_type     text NOT NULL,
    size             integer NOT NULL,
    -- The bytes, dropped once the file is answered (or after JOB_PAYLOAD_RETENTION_SECONDS).
    payload          bytea NULL,
    idempotency_key  text NULL,
    -- The file's position within its upload request (for Idempotency-Key replays).
    request_position integer NOT NULL DEFAULT 0,
    -- The OCR checkpoint: the text read from the file and its page count.
    document_text    text NULL,
    page_count       integer NULL,
    -- The stage jobs, for GET /v1/jobs/{id} (no foreign key: old jobs are pruned).
    ocr_job_id       uuid NULL,
    answer_job_id    uuid NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    answered_at      timestamptz NULL
);
ALTER TABLE uploads ALTER COLUMN payload SET STORAGE EXTERNAL;
CREATE INDEX uploads_message ON uploads (message_id);
CREATE INDEX uploads_user ON uploads (user_id);
CREATE INDEX uploads_conversation ON uploads (conversation_id);
CREATE UNIQUE INDEX uploads_idempotency ON uploads (user_id, idempotency_key, request_position)
    WHERE idempotency_key IS NOT NULL;
-- The payload pruner's scan (retention above zero).
CREATE INDEX uploads_answered ON uploads (answered_at) WHERE payload IS NOT NULL AND answered_at IS NOT NULL;

ALTER TABLE jobs ADD COLUMN args jsonb NOT NULL DEFAULT '{}';

-- Every upload job becomes an upload (same id, so job ids already handed out
-- still answer at GET /v1/jobs/{id}) and its job the stage it had reached:
-- `ocr` until the text was checkpointed, `answer` after.
INSERT INTO uploads (id, user_id, conversation_id, message_id, filename, content_type, size, payload,
                     idempotency_key, request_position, document_text, page_count, ocr_job_id, answer_job_id,
                     created_at, answered_at)
SELECT id, user_id, conversation_id, message_id, coalesce(filename, 'upload'), coalesce(content_type, 'application/octet-stream'),
       coalesce(size, 0), payload, idempotency_key, request_position, ocr_text, page_count,
       CASE WHEN ocr_text IS NULL THEN id END, CASE WHEN ocr_text IS NOT NULL THEN id END,
       created_at, CASE WHEN state = 'succeeded' THEN finished_at END
FROM jobs
WHERE kind = 'process_upload' AND user_id IS NOT NULL AND conversation_id IS NOT NULL AND message_id IS NOT NULL;

-- Jobs of an upload whose message or owner is gone have nothing left to do.
DELETE FROM jobs WHERE kind = 'process_upload' AND id NOT IN (SELECT id FROM uploads);

-- A job running at the upgrade is handed back without spending an attempt:
-- the old worker holding it can no longer write its outcome (the columns it
-- writes are gone), so a new worker runs it again from its checkpoint.
UPDATE messages m SET status = 'queued', updated_at = now()
FROM jobs j
WHERE j.kind = 'process_upload' AND j.state = 'running' AND m.id = j.message_id AND m.status = 'processing';

UPDATE jobs SET
    kind = CASE WHEN ocr_text IS NULL THEN 'ocr' ELSE 'answer' END,
    queue = CASE WHEN ocr_text IS NULL THEN 'ocr' ELSE 'answer' END,
    args = jsonb_build_object('upload_id', id, 'message_id', message_id),
    attempt = CASE WHEN state = 'running' THEN greatest(attempt - 1, 0) ELSE attempt END,
    run_at = CASE WHEN state = 'running' THEN now() ELSE run_at END,
    locked_by = CASE WHEN state = 'running' THEN NULL ELSE locked_by END,
    locked_until = CASE WHEN state = 'running' THEN NULL ELSE locked_until END,
    state = CASE WHEN state = 'running' THEN 'available' ELSE state END
WHERE kind = 'process_upload';

ALTER TABLE jobs
    DROP COLUMN payload,
    DROP COLUMN filename,
    DROP COLUMN content_type,
    DROP COLUMN size,
    DROP COLUMN user_id,
    DROP COLUMN conversation_id,
    DROP COLUMN message_id,
    DROP COLUMN stage,
    DROP COLUMN ocr_text,
    DROP COLUMN page_count,
    DROP COLUMN idempotency_key,
    DROP COLUMN request_position;

-- Wake idle workers of the new version: the handed-back jobs are theirs now.
SELECT pg_notify('scribe_jobs', '');
