-- The same transaction without the charge: the baseline for charge.sql.
BEGIN;
SELECT p.id FROM bench_people p WHERE p.n = :client_id;
INSERT INTO bench_writes (person) VALUES (:client_id);
COMMIT;
