-- caller_long_calls: the most calls over the threshold any one account made to the number, a
-- feature of the score (how far one caller took it).
ALTER TABLE victims ADD COLUMN caller_long_calls INTEGER NOT NULL DEFAULT 0;

-- A victim's status (new, alerted, opted-out) is derived from optouts and messages each time it
-- is read, by the rule campaign selection applies: a stored copy could only fall out of step.
ALTER TABLE victims DROP COLUMN status;
