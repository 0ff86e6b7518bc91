-- One person's files in flight (uploaded, not yet answered or failed) as a
-- counter row, as daily_usage counts requests: the cap (MAX_FILES_IN_FLIGHT)
-- is checked in O(1) by the upload's own UPDATE … WHERE files + k <= cap,
-- instead of counting every unanswered upload under a per-person lock.
CREATE TABLE files_in_flight (
    user_id uuid    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    files   integer NOT NULL
);

-- Whether the upload still counts: true from its upload until its message is
-- done or failed. The counter goes down exactly when this goes false, or
-- when an upload that still counts is deleted (its conversation deleted).
ALTER TABLE uploads ADD COLUMN in_flight boolean NOT NULL DEFAULT true;
UPDATE uploads u SET in_flight = (u.answered_at IS NULL AND m.status IN ('queued', 'processing'))
FROM messages m WHERE m.id = u.message_id;
INSERT INTO files_in_flight (user_id, files)
SELECT user_id, count(*) FROM uploads WHERE in_flight GROUP BY user_id;

-- A file's message leaves flight: its upload stops counting.
CREATE FUNCTION scribe_file_landed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH landed AS (
        UPDATE uploads SET in_flight = false WHERE message_id = NEW.id AND in_flight RETURNING user_id
    )
    UPDATE files_in_flight f SET files = greatest(f.files - landed.n, 0)
    FROM (SELECT user_id, count(*)::int AS n FROM landed GROUP BY user_id) landed
    WHERE f.user_id = landed.user_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_file_landed AFTER UPDATE OF status ON messages
    FOR EACH ROW
    WHEN (OLD.status IN ('queued', 'processing') AND NEW.status NOT IN ('queued', 'processing') AND OLD.attachments <> '[]'::jsonb)
    EXECUTE FUNCTION scribe_file_landed();

-- An upload deleted while it counts (its conversation or message deleted).
CREATE FUNCTION scribe_file_dropped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE files_in_flight SET files = greatest(files - 1, 0) WHERE user_id = OLD.user_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER uploads_file_dropped AFTER DELETE ON uploads
    FOR EACH ROW WHEN (OLD.in_flight) EXECUTE FUNCTION scribe_file_dropped();
