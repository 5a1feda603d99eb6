-- caller_long_calls: the most calls over the threshold any one account made to the number, a
-- feature of the score (how far one caller took it).
ALTER TABLE victims ADD COLUMN caller_long_calls bigint NOT NULL DEFAULT 0;
