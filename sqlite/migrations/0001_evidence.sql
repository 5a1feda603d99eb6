-- Evidence seized from a spoofing service. Times are Unix seconds (UTC); money in minor units.
-- Every evidence row keeps (source_id, source_row): the file and line it came from.

CREATE TABLE sources (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    sha256           TEXT    NOT NULL,
    size_bytes       INTEGER NOT NULL,
    region           TEXT    NOT NULL DEFAULT '',
    synthetic        INTEGER NOT NULL DEFAULT 0,
    rows_read        INTEGER NOT NULL DEFAULT 0,
    rows_loaded      INTEGER NOT NULL DEFAULT 0,
    rows_quarantined INTEGER NOT NULL DEFAULT 0,
    quarantine_path  TEXT    NOT NULL DEFAULT '',
    ingested_at      INTEGER NOT NULL,
    ingested_by      TEXT    NOT NULL DEFAULT '',
    UNIQUE (kind, sha256)
);

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    external_id TEXT    NOT NULL UNIQUE,
    username    TEXT    NOT NULL DEFAULT '',
    email       TEXT    NOT NULL DEFAULT '',
    country     TEXT    NOT NULL DEFAULT '',
    signup_at   INTEGER,
    ips         TEXT    NOT NULL DEFAULT '',  -- space-separated
    source_id   INTEGER NOT NULL REFERENCES sources (id),
    source_row  INTEGER NOT NULL
);

CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    external_id  TEXT    NOT NULL DEFAULT '',
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    paid_at      INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT    NOT NULL,
    method       TEXT    NOT NULL DEFAULT '',
    source_id    INTEGER NOT NULL REFERENCES sources (id),
    source_row   INTEGER NOT NULL
);
CREATE INDEX payments_account ON payments (account_id);

CREATE TABLE calls (
    id             INTEGER PRIMARY KEY,
    external_id    TEXT    NOT NULL DEFAULT '',
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    started_at     INTEGER NOT NULL,
    duration_s     INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT '',
    cli_raw        TEXT    NOT NULL,
    cli_e164       TEXT,                        -- NULL when the presented text is no possible number
    callee_raw     TEXT    NOT NULL,
    callee_e164    TEXT    NOT NULL,
    callee_region  TEXT    NOT NULL DEFAULT '',
    callee_type    TEXT    NOT NULL DEFAULT '',
    callee_valid   INTEGER NOT NULL,
    source_id      INTEGER NOT NULL REFERENCES sources (id),
    source_row     INTEGER NOT NULL
);
CREATE INDEX calls_callee ON calls (callee_e164);
CREATE INDEX calls_account ON calls (account_id);
-- No index on cli_e164: presented numbers are few (mostly organisations'), matched by scanning
-- calls against org_numbers; an index would cost more at load than it saves.

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    sector      TEXT NOT NULL DEFAULT '',
    country     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE org_numbers (
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    raw        TEXT    NOT NULL,
    e164       TEXT    NOT NULL,
    source_id  INTEGER NOT NULL REFERENCES sources (id),
    source_row INTEGER NOT NULL,
    PRIMARY KEY (e164, org_id)
);

CREATE TABLE complaints (
    id          INTEGER PRIMARY KEY,
    caller_raw  TEXT    NOT NULL,
    caller_e164 TEXT    NOT NULL,
    caller_region TEXT  NOT NULL DEFAULT '',
    caller_type TEXT    NOT NULL DEFAULT '',
    caller_valid INTEGER NOT NULL,
    called_at   INTEGER,
    created_at  INTEGER,
    city        TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL DEFAULT '',
    area_code   TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    robocall    INTEGER NOT NULL DEFAULT 0,
    source_id   INTEGER NOT NULL REFERENCES sources (id),
    source_row  INTEGER NOT NULL
);
CREATE INDEX complaints_caller ON complaints (caller_e164);
