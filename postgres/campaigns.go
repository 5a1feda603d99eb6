package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/unspoof/unspoof"
)

var _ unspoof.CampaignStore = (*DB)(nil)

// liveStates are the states of a message that alerts (or may have alerted) its number: a number
// with one of them in a campaign is not selected by another.
const liveStates = `('pending','submitting','submitted','delivered','ambiguous')`

// domainOr returns err as is if it is a domain error (*unspoof.Error), else wrapped as what.
func domainOr(what string, err error) error {
	var e *unspoof.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// orDefault returns s, or def if s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// textArray returns s as pgx must send it to a NOT NULL text[] column: never nil (nil is NULL).
func textArray(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fields returns an array read from the database, empty as nil (as SQLite's engine gives it).
func fields(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// timeOf returns the time of a nullable column, the zero time for NULL.
func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// FindRecipients returns the victims f selects that a new campaign may alert (status new), in
// rank order: neither opted out nor with a live message in another campaign (test campaigns
// aside).
func (db *DB) FindRecipients(ctx context.Context, f unspoof.RecipientFilter) ([]*unspoof.Recipient, error) {
	status := unspoof.VictimNew
	where, args := victimWhere(unspoof.VictimFilter{Tier: f.Tier, Channel: f.Channel, Status: &status})
	limit := pgtype.Int8{Int64: int64(f.Limit), Valid: f.Limit > 0}
	rows, _ := db.pool.Query(ctx, fmt.Sprintf(`SELECT v.e164, v.code, v.top_org FROM victims v%s ORDER BY v.rank LIMIT $%d`,
		where, len(args)+1), append(args, limit)...)
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Recipient, error) {
		var r unspoof.Recipient
		return &r, row.Scan(&r.E164, &r.Reference, &r.Org)
	})
	if err != nil {
		return nil, fmt.Errorf("find recipients: %w", err)
	}
	return rs, nil
}

var messageColumns = []string{"id", "campaign_id", "e164", "reference", "text", "parts", "tz", "state", "reason",
	"updated_at"}

// CreateCampaign stores c (draft unless its State says otherwise) and its messages (pending
// likewise) in one transaction, the messages by COPY, and sets their IDs: the messages' IDs
// follow the order of msgs. A name already used, or a number listed twice, is ECONFLICT.
func (db *DB) CreateCampaign(ctx context.Context, c *unspoof.Campaign, msgs []*unspoof.Message) error {
	c.State = orDefault(c.State, unspoof.CampaignDraft)
	c.UpdatedAt = c.CreatedAt
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO campaigns (name, template, sender_id, selection, test, synthetic, state,
			quiet_start, quiet_end, daily_cap, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			c.Name, c.Template, c.SenderID, c.Selection, c.Test, c.Synthetic, c.State, c.QuietStart, c.QuietEnd, c.DailyCap,
			c.CreatedBy, c.CreatedAt, c.CreatedAt).Scan(&c.ID)
		if err := translate("campaign", err); unspoof.ErrorCode(err) == unspoof.ECONFLICT {
			return unspoof.Errorf(unspoof.ECONFLICT, "a campaign named %q exists already", c.Name)
		} else if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		// The campaign is new: only a number listed twice can break UNIQUE (campaign_id, e164),
		// and COPY would not say which.
		seen := make(map[string]bool, len(msgs))
		for _, m := range msgs {
			if seen[m.E164] {
				return unspoof.Errorf(unspoof.ECONFLICT, "campaign %q lists %s twice", c.Name, m.E164)
			}
			seen[m.E164] = true
		}
		rows, _ := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1)`,
			len(msgs))
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("message ids: %w", err)
		}
		slices.Sort(ids) // claims go oldest (lowest id) first: in the order of msgs
		for i, m := range msgs {
			m.ID, m.CampaignID = ids[i], c.ID
			m.State = orDefault(m.State, unspoof.MessagePending)
			m.UpdatedAt = c.CreatedAt
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"messages"}, messageColumns, pgx.CopyFromSlice(len(msgs), func(i int) ([]any, error) {
			m := msgs[i]
			return []any{m.ID, m.CampaignID, m.E164, m.Reference, m.Text, m.Parts, m.TZ, m.State, m.Reason, m.UpdatedAt}, nil
		}))
		return translate("messages", err)
	})
	if err == nil && len(msgs) >= 1000 {
		// The planner must know the campaign is there before the first claim: autovacuum
		// would take a minute, and until then every claim sorts all pending messages.
		_, err = db.pool.Exec(ctx, `ANALYZE messages`)
	}
	return domainOr("create campaign", err)
}

const campaignCols = `id, name, template, sender_id, selection, test, synthetic, state, quiet_start, quiet_end, daily_cap,
	created_by, created_at, approved_by, approved_at, updated_at`

func scanCampaign(row pgx.Row) (*unspoof.Campaign, error) {
	var c unspoof.Campaign
	var approved pgtype.Timestamptz
	if err := row.Scan(&c.ID, &c.Name, &c.Template, &c.SenderID, &c.Selection, &c.Test, &c.Synthetic, &c.State,
		&c.QuietStart, &c.QuietEnd, &c.DailyCap, &c.CreatedBy, &c.CreatedAt, &c.ApprovedBy, &approved, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt, c.ApprovedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), timeOf(approved)
	return &c, nil
}

// counts fills the message counts of cs, read in tx.
func counts(ctx context.Context, tx pgx.Tx, cs ...*unspoof.Campaign) error {
	byID := make(map[int64]*unspoof.Campaign, len(cs))
	ids := make([]int64, 0, len(cs))
	for _, c := range cs {
		c.Counts, c.Parts = make(map[string]int64), 0
		byID[c.ID] = c
		ids = append(ids, c.ID)
	}
	rows, _ := tx.Query(ctx, `SELECT campaign_id, state, count(*), sum(parts) FROM messages WHERE campaign_id = ANY($1)
		GROUP BY campaign_id, state`, ids)
	var id, n, parts int64
	var state string
	_, err := pgx.ForEachRow(rows, []any{&id, &state, &n, &parts}, func() error {
		c := byID[id]
		c.Counts[state], c.Parts = n, c.Parts+parts
		return nil
	})
	if err != nil {
		return fmt.Errorf("message counts: %w", err)
	}
	return nil
}

// readOnly runs fn in a read-only transaction that sees one snapshot.
func (db *DB) readOnly(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// FindCampaignByID returns a campaign with its message counts, or ENOTFOUND.
func (db *DB) FindCampaignByID(ctx context.Context, id int64) (*unspoof.Campaign, error) {
	var c *unspoof.Campaign
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", id)
		} else if err != nil {
			return err
		}
		return counts(ctx, tx, c)
	})
	if err != nil {
		return nil, domainOr("find campaign", err)
	}
	return c, nil
}

// FindCampaigns returns every campaign, newest first, with message counts.
func (db *DB) FindCampaigns(ctx context.Context) ([]*unspoof.Campaign, error) {
	var cs []*unspoof.Campaign
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY id DESC`)
		var err error
		cs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Campaign, error) { return scanCampaign(row) })
		if err != nil {
			return err
		}
		return counts(ctx, tx, cs...)
	})
	if err != nil {
		return nil, fmt.Errorf("find campaigns: %w", err)
	}
	return cs, nil
}

// SetCampaignState moves campaign id to state to if it is in one of from (ECONFLICT otherwise,
// ENOTFOUND if there is no such campaign), recording by as approver when to is approved.
// Cancelling suppresses the campaign's pending messages in the same transaction. The campaign's
// row is locked from the check to the commit, so two operators cannot both move it.
func (db *DB) SetCampaignState(ctx context.Context, id int64, from []string, to, by string, at time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM campaigns WHERE id = $1 FOR UPDATE`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", id)
		} else if err != nil {
			return err
		}
		if !slices.Contains(from, state) {
			return unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is %s: it cannot become %s", id, state, to)
		}
		if to == unspoof.CampaignApproved {
			_, err = tx.Exec(ctx, `UPDATE campaigns SET state = $1, updated_at = $2, approved_by = $3, approved_at = $2
				WHERE id = $4`, to, at, by, id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE campaigns SET state = $1, updated_at = $2 WHERE id = $3`, to, at, id)
		}
		if err != nil {
			return err
		}
		if to == unspoof.CampaignCancelled {
			_, err = tx.Exec(ctx, `UPDATE messages SET state = 'suppressed', reason = 'campaign cancelled', updated_at = $1
				WHERE campaign_id = $2 AND state = 'pending'`, at, id)
		}
		return err
	})
	return domainOr("campaign state", err)
}

const messageCols = `id, campaign_id, e164, reference, text, parts, tz, state, reason, smsc_ids, delivered, attempts,
	updated_at, sent_at, done_at`

func scanMessage(row pgx.Row) (*unspoof.Message, error) {
	var m unspoof.Message
	var sent, done pgtype.Timestamptz
	if err := row.Scan(&m.ID, &m.CampaignID, &m.E164, &m.Reference, &m.Text, &m.Parts, &m.TZ, &m.State, &m.Reason,
		&m.SMSCIDs, &m.Delivered, &m.Attempts, &m.UpdatedAt, &sent, &done); err != nil {
		return nil, err
	}
	m.SMSCIDs = fields(m.SMSCIDs)
	m.UpdatedAt, m.SentAt, m.DoneAt = m.UpdatedAt.UTC(), timeOf(sent), timeOf(done)
	return &m, nil
}

func collectMessages(rows pgx.Rows) ([]*unspoof.Message, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Message, error) { return scanMessage(row) })
}

// PendingTZs returns the time zones of the campaign's pending messages, in name order.
func (db *DB) PendingTZs(ctx context.Context, campaignID int64) ([]string, error) {
	rows, _ := db.pool.Query(ctx, `SELECT DISTINCT tz FROM messages WHERE campaign_id = $1 AND state = 'pending' ORDER BY tz`,
		campaignID)
	tzs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pending time zones: %w", err)
	}
	return fields(tzs), nil
}

// MarkAmbiguous moves the campaign's messages left in submitting to ambiguous, giving reason:
// what a run found in flight after a crash. It returns how many.
func (db *DB) MarkAmbiguous(ctx context.Context, campaignID int64, reason string, at time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE messages SET state = 'ambiguous', reason = $1, updated_at = $2
		WHERE campaign_id = $3 AND state = 'submitting'`, reason, at, campaignID)
	if err != nil {
		return 0, fmt.Errorf("mark ambiguous: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// RetryAmbiguous moves the campaign's ambiguous messages back to pending, on an operator's word.
// It returns how many.
func (db *DB) RetryAmbiguous(ctx context.Context, campaignID int64, at time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE messages SET state = 'pending', reason = 'retried by operator', updated_at = $1
		WHERE campaign_id = $2 AND state = 'ambiguous'`, at, campaignID)
	if err != nil {
		return 0, fmt.Errorf("retry ambiguous: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AddOptOut records that a number wants no more messages (the first opt-out of a number is
// kept) and suppresses its pending messages in every campaign. It returns how many messages it
// suppressed.
func (db *DB) AddOptOut(ctx context.Context, o *unspoof.OptOut) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO optouts (e164, source, text, at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (e164) DO NOTHING`, o.E164, o.Source, o.Text, o.At); err != nil {
			return translate("opt-out", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE messages SET state = 'suppressed', reason = 'opted out', updated_at = $1
			WHERE e164 = $2 AND state = 'pending'`, o.At, o.E164)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, domainOr("opt out", err)
	}
	return n, nil
}

// FindOptOut returns the opt-out of a number, or ENOTFOUND.
func (db *DB) FindOptOut(ctx context.Context, e164 string) (*unspoof.OptOut, error) {
	var o unspoof.OptOut
	err := db.pool.QueryRow(ctx, `SELECT e164, source, text, at FROM optouts WHERE e164 = $1`, e164).
		Scan(&o.E164, &o.Source, &o.Text, &o.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "%s has not opted out", e164)
	} else if err != nil {
		return nil, fmt.Errorf("find opt-out: %w", err)
	}
	o.At = o.At.UTC()
	return &o, nil
}

// FindMessages returns the messages f selects, by id, and how many match in all, read from one
// snapshot.
func (db *DB) FindMessages(ctx context.Context, f unspoof.MessageFilter) ([]*unspoof.Message, int, error) {
	conds, args := []string{"campaign_id = $1"}, []any{f.CampaignID}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.State != nil {
		add("state = $%d", *f.State)
	}
	if f.E164 != nil {
		add("e164 = $%d", *f.E164)
	}
	where := " WHERE " + strings.Join(conds, " AND ")
	var ms []*unspoof.Message
	var n int
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM messages`+where, args...).Scan(&n); err != nil {
			return err
		}
		limit := pgtype.Int8{Int64: int64(f.Limit), Valid: f.Limit > 0}
		rows, _ := tx.Query(ctx, fmt.Sprintf(`SELECT %s FROM messages%s ORDER BY id LIMIT $%d OFFSET $%d`, messageCols, where,
			len(args)+1, len(args)+2), append(args, limit, max(f.Offset, 0))...)
		var err error
		ms, err = collectMessages(rows)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find messages: %w", err)
	}
	return ms, n, nil
}

// MessageReasons counts the campaign's undelivered messages by state and reason, most first.
func (db *DB) MessageReasons(ctx context.Context, campaignID int64) ([]unspoof.ReasonCount, error) {
	rows, _ := db.pool.Query(ctx, `SELECT state, reason, count(*) FROM messages
		WHERE campaign_id = $1 AND state = ANY($2)
		GROUP BY state, reason ORDER BY count(*) DESC, state, reason`, campaignID, unspoof.UndeliveredStates)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (unspoof.ReasonCount, error) {
		var rc unspoof.ReasonCount
		err := row.Scan(&rc.State, &rc.Reason, &rc.Messages)
		return rc, err
	})
	if err != nil {
		return nil, fmt.Errorf("message reasons: %w", err)
	}
	return out, nil
}

// SubmittedSince counts the messages of every campaign submitted at or after t.
func (db *DB) SubmittedSince(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE sent_at >= $1`, t).Scan(&n); err != nil {
		return 0, fmt.Errorf("submitted since: %w", err)
	}
	return n, nil
}

// AcquireRun records holder as the one process running the campaign, at time at, unless another
// holder renewed its claim at or after stale (ECONFLICT, naming it); ENOTFOUND if there is no
// such campaign. A holder renews its claim by acquiring it again. The campaign's row is locked
// from the check to the commit, so two processes cannot both acquire it.
func (db *DB) AcquireRun(ctx context.Context, campaignID int64, holder string, at, stale time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var runner string
		var seen pgtype.Timestamptz
		err := tx.QueryRow(ctx, `SELECT runner, runner_seen FROM campaigns WHERE id = $1 FOR UPDATE`, campaignID).
			Scan(&runner, &seen)
		if errors.Is(err, pgx.ErrNoRows) {
			return unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", campaignID)
		} else if err != nil {
			return err
		}
		if runner != "" && runner != holder && seen.Valid && !seen.Time.Before(stale) {
			return unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is being run by %s (alive at %s)", campaignID, runner,
				seen.Time.UTC().Format(time.RFC3339))
		}
		_, err = tx.Exec(ctx, `UPDATE campaigns SET runner = $1, runner_seen = $2 WHERE id = $3`, holder, at, campaignID)
		return err
	})
	return domainOr("acquire run", err)
}

// ReleaseRun gives up holder's claim on the campaign; it does nothing if holder has none.
func (db *DB) ReleaseRun(ctx context.Context, campaignID int64, holder string) error {
	if _, err := db.pool.Exec(ctx, `UPDATE campaigns SET runner = '', runner_seen = NULL WHERE id = $1 AND runner = $2`,
		campaignID, holder); err != nil {
		return fmt.Errorf("release run: %w", err)
	}
	return nil
}

// Audit appends an entry to the audit log and sets its ID.
func (db *DB) Audit(ctx context.Context, e *unspoof.AuditEntry) error {
	if err := db.pool.QueryRow(ctx, `INSERT INTO audit_log (at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5)
		RETURNING id`, e.At, e.Actor, e.Action, e.Object, e.Detail).Scan(&e.ID); err != nil {
		return domainOr("audit", translate("audit", err))
	}
	return nil
}

// FindAudit returns the newest limit entries of the audit log (all if limit ≤ 0), newest first.
func (db *DB) FindAudit(ctx context.Context, limit int) ([]*unspoof.AuditEntry, error) {
	rows, _ := db.pool.Query(ctx, `SELECT id, at, actor, action, object, detail FROM audit_log ORDER BY id DESC LIMIT $1`,
		pgtype.Int8{Int64: int64(limit), Valid: limit > 0})
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.AuditEntry, error) {
		var e unspoof.AuditEntry
		if err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Object, &e.Detail); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		return &e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("find audit: %w", err)
	}
	return es, nil
}

// prefixCols qualifies each column of a comma-separated list with prefix.
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// CampaignState returns a campaign's state, or ENOTFOUND.
func (db *DB) CampaignState(ctx context.Context, id int64) (string, error) {
	var state string
	err := db.pool.QueryRow(ctx, `SELECT state FROM campaigns WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", id)
	} else if err != nil {
		return "", fmt.Errorf("campaign state: %w", err)
	}
	return state, nil
}
