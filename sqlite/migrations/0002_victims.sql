-- Victims: one row per number the current ranking selects (unspoof victims rank). The whole
-- table is replaced by each ranking, in one transaction. Reference codes live in victim_codes
-- too, which is never emptied: a number keeps its code across rankings.
-- status is the hook for campaigns: 'new' now; opted-out and already-alerted numbers will be
-- excluded through it (campaigns issue).

CREATE TABLE victims (
    e164                  TEXT    PRIMARY KEY,
    region                TEXT    NOT NULL DEFAULT '',
    line_type             TEXT    NOT NULL DEFAULT '',
    valid                 INTEGER NOT NULL,
    fictional             INTEGER NOT NULL,
    calls                 INTEGER NOT NULL,
    answered_calls        INTEGER NOT NULL,
    long_calls            INTEGER NOT NULL,
    talk_s                INTEGER NOT NULL,
    longest_s             INTEGER NOT NULL,
    first_call            INTEGER NOT NULL,
    last_call             INTEGER NOT NULL,
    accounts              INTEGER NOT NULL,
    long_accounts         INTEGER NOT NULL,
    orgs                  INTEGER NOT NULL,
    org_calls             INTEGER NOT NULL,
    bank_calls            INTEGER NOT NULL,
    identified_long_calls INTEGER NOT NULL,
    identified            INTEGER NOT NULL,
    rule                  TEXT    NOT NULL,
    score                 REAL    NOT NULL,
    rank                  INTEGER NOT NULL,
    tier                  TEXT    NOT NULL,
    channel               TEXT    NOT NULL,
    code                  TEXT    NOT NULL UNIQUE,
    status                TEXT    NOT NULL DEFAULT 'new',
    ranked_at             INTEGER NOT NULL
);
CREATE INDEX victims_rank ON victims (rank);

CREATE TABLE victim_codes (
    e164      TEXT    PRIMARY KEY,
    code      TEXT    NOT NULL UNIQUE,
    issued_at INTEGER NOT NULL
);
