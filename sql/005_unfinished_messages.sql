-- Messages being worked on right now, oldest change first: what the API's
-- sweeper scans for synchronous chats that lost their answer (the database
-- went away between the question and the answer, or the API process died).
-- Only the few rows in flight are in it.
CREATE INDEX messages_processing ON messages (updated_at) WHERE status = 'processing';
