-- Retrieval: every document's text as passages of about 150 words (a few
-- hundred tokens), each knowing its upload, message, conversation, owner,
-- file name, page and place on the page, indexed for full-text search.
-- A page's passages are written in the transaction that checkpoints the
-- page's text; an answer ranks the conversation's passages against the
-- question (PassageStore) and records the ones it used as its `sources`.
CREATE TABLE passages (
    id              bigserial PRIMARY KEY,
    upload_id       uuid    NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    message_id      uuid    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id uuid    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename        text    NOT NULL,
    -- The page, from 1; NULL for a document indexed from its whole text
    -- whose page breaks are not known (read before passages existed).
    page            integer NULL CHECK (page > 0),
    -- Its place: the n-th passage of the page, and where it starts and ends
    -- in the page's text (in characters). Neighbours overlap by a few words.
    ordinal         integer NOT NULL CHECK (ordinal >= 0),
    start_offset    integer NOT NULL,
    end_offset      integer NOT NULL,
    body            text    NOT NULL,
    -- Words in the body (the BM25 length), and the stemming its script chose.
    words           integer NOT NULL,
    language        regconfig NOT NULL,
    -- Stemmed words (english or russian) plus exact tokens (codes, numbers,
    -- names as typed: "inv-2024-0087"), written by PassageStore.
    search          tsvector NOT NULL
);
CREATE UNIQUE INDEX passages_place ON passages (upload_id, coalesce(page, 0), ordinal);
CREATE INDEX passages_search ON passages USING gin (search);
CREATE INDEX passages_conversation ON passages (conversation_id);
CREATE INDEX passages_message ON passages (message_id);

-- OR of many tsqueries (the question's rarest terms pick the candidates).
CREATE AGGREGATE scribe_tsquery_or (tsquery) (SFUNC = tsquery_or, STYPE = tsquery);

-- When the upload's passages were written: at its text checkpoint for new
-- documents; the backfill (PassageBackfill) indexes the ones read before.
ALTER TABLE uploads ADD COLUMN passages_at timestamptz NULL;
-- How many passages it has (kept by PassageStore.insert): a conversation's
-- passage count, which every ranking needs, without counting them.
ALTER TABLE uploads ADD COLUMN passage_count integer NOT NULL DEFAULT 0;
CREATE INDEX uploads_unindexed ON uploads (created_at) WHERE passages_at IS NULL AND document_text IS NOT NULL;

-- A document's size without reading its text: whether a conversation's
-- documents fit the prompt whole is asked before every answer.
ALTER TABLE messages ADD COLUMN document_characters integer GENERATED ALWAYS AS (length(document_text)) STORED;

-- The passages an assistant message's answer was given, shown under it.
ALTER TABLE messages ADD COLUMN sources jsonb NOT NULL DEFAULT '[]';

CREATE OR REPLACE FUNCTION scribe_render_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rendered := json_build_object(
        'id', NEW.id, 'conversation_id', NEW.conversation_id, 'role', NEW.role, 'content', NEW.content,
        'status', NEW.status, 'stage', NEW.stage, 'error', NEW.error, 'reply_to', NEW.reply_to,
        'attachments', NEW.attachments,
        'metadata', CASE WHEN NEW.metadata = '{}'::jsonb THEN NULL ELSE NEW.metadata END,
        'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'updated_at', to_char(NEW.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'document_text', NEW.document_text,
        'sources', NEW.sources
    )::text;
    RETURN NEW;
END
$$;

-- Render the rows that exist already, without an event for each: nothing
-- about them changed but the new (empty) key.
ALTER TABLE messages DISABLE TRIGGER messages_event;
UPDATE messages SET id = id;
ALTER TABLE messages ENABLE TRIGGER messages_event;
