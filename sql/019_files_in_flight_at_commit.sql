-- The files-in-flight cap checked inside the commit. sql/017 checked it with
-- an UPDATE of the person's counter row sent last before the COMMIT, so the
-- row's lock was held across a round trip to the API and back, and one
-- person's uploads passed it one at a time at that pace. A deferred trigger
-- adds each upload's file at commit instead, and refuses the commit past the
-- cap (SQLSTATE SF429, the files held in DETAIL): the lock is then held only
-- for the commit's own work.
--
-- The upload sets its cap for its transaction in `scribe.max_files_in_flight`
-- ('none': counted, no cap). A transaction that did not set it (an API of
-- before this migration, during a rolling deploy, which still reserves with
-- its own UPDATE) is not counted twice.
CREATE FUNCTION scribe_file_reserved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    setting text := current_setting('scribe.max_files_in_flight', true);
    cap integer;
    held integer;
BEGIN
    IF setting IS NULL OR setting = '' THEN
        RETURN NULL;
    END IF;
    cap := CASE WHEN setting = 'none' THEN NULL ELSE setting::integer END;
    INSERT INTO files_in_flight AS f (user_id, files)
    SELECT NEW.user_id, 1 WHERE cap IS NULL OR 1 <= cap
    ON CONFLICT (user_id) DO UPDATE SET files = f.files + 1 WHERE cap IS NULL OR f.files + 1 <= cap
    RETURNING files INTO held;
    IF held IS NULL THEN
        SELECT files INTO held FROM files_in_flight WHERE user_id = NEW.user_id;
        RAISE EXCEPTION 'too many files in flight' USING ERRCODE = 'SF429', DETAIL = coalesce(held, 0)::text;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER uploads_file_reserved AFTER INSERT ON uploads
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.in_flight) EXECUTE FUNCTION scribe_file_reserved();
