WITH j AS (INSERT INTO jobs (id, kind, queue) VALUES (gen_random_uuid(), 'noop', 'default') RETURNING id) SELECT pg_notify('scribe_jobs', 'default') FROM j;
