-- Each message keeps its API JSON, rendered once when the row is written, so
-- the history poll (the hottest read) only concatenates stored text.
-- Keys and formats match the API's message shape: snake_case, lowercase ids,
-- RFC 3339 UTC timestamps with milliseconds, null for absent values.

ALTER TABLE messages ADD COLUMN rendered text NOT NULL DEFAULT '';

CREATE FUNCTION scribe_render_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rendered := json_build_object(
        'id', NEW.id, 'conversation_id', NEW.conversation_id, 'role', NEW.role, 'content', NEW.content,
        'status', NEW.status, 'stage', NEW.stage, 'error', NEW.error, 'reply_to', NEW.reply_to,
        'attachments', NEW.attachments,
        'metadata', CASE WHEN NEW.metadata = '{}'::jsonb THEN NULL ELSE NEW.metadata END,
        'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'updated_at', to_char(NEW.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'document_text', NEW.document_text
    )::text;
    RETURN NEW;
END
$$;

CREATE TRIGGER messages_render BEFORE INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION scribe_render_message();

-- Render the rows that exist already.
UPDATE messages SET id = id;
