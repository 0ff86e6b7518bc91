-- One person's files in flight counted on eight rows instead of one, so up to
-- eight of their uploads commit at once. With one row (sql/019) each commit
-- held the person's only counter row from its deferred trigger through its
-- WAL flush, so one person's uploads committed one at a time, and a bot (or
-- the page sending many files) uploaded at half the pace of many people.
--
-- The cap stays exact: each row may hold its share of the cap (the shares add
-- up to the cap), an upload is counted on a row with room, and it is refused
-- only when every row is full. A file that lands (or is deleted in flight)
-- takes one off any row that has one. The sum of the rows is the count.
--
-- scribe_files_in_flight_shards() is the one place the number is written;
-- the API takes as many turns per person (FileFlow.swift).

CREATE FUNCTION scribe_files_in_flight_shards() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 8 $$;

-- How many of `cap` files row `shard` may hold.
CREATE FUNCTION scribe_files_in_flight_share(cap integer, shard integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT cap / scribe_files_in_flight_shards()
         + CASE WHEN shard < cap % scribe_files_in_flight_shards() THEN 1 ELSE 0 END
$$;

ALTER TABLE files_in_flight ADD COLUMN shard integer NOT NULL DEFAULT 0;
ALTER TABLE files_in_flight DROP CONSTRAINT files_in_flight_pkey;
ALTER TABLE files_in_flight ADD PRIMARY KEY (user_id, shard);
ALTER TABLE files_in_flight ALTER COLUMN shard DROP DEFAULT;
ALTER TABLE files_in_flight ADD CONSTRAINT files_in_flight_shard_range
    CHECK (shard >= 0 AND shard < scribe_files_in_flight_shards());

-- Today's counts spread over every row, as the shares are.
INSERT INTO files_in_flight (user_id, shard, files)
SELECT f.user_id, s, f.files / scribe_files_in_flight_shards()
                     + CASE WHEN s < f.files % scribe_files_in_flight_shards() THEN 1 ELSE 0 END
FROM files_in_flight f, generate_series(1, scribe_files_in_flight_shards() - 1) s;
UPDATE files_in_flight
SET files = files / scribe_files_in_flight_shards() + CASE WHEN files % scribe_files_in_flight_shards() > 0 THEN 1 ELSE 0 END
WHERE shard = 0;

-- At commit (the deferred trigger of sql/019): counts the upload on a row
-- with room that no other commit holds, starting from a row of its own so
-- concurrent uploads of one person spread over the rows; if every row with
-- room is held, waits for one. Refuses the commit (SQLSTATE SF429, the files
-- held in DETAIL) when every row is full.
CREATE OR REPLACE FUNCTION scribe_file_reserved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    setting text := current_setting('scribe.max_files_in_flight', true);
    shards constant integer := scribe_files_in_flight_shards();
    first integer := floor(random() * scribe_files_in_flight_shards())::integer;
    cap integer;
    counted integer;
    held integer;
BEGIN
    IF setting IS NULL OR setting = '' THEN
        RETURN NULL;
    END IF;
    cap := CASE WHEN setting = 'none' THEN NULL ELSE setting::integer END;
    SELECT f.shard INTO counted FROM files_in_flight f
    WHERE f.user_id = NEW.user_id AND (cap IS NULL OR f.files < scribe_files_in_flight_share(cap, f.shard))
    ORDER BY (f.shard - first + shards) % shards
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF counted IS NOT NULL THEN
        UPDATE files_in_flight SET files = files + 1 WHERE user_id = NEW.user_id AND shard = counted;
        RETURN NULL;
    END IF;
    -- The person's first file, or every row with room is held by another
    -- commit: every row made sure of, then each waited for in turn.
    INSERT INTO files_in_flight (user_id, shard, files)
    SELECT NEW.user_id, s, 0 FROM generate_series(0, shards - 1) s
    ON CONFLICT DO NOTHING;
    FOR step IN 0 .. shards - 1 LOOP
        UPDATE files_in_flight f SET files = f.files + 1
        WHERE f.user_id = NEW.user_id AND f.shard = (first + step) % shards
          AND (cap IS NULL OR f.files < scribe_files_in_flight_share(cap, f.shard))
        RETURNING f.shard INTO counted;
        IF counted IS NOT NULL THEN
            RETURN NULL;
        END IF;
    END LOOP;
    SELECT coalesce(sum(files), 0) INTO held FROM files_in_flight WHERE user_id = NEW.user_id;
    RAISE EXCEPTION 'too many files in flight' USING ERRCODE = 'SF429', DETAIL = held::text;
END
$$;

-- One of `user`'s files left flight: one off a row that has one, a row no
-- other commit holds if there is one.
CREATE FUNCTION scribe_file_left(p_user_id uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    counted integer;
BEGIN
    SELECT shard INTO counted FROM files_in_flight
    WHERE user_id = p_user_id AND files > 0
    ORDER BY files DESC
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF counted IS NULL THEN
        -- Waits; a row emptied meanwhile is passed over for the next.
        SELECT shard INTO counted FROM files_in_flight
        WHERE user_id = p_user_id AND files > 0
        ORDER BY files DESC
        LIMIT 1
        FOR UPDATE;
    END IF;
    UPDATE files_in_flight SET files = files - 1 WHERE user_id = p_user_id AND shard = counted;
END
$$;

CREATE OR REPLACE FUNCTION scribe_file_landed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    landed record;
BEGIN
    FOR landed IN
        UPDATE uploads SET in_flight = false WHERE message_id = NEW.id AND in_flight RETURNING user_id
    LOOP
        PERFORM scribe_file_left(landed.user_id);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION scribe_file_dropped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scribe_file_left(OLD.user_id);
    RETURN NULL;
END
$$;
