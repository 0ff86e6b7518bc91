-- What happens in a conversation, as a durable log the live event stream reads
-- (GET /v1/conversations/{id}/events): every message written or changed adds
-- one event, in the same transaction, holding the message as the API shows it
-- at that moment. A stream resumes after its Last-Event-ID from this table, so
-- no event is lost or repeated across API restarts or processes.
--
-- Order. Events are delivered in (tx, id) order and only once every
-- transaction that could still add an earlier one has ended: `tx` is the
-- writing transaction's id, and a reader takes only events whose `tx` is below
-- its snapshot's xmin (every transaction below it has committed or aborted, so
-- nothing can appear before what was delivered). A bigserial alone would not
-- do: ids are taken in one order and committed in another.
CREATE TABLE conversation_events (
    id              bigserial PRIMARY KEY,
    tx              xid8 NOT NULL DEFAULT pg_current_xact_id(),
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      uuid NOT NULL,
    -- message.created | message.updated
    kind            text NOT NULL,
    -- The message's API JSON (messages.rendered) when the event happened.
    data            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_events_position ON conversation_events (conversation_id, tx, id);
-- The pruner's scan.
CREATE INDEX conversation_events_created ON conversation_events (created_at);

CREATE FUNCTION scribe_message_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.rendered IS NOT DISTINCT FROM OLD.rendered THEN
        RETURN NULL;
    END IF;
    INSERT INTO conversation_events (conversation_id, message_id, kind, data)
    VALUES (NEW.conversation_id, NEW.id,
            CASE TG_OP WHEN 'INSERT' THEN 'message.created' ELSE 'message.updated' END,
            NEW.rendered);
    -- Nudges the API processes' listeners; the payload names the conversation.
    PERFORM pg_notify('scribe_events', NEW.conversation_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_event AFTER INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION scribe_message_event();
