-- Suspects: one row per account the current suspects ranking selects (unspoof suspects rank).
-- The whole table is replaced by each ranking, in one transaction. loss_minor is the hook for
-- reports: 0 until victims' reported losses are linked to accounts.

CREATE TABLE suspects (
    account_id     INTEGER PRIMARY KEY,
    external_id    TEXT    NOT NULL,
    username       TEXT    NOT NULL DEFAULT '',
    country        TEXT    NOT NULL DEFAULT '',
    paid_minor     INTEGER NOT NULL,
    payments       INTEGER NOT NULL,
    calls          INTEGER NOT NULL,
    long_calls     INTEGER NOT NULL,
    victims        INTEGER NOT NULL,
    orgs           INTEGER NOT NULL,
    org_calls      INTEGER NOT NULL,
    first_activity INTEGER,
    last_activity  INTEGER,
    identified     INTEGER NOT NULL,
    loss_minor     INTEGER NOT NULL DEFAULT 0,
    rule           TEXT    NOT NULL,
    score          REAL    NOT NULL,
    rank           INTEGER NOT NULL,
    ranked_at      INTEGER NOT NULL
);
CREATE INDEX suspects_rank ON suspects (rank);
CREATE INDEX suspects_external_id ON suspects (external_id);
