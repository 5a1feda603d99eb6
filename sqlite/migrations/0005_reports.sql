-- Reports from the public portal, their links to the evidence, and the staff who read them.

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,
    number          TEXT    NOT NULL UNIQUE,  -- the public report number
    reference_given TEXT    NOT NULL DEFAULT '',
    reference       TEXT    NOT NULL DEFAULT '',
    phone_given     TEXT    NOT NULL DEFAULT '',
    e164            TEXT    NOT NULL DEFAULT '',
    called_on       TEXT    NOT NULL DEFAULT '', -- YYYY-MM-DD, '' if not given
    org_claimed     TEXT    NOT NULL DEFAULT '',
    lost            INTEGER NOT NULL,
    loss_minor      INTEGER NOT NULL DEFAULT 0,
    paid_by         TEXT    NOT NULL DEFAULT '',
    story           TEXT    NOT NULL DEFAULT '',
    contact_by      TEXT    NOT NULL DEFAULT '',
    contact         TEXT    NOT NULL DEFAULT '',
    consent         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,        -- Unix milliseconds
    status          TEXT    NOT NULL DEFAULT 'new',
    match           TEXT    NOT NULL DEFAULT '',
    victim_e164     TEXT    NOT NULL DEFAULT '',
    linked_calls    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reports_status ON reports (status, id);
CREATE INDEX reports_created ON reports (created_at);

-- The accounts a report was linked to through the victim's calls, and the loss attributed to each.
CREATE TABLE report_accounts (
    report_id  INTEGER NOT NULL REFERENCES reports (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    calls      INTEGER NOT NULL,
    loss_minor INTEGER NOT NULL,
    PRIMARY KEY (report_id, account_id)
);
CREATE INDEX report_accounts_account ON report_accounts (account_id);

CREATE TABLE report_calls (
    report_id INTEGER NOT NULL REFERENCES reports (id),
    call_id   INTEGER NOT NULL REFERENCES calls (id),
    PRIMARY KEY (report_id, call_id)
);

CREATE TABLE staff (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0, -- Unix seconds
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    staff_id   INTEGER NOT NULL REFERENCES staff (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- The audit log is append-only: the application has no statement that changes or removes a row.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log cannot be changed'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log cannot be changed'); END;
