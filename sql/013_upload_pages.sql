-- A long PDF read page by page across every worker: each scanned page is a
-- job of its own (ocr_page) in a batch whose completion job (ocr_assemble)
-- puts the document together. Each page's text is a checkpoint written with
-- its job's completion, so a crash never reads a checkpointed page again.
CREATE TABLE upload_pages (
    upload_id uuid    NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    page      integer NOT NULL CHECK (page > 0),
    -- The scanned page as a one-page PDF, until it is read (then dropped).
    source    bytea   NULL,
    -- Its text and how it was read (an attachment's page_details entry), once
    -- read, or given up on (empty text, with a warning).
    text      text    NULL,
    reading   jsonb   NULL,
    read_at   timestamptz NULL,
    PRIMARY KEY (upload_id, page)
);
