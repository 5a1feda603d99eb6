-- ended_long_s: of the accounts whose last call to the number lasted over the threshold, the
-- longest such last call in seconds (0: no caller ended on a long call), a feature of the score
-- (a caller who stops after a long conversation did not need to call again).
ALTER TABLE victims ADD COLUMN ended_long_s bigint NOT NULL DEFAULT 0;
