-- A deleted conversation nudges the API processes' listeners too, as a changed
-- message does (sql/008): each process keeps rendered history pages until it
-- hears of a change in their conversation, and a deletion (its messages go by
-- cascade, which fires no row trigger of theirs) is one.
CREATE FUNCTION scribe_conversation_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scribe_events', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_deleted AFTER DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION scribe_conversation_deleted();
