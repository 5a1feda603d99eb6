-- Held receipts (their message was not yet recorded as submitted when they came) are looked up
-- by key each time messages are recorded as submitted: without an index that is a scan of every
-- held receipt, for every batch.
CREATE INDEX receipts_held_keys ON receipts USING gin (keys) WHERE message_id IS NULL;
