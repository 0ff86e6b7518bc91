-- Big files with bounded memory: the API streams each uploaded file into
-- rows of at most 1 MiB as the request arrives, never holding a whole file,
-- and the worker streams them back to a temporary file. The chunks are
-- written before their upload's row (which commits with its message and first
-- job in one transaction), so they carry no foreign key: a request that is
-- cut off or refused deletes its chunks, and the sweeper deletes any left by
-- a process that died mid-request (`UploadChunkStore.pruneOrphans`).
CREATE TABLE upload_chunks (
    upload_id  uuid    NOT NULL,
    position   integer NOT NULL CHECK (position >= 0),
    bytes      bytea   NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, position)
);
CREATE INDEX upload_chunks_created ON upload_chunks (created_at);

-- How many chunks hold an upload's bytes (NULL: they are in `payload`, as
-- for uploads stored before chunks, or they have been dropped).
ALTER TABLE uploads ADD COLUMN chunk_count integer NULL;

-- An upload's chunks go with it (a deleted conversation, a pruned upload).
CREATE FUNCTION uploads_drop_chunks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM upload_chunks WHERE upload_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER uploads_drop_chunks AFTER DELETE ON uploads
FOR EACH ROW EXECUTE FUNCTION uploads_drop_chunks();
