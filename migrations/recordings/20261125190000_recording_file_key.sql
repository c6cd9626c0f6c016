-- The object key the recording's file is uploaded under (chosen by the backend at start), so a
-- download link can be signed for exactly that object. NULL for a recording started before
-- this column existed: such a recording has no download link.
ALTER TABLE recordings ADD COLUMN file_key TEXT;
