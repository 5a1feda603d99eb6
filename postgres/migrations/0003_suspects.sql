-- Suspects: the same table and columns as the SQLite schema, in PostgreSQL's own types. One row
-- per account the current suspects ranking selects (unspoof suspects rank); the whole table is
-- replaced by each ranking, in one transaction. loss_minor is the hook for reports: 0 until
-- victims' reported losses are linked to accounts.

CREATE TABLE suspects (
    account_id     bigint  PRIMARY KEY,
    external_id    text    NOT NULL,
    username       text    NOT NULL DEFAULT '',
    country        text    NOT NULL DEFAULT '',
    paid_minor     bigint  NOT NULL,
    payments       bigint  NOT NULL,
    calls          bigint  NOT NULL,
    long_calls     bigint  NOT NULL,
    victims        bigint  NOT NULL,
    orgs           bigint  NOT NULL,
    org_calls      bigint  NOT NULL,
    first_activity timestamptz,
    last_activity  timestamptz,
    identified     boolean NOT NULL,
    loss_minor     bigint  NOT NULL DEFAULT 0,
    rule           text    NOT NULL,
    score          double precision NOT NULL,
    rank           integer NOT NULL,
    ranked_at      timestamptz NOT NULL
);
CREATE INDEX suspects_rank ON suspects (rank);
CREATE INDEX suspects_external_id ON suspects (external_id);
