-- Batches of jobs, as Sidekiq Batches and Oban Pro's Batch: N jobs enqueued
-- under one batch with a completion job. The completion job waits `pending`
-- (never claimed: the claim takes `available` jobs only) until the transaction
-- that finishes the batch's last job makes it `available`, whatever finished
-- it: a handler's completing transaction, a batched acknowledgement, a failed
-- last attempt, the rescuer giving up on an expired lease, a cancellation.
-- The queue still knows nothing of what its jobs carry.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('pending', 'available', 'running', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE jobs ADD COLUMN batch_id uuid NULL;

CREATE TABLE job_batches (
    id                uuid PRIMARY KEY,
    completion_job_id uuid NOT NULL,
    total             integer NOT NULL CHECK (total >= 0),
    -- Jobs not finished yet; the completion job is released when it reaches 0.
    remaining         integer NOT NULL CHECK (remaining >= 0),
    succeeded         integer NOT NULL DEFAULT 0,
    -- Failed (attempts spent, or a permanent error) or cancelled.
    failed            integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz NULL
);
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;

-- One member finished: count it and, when it was the last, release the
-- completion job and wake its queue's workers (the channel is JobQueue.channel).
-- Lock order: the member's row, then its batch's row, then the completion
-- job's row; handlers complete their job first in their transaction, so the
-- rescuer (which locks members, then batches, then the handlers' own rows in
-- its hook) never waits in a circle with them.
CREATE FUNCTION jobs_batch_progress() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch job_batches;
BEGIN
    UPDATE job_batches SET
        remaining = remaining - 1,
        succeeded = succeeded + (NEW.state = 'succeeded')::int,
        failed = failed + (NEW.state <> 'succeeded')::int,
        finished_at = CASE WHEN remaining = 1 THEN now() END
    WHERE id = NEW.batch_id AND remaining > 0
    RETURNING * INTO batch;
    IF FOUND AND batch.remaining = 0 THEN
        UPDATE jobs SET state = 'available', run_at = now()
        WHERE id = batch.completion_job_id AND state = 'pending';
        PERFORM pg_notify('scribe_jobs', queue) FROM jobs WHERE id = batch.completion_job_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_batch_progress AFTER UPDATE OF state ON jobs
FOR EACH ROW
WHEN (NEW.batch_id IS NOT NULL
      AND OLD.state NOT IN ('succeeded', 'failed', 'cancelled')
      AND NEW.state IN ('succeeded', 'failed', 'cancelled'))
EXECUTE FUNCTION jobs_batch_progress();
