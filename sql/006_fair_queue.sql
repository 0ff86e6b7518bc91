-- Fair turns between the people sharing a queue: one person's thousand
-- queued files must not starve another's single file.
--
-- A job with a fairness key (an upload's: its user) gets a rank when it is
-- enqueued: its place in that key's own line (the key's unfinished jobs in
-- the queue, plus its position in the request). Workers claim by rank before
-- time, so every key's first job comes before anyone's second: a newcomer's
-- file waits behind at most one job of each busy user, whatever their
-- backlog. Jobs without a key (rank 0) keep their first-in, first-out order.
ALTER TABLE jobs ADD COLUMN fairness_key text NULL,
                 ADD COLUMN fair_rank bigint NOT NULL DEFAULT 0;

-- The jobs queued or running at the upgrade get their ranks as if they had
-- been enqueued so: each user's in the order they were uploaded.
UPDATE jobs j SET fairness_key = ranked.user_id::text, fair_rank = ranked.rank
FROM (
    SELECT id, user_id, row_number() OVER (PARTITION BY queue, user_id ORDER BY created_at, request_position, id) AS rank
    FROM jobs WHERE state IN ('available', 'running') AND user_id IS NOT NULL
) ranked
WHERE j.id = ranked.id;

-- The claim's WHERE and ORDER BY, as before, with the rank before the time.
DROP INDEX jobs_claimable;
CREATE INDEX jobs_claimable ON jobs (queue, priority, fair_rank, run_at, id) WHERE state = 'available';
-- A key's unfinished jobs, counted to rank a new one. Keyless jobs stay out
-- of it, and so must the claim: with `fairness_key IS NOT NULL` in the
-- predicate the planner cannot pick this index for the claim's scan (it did,
-- on 100,000 fresh rows not yet analysed, and sorted them all on every claim).
CREATE INDEX jobs_fairness ON jobs (queue, fairness_key)
    WHERE fairness_key IS NOT NULL AND state IN ('available', 'running');
