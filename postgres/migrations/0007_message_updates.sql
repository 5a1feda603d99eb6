-- Campaign throughput: a message row is updated three times in a run (claimed, submitted,
-- receipted). An update that changes no indexed column and finds room on its page is a HOT
-- update: no new entry in any index. So:
--
-- * No index on a column a run changes. Claims walk the campaign's messages in id order past
--   the last id claimed (messages_campaign); the time-zone list, the counts and the daily cap
--   read the campaign's rows (or, for the daily cap and `status`, the table) instead of an
--   index on state or sent_at.
-- * Half of each page is left free when rows are written, so that the next version of every
--   row fits on its page; pruning frees the room again between updates.
-- * smsc_ids and receipts name their message without a foreign key: the key's check is a
--   trigger a row, a locking read of the message, on the run's hottest statements. Their
--   message ids are taken from the messages table in the same statement; the one delete of
--   messages, a purge, removes their receipts and SMSC ids with them under the lock receipts
--   are stored under (postgres.receiptsLock), so no receipt can name a purged message.
DROP INDEX messages_state;
DROP INDEX messages_sent_at;
CREATE INDEX messages_campaign ON messages (campaign_id, id);
ALTER TABLE messages SET (fillfactor = 50);
ALTER TABLE smsc_ids DROP CONSTRAINT smsc_ids_message_id_fkey;
ALTER TABLE receipts DROP CONSTRAINT receipts_message_id_fkey;
