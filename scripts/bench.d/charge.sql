-- One person's daily charge, exactly as Scribe runs it (Store+DailyUsage.swift), in its own transaction.
BEGIN;
INSERT INTO daily_usage AS u (user_id, day, requests)
SELECT p.id, (now() AT TIME ZONE 'UTC')::date, 1 FROM bench_people p WHERE p.n = :client_id AND 1 <= 100000000
ON CONFLICT (user_id, day) DO UPDATE SET requests = u.requests + excluded.requests
WHERE u.requests + excluded.requests <= 100000000
RETURNING requests, ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC';
INSERT INTO bench_writes (person) VALUES (:client_id);
COMMIT;
