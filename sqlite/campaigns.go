package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
)

var _ unspoof.CampaignStore = (*DB)(nil)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// liveStates are the states of a message that alerts (or may have alerted) its number: a number
// with one of them in a campaign is not selected by another.
const liveStates = `('pending','submitting','submitted','delivered','ambiguous')`

// FindRecipients returns the victims f selects that a new campaign may alert (status new), in
// rank order.
func (db *DB) FindRecipients(ctx context.Context, f unspoof.RecipientFilter) ([]*unspoof.Recipient, error) {
	status := unspoof.VictimNew
	where, args := victimWhere(unspoof.VictimFilter{Tier: f.Tier, Channel: f.Channel, Status: &status})
	limit := int64(-1)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT v.e164, v.code, v.top_org FROM victims v`+where+` ORDER BY v.rank LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("find recipients: %w", err)
	}
	defer rows.Close()
	var rs []*unspoof.Recipient
	for rows.Next() {
		var r unspoof.Recipient
		if err := rows.Scan(&r.E164, &r.Reference, &r.Org); err != nil {
			return nil, fmt.Errorf("find recipients: %w", err)
		}
		rs = append(rs, &r)
	}
	return rs, rows.Err()
}

// CreateCampaign stores c and its messages in one transaction.
func (db *DB) CreateCampaign(ctx context.Context, c *unspoof.Campaign, msgs []*unspoof.Message) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create campaign: %w", err)
	}
	defer tx.Rollback()
	c.State = cmp.Or(c.State, unspoof.CampaignDraft)
	c.UpdatedAt = c.CreatedAt
	err = tx.QueryRowContext(ctx, `INSERT INTO campaigns (name, template, sender_id, selection, test, synthetic, state,
		quiet_start, quiet_end, daily_cap, created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
		c.Name, c.Template, c.SenderID, c.Selection, c.Test, c.Synthetic, c.State, c.QuietStart, c.QuietEnd, c.DailyCap,
		c.CreatedBy, c.CreatedAt.Unix(), c.CreatedAt.Unix()).Scan(&c.ID)
	if err != nil {
		if unspoof.ErrorCode(translate(err)) == unspoof.ECONFLICT {
			return unspoof.Errorf(unspoof.ECONFLICT, "a campaign named %q exists already", c.Name)
		}
		return fmt.Errorf("create campaign: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO messages (campaign_id, e164, reference, text, parts, tz, state, reason, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?) RETURNING id`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, m := range msgs {
		m.CampaignID = c.ID
		m.State = cmp.Or(m.State, unspoof.MessagePending)
		m.UpdatedAt = c.CreatedAt
		if err := ins.QueryRowContext(ctx, m.CampaignID, m.E164, m.Reference, m.Text, m.Parts, m.TZ, m.State, m.Reason,
			ms(m.UpdatedAt)).Scan(&m.ID); err != nil {
			if unspoof.ErrorCode(translate(err)) == unspoof.ECONFLICT {
				return unspoof.Errorf(unspoof.ECONFLICT, "campaign %q lists %s twice", c.Name, m.E164)
			}
			return fmt.Errorf("create campaign: message: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create campaign: %w", err)
	}
	return nil
}

const campaignCols = `id, name, template, sender_id, selection, test, synthetic, state, quiet_start, quiet_end, daily_cap,
	created_by, created_at, approved_by, approved_at, updated_at`

func scanCampaign(row interface{ Scan(...any) error }) (*unspoof.Campaign, error) {
	var c unspoof.Campaign
	var created, updated int64
	var approved sql.NullInt64
	if err := row.Scan(&c.ID, &c.Name, &c.Template, &c.SenderID, &c.Selection, &c.Test, &c.Synthetic, &c.State,
		&c.QuietStart, &c.QuietEnd, &c.DailyCap, &c.CreatedBy, &created, &c.ApprovedBy, &approved, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
	if approved.Valid {
		c.ApprovedAt = time.Unix(approved.Int64, 0).UTC()
	}
	return &c, nil
}

// counts fills the message counts of cs.
func (db *DB) counts(ctx context.Context, cs ...*unspoof.Campaign) error {
	byID := make(map[int64]*unspoof.Campaign, len(cs))
	ids := make([]any, len(cs))
	for i, c := range cs {
		c.Counts, c.Parts = make(map[string]int64), 0
		byID[c.ID], ids[i] = c, c.ID
	}
	if len(cs) == 0 {
		return nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT campaign_id, state, count(*), sum(parts) FROM messages
		WHERE campaign_id IN (?`+strings.Repeat(",?", len(ids)-1)+`) GROUP BY campaign_id, state`, ids...)
	if err != nil {
		return fmt.Errorf("message counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n, parts int64
		var state string
		if err := rows.Scan(&id, &state, &n, &parts); err != nil {
			return fmt.Errorf("message counts: %w", err)
		}
		if c := byID[id]; c != nil {
			c.Counts[state], c.Parts = n, c.Parts+parts
		}
	}
	return rows.Err()
}

// FindCampaignByID returns a campaign with its counts, or ENOTFOUND.
func (db *DB) FindCampaignByID(ctx context.Context, id int64) (*unspoof.Campaign, error) {
	c, err := scanCampaign(db.r.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("find campaign: %w", err)
	}
	return c, db.counts(ctx, c)
}

// FindCampaigns returns every campaign, newest first, with counts.
func (db *DB) FindCampaigns(ctx context.Context) ([]*unspoof.Campaign, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("find campaigns: %w", err)
	}
	defer rows.Close()
	var cs []*unspoof.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("find campaigns: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return cs, db.counts(ctx, cs...)
}

// SetCampaignState moves a campaign to state to if it is in one of from.
func (db *DB) SetCampaignState(ctx context.Context, id int64, from []string, to, by string, at time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("campaign state: %w", err)
	}
	defer tx.Rollback()
	var state string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM campaigns WHERE id = ?`, id).Scan(&state); err == sql.ErrNoRows {
		return unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", id)
	} else if err != nil {
		return fmt.Errorf("campaign state: %w", err)
	}
	if !slices.Contains(from, state) {
		return unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is %s: it cannot become %s", id, state, to)
	}
	q := `UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?`
	args := []any{to, at.Unix(), id}
	if to == unspoof.CampaignApproved {
		q = `UPDATE campaigns SET state = ?, updated_at = ?, approved_by = ?, approved_at = ? WHERE id = ?`
		args = []any{to, at.Unix(), by, at.Unix(), id}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("campaign state: %w", err)
	}
	if to == unspoof.CampaignCancelled {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'suppressed', reason = 'campaign cancelled',
			updated_at = ? WHERE campaign_id = ? AND state = 'pending'`, ms(at), id); err != nil {
			return fmt.Errorf("campaign state: %w", err)
		}
	}
	return tx.Commit()
}

const messageCols = `id, campaign_id, e164, reference, text, parts, tz, state, reason, smsc_ids, delivered, attempts,
	updated_at, sent_at, done_at`

func scanMessage(row interface{ Scan(...any) error }) (*unspoof.Message, error) {
	var m unspoof.Message
	var ids string
	var updated int64
	var sent, done sql.NullInt64
	if err := row.Scan(&m.ID, &m.CampaignID, &m.E164, &m.Reference, &m.Text, &m.Parts, &m.TZ, &m.State, &m.Reason, &ids,
		&m.Delivered, &m.Attempts, &updated, &sent, &done); err != nil {
		return nil, err
	}
	m.SMSCIDs = strings.Fields(ids)
	m.UpdatedAt, m.SentAt, m.DoneAt = time.UnixMilli(updated).UTC(), fromMS(sent), fromMS(done)
	return &m, nil
}

// ClaimMessages moves up to f.Limit pending messages to submitting and returns them.
func (db *DB) ClaimMessages(ctx context.Context, f unspoof.ClaimFilter, at time.Time) ([]*unspoof.Message, error) {
	if f.Limit <= 0 || len(f.TZs) == 0 {
		return nil, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	defer tx.Rollback()
	// Opt-outs are checked on the rows being claimed only: a claimed message to a number that
	// said STOP becomes suppressed instead.
	args := []any{ms(at), f.CampaignID}
	for _, tz := range f.TZs {
		args = append(args, tz)
	}
	args = append(args, f.AfterID, f.Limit)
	rows, err := tx.QueryContext(ctx, `UPDATE messages SET updated_at = ?,
			state = CASE WHEN e164 IN (SELECT e164 FROM optouts) THEN 'suppressed' ELSE 'submitting' END,
			reason = CASE WHEN e164 IN (SELECT e164 FROM optouts) THEN 'opted out' ELSE reason END
		WHERE id IN (SELECT id FROM messages WHERE campaign_id = ? AND state = 'pending'
			AND tz IN (?`+strings.Repeat(",?", len(f.TZs)-1)+`) AND id > ? ORDER BY id LIMIT ?)
		RETURNING `+messageCols, args...)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	var out []*unspoof.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim messages: %w", err)
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	out = slices.DeleteFunc(out, func(m *unspoof.Message) bool { return m.State != unspoof.MessageSubmitting })
	slices.SortFunc(out, func(a, b *unspoof.Message) int { return cmp.Compare(a.ID, b.ID) }) // RETURNING has no order
	return out, nil
}

// PendingTZs returns the time zones of the campaign's pending messages.
func (db *DB) PendingTZs(ctx context.Context, campaignID int64) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT tz FROM messages WHERE campaign_id = ? AND state = 'pending' ORDER BY tz`,
		campaignID)
	if err != nil {
		return nil, fmt.Errorf("pending time zones: %w", err)
	}
	defer rows.Close()
	var tzs []string
	for rows.Next() {
		var tz string
		if err := rows.Scan(&tz); err != nil {
			return nil, err
		}
		tzs = append(tzs, tz)
	}
	return tzs, rows.Err()
}

// UpdateMessages applies us in one transaction, each only from its From state.
func (db *DB) UpdateMessages(ctx context.Context, us []unspoof.MessageUpdate) (int, error) {
	if len(us) == 0 {
		return 0, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("update messages: %w", err)
	}
	defer tx.Rollback()
	upd, err := tx.PrepareContext(ctx, `UPDATE messages SET state = ?, reason = ?, attempts = max(attempts, ?), updated_at = ?,
		smsc_ids = CASE WHEN ? = 'submitted' THEN ? ELSE smsc_ids END,
		sent_at = CASE WHEN ? = 'submitted' THEN ? ELSE sent_at END,
		done_at = CASE WHEN ? IN ('failed','expired') THEN ? ELSE done_at END
		WHERE id = ? AND state = ?`)
	if err != nil {
		return 0, err
	}
	defer upd.Close()
	key, err := tx.PrepareContext(ctx, `INSERT INTO smsc_ids (key, message_id) VALUES (?, ?)`)
	if err != nil {
		return 0, err
	}
	defer key.Close()
	n := 0
	submitted := false
	for _, u := range us {
		at := ms(u.At)
		res, err := upd.ExecContext(ctx, u.To, u.Reason, u.Attempts, at, u.To, strings.Join(u.SMSCIDs, " "), u.To, at, u.To, at,
			u.ID, u.From)
		if err != nil {
			return 0, fmt.Errorf("update message %d: %w", u.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		n++
		if u.To == unspoof.MessageSubmitted {
			submitted = true
			for _, k := range u.Keys {
				if _, err := key.ExecContext(ctx, k, u.ID); err != nil {
					return 0, fmt.Errorf("update message %d: %w", u.ID, err)
				}
			}
		}
	}
	if submitted {
		if err := applyHeld(ctx, tx); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("update messages: %w", err)
	}
	return n, nil
}

// applyHeld applies the held receipts whose messages are now known.
func applyHeld(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, smsc_id, keys, state, err, received_at FROM receipts WHERE message_id IS NULL`)
	if err != nil {
		return fmt.Errorf("held receipts: %w", err)
	}
	var held []*unspoof.Receipt
	for rows.Next() {
		var r unspoof.Receipt
		var keys string
		var at int64
		if err := rows.Scan(&r.ID, &r.SMSCID, &keys, &r.State, &r.Err, &at); err != nil {
			rows.Close()
			return err
		}
		r.Keys, r.At = strings.Fields(keys), time.UnixMilli(at).UTC()
		held = append(held, &r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range held {
		if _, err := applyReceipt(ctx, tx, r); err != nil {
			return err
		}
	}
	return nil
}

// ApplyReceipts stores rs and applies those whose messages are known; the others are held.
func (db *DB) ApplyReceipts(ctx context.Context, rs []*unspoof.Receipt) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("apply receipts: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO receipts (smsc_id, keys, state, err, received_at) VALUES (?,?,?,?,?)
		ON CONFLICT (smsc_id, state) DO NOTHING RETURNING id`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	n := 0
	for _, r := range rs {
		err := ins.QueryRowContext(ctx, r.SMSCID, strings.Join(r.Keys, " "), r.State, r.Err, ms(r.At)).Scan(&r.ID)
		if err == sql.ErrNoRows {
			continue // a repeat
		} else if err != nil {
			return 0, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
		}
		ok, err := applyReceipt(ctx, tx, r)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("apply receipts: %w", err)
	}
	return n, nil
}

// applyReceipt applies stored receipt r to its submitted message, if one matches its keys.
func applyReceipt(ctx context.Context, tx *sql.Tx, r *unspoof.Receipt) (bool, error) {
	if len(r.Keys) == 0 {
		return false, nil
	}
	// A match on the canonical key (Keys[0], the id written the same way) wins over the other
	// forms (hex read as decimal…), so two ids that merely look alike never collide.
	args := make([]any, 0, len(r.Keys)+1)
	for _, k := range r.Keys {
		args = append(args, k)
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT m.id FROM smsc_ids k JOIN messages m ON m.id = k.message_id
		WHERE k.key IN (?`+strings.Repeat(",?", len(r.Keys)-1)+`) ORDER BY k.key = ? DESC, m.state = 'submitted' DESC, m.id DESC LIMIT 1`,
		append(args, r.Keys[0])...).Scan(&id)
	if err == sql.ErrNoRows {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
	}
	at := ms(r.At)
	reason := strings.TrimSpace(r.State + " " + r.Err)
	var q string
	var qargs []any
	switch unspoof.ReceiptOutcome(r.State) {
	case unspoof.MessageDelivered:
		q = `UPDATE messages SET delivered = delivered + 1, updated_at = ?,
			state = CASE WHEN delivered + 1 >= parts THEN 'delivered' ELSE state END,
			done_at = CASE WHEN delivered + 1 >= parts THEN ? ELSE done_at END
			WHERE id = ? AND state = 'submitted'`
		qargs = []any{at, at, id}
	case unspoof.MessageFailed, unspoof.MessageExpired:
		q = `UPDATE messages SET state = ?, reason = ?, updated_at = ?, done_at = ? WHERE id = ? AND state = 'submitted'`
		qargs = []any{unspoof.ReceiptOutcome(r.State), reason, at, at, id}
	}
	if q != "" {
		if _, err := tx.ExecContext(ctx, q, qargs...); err != nil {
			return false, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE receipts SET message_id = ? WHERE id = ?`, id, r.ID); err != nil {
		return false, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
	}
	r.MessageID = id
	return true, nil
}

// MarkAmbiguous moves the campaign's submitting messages to ambiguous.
func (db *DB) MarkAmbiguous(ctx context.Context, campaignID int64, reason string, at time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE messages SET state = 'ambiguous', reason = ?, updated_at = ?
		WHERE campaign_id = ? AND state = 'submitting'`, reason, ms(at), campaignID)
	if err != nil {
		return 0, fmt.Errorf("mark ambiguous: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RetryAmbiguous moves the campaign's ambiguous messages back to pending.
func (db *DB) RetryAmbiguous(ctx context.Context, campaignID int64, at time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE messages SET state = 'pending', reason = 'retried by operator', updated_at = ?
		WHERE campaign_id = ? AND state = 'ambiguous'`, ms(at), campaignID)
	if err != nil {
		return 0, fmt.Errorf("retry ambiguous: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AddOptOut records an opt-out and suppresses the number's pending messages.
func (db *DB) AddOptOut(ctx context.Context, o *unspoof.OptOut) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("opt out: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO optouts (e164, source, text, at) VALUES (?,?,?,?) ON CONFLICT (e164) DO NOTHING`,
		o.E164, o.Source, o.Text, o.At.Unix()); err != nil {
		return 0, fmt.Errorf("opt out: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'suppressed', reason = 'opted out', updated_at = ?
		WHERE e164 = ? AND state = 'pending'`, ms(o.At), o.E164)
	if err != nil {
		return 0, fmt.Errorf("opt out: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// FindOptOut returns the opt-out of a number, or ENOTFOUND.
func (db *DB) FindOptOut(ctx context.Context, e164 string) (*unspoof.OptOut, error) {
	var o unspoof.OptOut
	var at int64
	err := db.r.QueryRowContext(ctx, `SELECT e164, source, text, at FROM optouts WHERE e164 = ?`, e164).
		Scan(&o.E164, &o.Source, &o.Text, &at)
	if err == sql.ErrNoRows {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "%s has not opted out", e164)
	} else if err != nil {
		return nil, fmt.Errorf("find opt-out: %w", err)
	}
	o.At = time.Unix(at, 0).UTC()
	return &o, nil
}

// FindMessages returns the messages f selects, by id, and how many match in all.
func (db *DB) FindMessages(ctx context.Context, f unspoof.MessageFilter) ([]*unspoof.Message, int, error) {
	conds, args := []string{"campaign_id = ?"}, []any{f.CampaignID}
	if f.State != nil {
		conds, args = append(conds, "state = ?"), append(args, *f.State)
	}
	if f.E164 != nil {
		conds, args = append(conds, "e164 = ?"), append(args, *f.E164)
	}
	where := " WHERE " + strings.Join(conds, " AND ")
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("find messages: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages`+where, args...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("find messages: %w", err)
	}
	limit := int64(-1)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+messageCols+` FROM messages`+where+` ORDER BY id LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("find messages: %w", err)
	}
	defer rows.Close()
	var out []*unspoof.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("find messages: %w", err)
		}
		out = append(out, m)
	}
	return out, n, rows.Err()
}

// MessageReasons counts the campaign's undelivered messages by state and reason, most first.
func (db *DB) MessageReasons(ctx context.Context, campaignID int64) ([]unspoof.ReasonCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, reason, count(*) FROM messages
		WHERE campaign_id = ? AND state IN (?, ?, ?, ?) -- unspoof.UndeliveredStates
		GROUP BY state, reason ORDER BY count(*) DESC, state, reason`,
		campaignID, unspoof.MessageFailed, unspoof.MessageExpired, unspoof.MessageSuppressed, unspoof.MessageAmbiguous)
	if err != nil {
		return nil, fmt.Errorf("message reasons: %w", err)
	}
	defer rows.Close()
	var out []unspoof.ReasonCount
	for rows.Next() {
		var rc unspoof.ReasonCount
		if err := rows.Scan(&rc.State, &rc.Reason, &rc.Messages); err != nil {
			return nil, fmt.Errorf("message reasons: %w", err)
		}
		out = append(out, rc)
	}
	return out, rows.Err()
}

// SubmittedSince counts the messages submitted at or after t.
func (db *DB) SubmittedSince(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE sent_at >= ?`, ms(t)).Scan(&n); err != nil {
		return 0, fmt.Errorf("submitted since: %w", err)
	}
	return n, nil
}

// AcquireRun records holder as the process running the campaign.
func (db *DB) AcquireRun(ctx context.Context, campaignID int64, holder string, at, stale time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("acquire run: %w", err)
	}
	defer tx.Rollback()
	var runner string
	var seen sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT runner, runner_seen FROM campaigns WHERE id = ?`, campaignID).
		Scan(&runner, &seen); err == sql.ErrNoRows {
		return unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", campaignID)
	} else if err != nil {
		return fmt.Errorf("acquire run: %w", err)
	}
	if runner != "" && runner != holder && seen.Valid && seen.Int64 >= ms(stale) {
		return unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is being run by %s (alive at %s)", campaignID, runner,
			fromMS(seen).Format(time.RFC3339))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET runner = ?, runner_seen = ? WHERE id = ?`,
		holder, ms(at), campaignID); err != nil {
		return fmt.Errorf("acquire run: %w", err)
	}
	return tx.Commit()
}

// ReleaseRun gives up holder's claim on the campaign.
func (db *DB) ReleaseRun(ctx context.Context, campaignID int64, holder string) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE campaigns SET runner = '', runner_seen = NULL WHERE id = ? AND runner = ?`,
		campaignID, holder); err != nil {
		return fmt.Errorf("release run: %w", err)
	}
	return nil
}

// Audit appends an entry to the audit log.
func (db *DB) Audit(ctx context.Context, e *unspoof.AuditEntry) error {
	if err := db.w.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, action, object, detail) VALUES (?,?,?,?,?) RETURNING id`,
		e.At.Unix(), e.Actor, e.Action, e.Object, e.Detail).Scan(&e.ID); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// FindAudit returns the newest limit entries of the audit log, newest first.
func (db *DB) FindAudit(ctx context.Context, limit int) ([]*unspoof.AuditEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, at, actor, action, object, detail FROM audit_log ORDER BY id DESC LIMIT ?`,
		cmpLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("find audit: %w", err)
	}
	defer rows.Close()
	var es []*unspoof.AuditEntry
	for rows.Next() {
		var e unspoof.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Object, &e.Detail); err != nil {
			return nil, err
		}
		e.At = time.Unix(at, 0).UTC()
		es = append(es, &e)
	}
	return es, rows.Err()
}

func cmpLimit(n int) int64 {
	if n <= 0 {
		return -1
	}
	return int64(n)
}

// CampaignState returns a campaign's state, or ENOTFOUND.
func (db *DB) CampaignState(ctx context.Context, id int64) (string, error) {
	var state string
	err := db.r.QueryRowContext(ctx, `SELECT state FROM campaigns WHERE id = ?`, id).Scan(&state)
	if err == sql.ErrNoRows {
		return "", unspoof.Errorf(unspoof.ENOTFOUND, "no campaign %d", id)
	} else if err != nil {
		return "", fmt.Errorf("campaign state: %w", err)
	}
	return state, nil
}
