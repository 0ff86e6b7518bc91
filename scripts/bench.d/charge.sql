-- One person's daily charge, as Scribe runs it (Store+DailyUsage.swift calls the
-- same function, sql/011_daily_charge.sql), in its own transaction.
BEGIN;
SELECT * FROM charge_daily_requests((SELECT id FROM bench_people WHERE n = :client_id), 1, 100000000);
INSERT INTO bench_writes (person) VALUES (:client_id);
COMMIT;
