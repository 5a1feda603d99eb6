-- Victims: the same tables and columns as the SQLite schema, in PostgreSQL's own types. One row
-- per number the current ranking selects (unspoof victims rank); the whole table is replaced by
-- each ranking, in one transaction. Reference codes live in victim_codes too, which is never
-- emptied: a number keeps its code across rankings.
-- status is the hook for campaigns: 'new' now; opted-out and already-alerted numbers will be
-- excluded through it (campaigns issue).

CREATE TABLE victims (
    e164                  text    PRIMARY KEY,
    region                text    NOT NULL DEFAULT '',
    line_type             text    NOT NULL DEFAULT '',
    valid                 boolean NOT NULL,
    fictional             boolean NOT NULL,
    calls                 bigint  NOT NULL,
    answered_calls        bigint  NOT NULL,
    long_calls            bigint  NOT NULL,
    talk_s                bigint  NOT NULL,
    longest_s             bigint  NOT NULL,
    first_call            timestamptz NOT NULL,
    last_call             timestamptz NOT NULL,
    accounts              bigint  NOT NULL,
    long_accounts         bigint  NOT NULL,
    orgs                  bigint  NOT NULL,
    org_calls             bigint  NOT NULL,
    bank_calls            bigint  NOT NULL,
    identified_long_calls bigint  NOT NULL,
    identified            boolean NOT NULL,
    rule                  text    NOT NULL,
    score                 double precision NOT NULL,
    rank                  integer NOT NULL,
    tier                  text    NOT NULL,
    channel               text    NOT NULL,
    code                  text    NOT NULL,
    status                text    NOT NULL DEFAULT 'new',
    ranked_at             timestamptz NOT NULL,
    CONSTRAINT victims_code_key UNIQUE (code)
);
CREATE INDEX victims_rank ON victims (rank);

CREATE TABLE victim_codes (
    e164      text PRIMARY KEY,
    code      text NOT NULL,
    issued_at timestamptz NOT NULL,
    CONSTRAINT victim_codes_code_key UNIQUE (code)
);
