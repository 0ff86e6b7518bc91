-- Uploads are images and PDFs, already compressed: store the bytes out of line
-- without trying to compress them again (pglz would only burn CPU on every insert).
ALTER TABLE jobs ALTER COLUMN payload SET STORAGE EXTERNAL;
