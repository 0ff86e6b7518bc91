-- Semantic retrieval, when EMBEDDINGS_BASE_URL and EMBEDDINGS_MODEL are set:
-- each passage's embedding, written by the worker's `embed_passages` stage
-- (its own `embed` queue), ranked against the question's embedding and
-- fused with the full-text ranking (PassageStore).
--
-- Plain columns, no extension: pgvector is not packaged for Debian 12's
-- PostgreSQL. `embedding_bits` is the vector's signs, one bit a dimension:
-- the Hamming distance between two of them (bit_count of their XOR, in C)
-- picks a few hundred candidates cheaply, and only those are compared by
-- exact cosine (binary quantisation with rescoring).
ALTER TABLE passages
    ADD COLUMN embedding       real[]        NULL,
    ADD COLUMN embedding_bits  bit varying   NULL,
    -- Which model wrote it: a question is compared only with passages of its model.
    ADD COLUMN embedding_model text          NULL;

-- The passages still to embed, for the stage and its scheduler. (A passage
-- the service refused for good gets an empty embedding, so it leaves this index.)
CREATE INDEX passages_unembedded ON passages (upload_id) WHERE embedding IS NULL;

-- Unique jobs, as River's: at most one unfinished job with a given key.
-- Enqueueing another while one is available, running or pending does nothing.
ALTER TABLE jobs ADD COLUMN unique_key text NULL;
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running', 'pending');
