-- Campaigns: alerts to victims over SMS, one row per message, with the state machine of
-- DESIGN.md (unspoof.Message*). Times of messages and receipts are Unix milliseconds (a rate is
-- measured from them); the others Unix seconds, like the rest of the schema.

-- The organisation impersonated in most calls to a victim: the {{org}} of an alert.
ALTER TABLE victims ADD COLUMN top_org TEXT NOT NULL DEFAULT '';

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    template    TEXT    NOT NULL,
    sender_id   TEXT    NOT NULL,
    selection   TEXT    NOT NULL,
    test        INTEGER NOT NULL,
    synthetic   INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    quiet_start INTEGER NOT NULL,
    quiet_end   INTEGER NOT NULL,
    daily_cap   INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    approved_by TEXT    NOT NULL DEFAULT '',
    approved_at INTEGER,
    updated_at  INTEGER NOT NULL,
    runner      TEXT    NOT NULL DEFAULT '', -- host:pid of the process running it
    runner_seen INTEGER                      -- when that process last said it was alive (ms)
);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    e164        TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    parts       INTEGER NOT NULL,
    tz          TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    smsc_ids    TEXT    NOT NULL DEFAULT '', -- the SMSC's ids, one a part, space-separated
    delivered   INTEGER NOT NULL DEFAULT 0,  -- parts receipted as delivered
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    done_at     INTEGER,
    UNIQUE (campaign_id, e164)
);
CREATE INDEX messages_state ON messages (campaign_id, state, id);
CREATE INDEX messages_e164 ON messages (e164);
CREATE INDEX messages_sent_at ON messages (sent_at) WHERE sent_at IS NOT NULL;

-- Every form under which a receipt may name a message's SMSC ids (smpp.MessageIDKeys).
CREATE TABLE smsc_ids (
    key        TEXT    NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id)
);
CREATE INDEX smsc_ids_key ON smsc_ids (key);

-- Every delivery receipt received. message_id is NULL while it is held: its message was not
-- yet recorded as submitted when it came.
CREATE TABLE receipts (
    id          INTEGER PRIMARY KEY,
    smsc_id     TEXT    NOT NULL,
    keys        TEXT    NOT NULL, -- space-separated
    state       TEXT    NOT NULL,
    err         TEXT    NOT NULL DEFAULT '',
    message_id  INTEGER REFERENCES messages (id),
    received_at INTEGER NOT NULL,
    UNIQUE (smsc_id, state)       -- an SMSC repeating a receipt changes nothing
);
CREATE INDEX receipts_held ON receipts (id) WHERE message_id IS NULL;

CREATE TABLE optouts (
    e164   TEXT    PRIMARY KEY,
    source TEXT    NOT NULL,
    text   TEXT    NOT NULL DEFAULT '',
    at     INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    object TEXT    NOT NULL DEFAULT '',
    detail TEXT    NOT NULL DEFAULT ''
);
