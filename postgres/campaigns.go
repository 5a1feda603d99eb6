package postgres

import (
	"cmp"
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

// receiptsLock is the key of the advisory lock that serialises matching receipts with recording
// messages as submitted. Without it a receipt stored while its message's SMSC ids are being
// recorded by another transaction would see neither the ids (not yet committed) nor be seen by
// that transaction (its receipt not yet committed), and stay held for ever. SQLite, with its one
// writer, needs no such thing.
const receiptsLock = 0x72656365697074 // "receipt"

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

// FindRecipients returns the victims f selects that a new campaign may alert, in rank order:
// neither opted out nor with a live message in another campaign (test campaigns aside).
func (db *DB) FindRecipients(ctx context.Context, f unspoof.RecipientFilter) ([]*unspoof.Recipient, error) {
	where, args := victimWhere(unspoof.VictimFilter{Tier: f.Tier, Channel: f.Channel})
	if where == "" {
		where = " WHERE"
	} else {
		where += " AND"
	}
	where += ` NOT EXISTS (SELECT 1 FROM optouts o WHERE o.e164 = v.e164)
		AND NOT EXISTS (SELECT 1 FROM messages m JOIN campaigns c ON c.id = m.campaign_id
			WHERE m.e164 = v.e164 AND NOT c.test AND m.state IN ` + liveStates + `)`
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

// ClaimMessages moves up to f.Limit pending messages of the campaign to its time zones f.TZs to
// submitting and returns them, oldest first; messages to opted-out numbers are made suppressed
// instead. Rows another transaction has locked are skipped (FOR UPDATE SKIP LOCKED), so that two
// runners claiming at once never get the same message and never wait for each other.
func (db *DB) ClaimMessages(ctx context.Context, f unspoof.ClaimFilter, at time.Time) ([]*unspoof.Message, error) {
	if f.Limit <= 0 || len(f.TZs) == 0 {
		return nil, nil
	}
	var out []*unspoof.Message
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Opt-outs are checked on the rows being claimed only: a claimed message to a number that
		// said STOP becomes suppressed instead.
		rows, _ := tx.Query(ctx, `WITH claimed AS MATERIALIZED (
				SELECT id FROM messages WHERE campaign_id = $2 AND state = 'pending' AND tz = ANY($3) AND id > $5
				ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
			UPDATE messages m SET updated_at = $1,
				state = CASE WHEN EXISTS (SELECT 1 FROM optouts o WHERE o.e164 = m.e164) THEN 'suppressed' ELSE 'submitting' END,
				reason = CASE WHEN EXISTS (SELECT 1 FROM optouts o WHERE o.e164 = m.e164) THEN 'opted out' ELSE m.reason END
			FROM claimed c
			WHERE m.id = c.id AND m.state = 'pending'
			RETURNING `+prefixCols("m.", messageCols), at, f.CampaignID, f.TZs, f.Limit, f.AfterID)
		var err error
		out, err = collectMessages(rows)
		out = slices.DeleteFunc(out, func(m *unspoof.Message) bool { return m.State != unspoof.MessageSubmitting })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	slices.SortFunc(out, func(a, b *unspoof.Message) int { return cmp.Compare(a.ID, b.ID) }) // RETURNING has no order
	return out, nil
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

// updateMessage applies one MessageUpdate if its message is still in its From state, records
// the keys of its SMSC ids if it was applied, and says whether it was (1 or 0).
const updateMessage = `WITH u AS (
	UPDATE messages SET state = $3, reason = $4, attempts = greatest(attempts, $5::integer), updated_at = $6,
		smsc_ids = coalesce($7::text[], smsc_ids), sent_at = coalesce($8::timestamptz, sent_at),
		done_at = coalesce($9::timestamptz, done_at)
	WHERE id = $1 AND state = $2
	RETURNING id
), k AS (
	INSERT INTO smsc_ids (key, message_id) SELECT key, u.id FROM u, unnest($10::text[]) AS key
)
SELECT count(*) FROM u`

// UpdateMessages applies us in one transaction, in order, each only if its message is still in
// its From state; it returns how many were applied. Moves to submitted record the SMSC ids and
// their keys, then apply the held receipts those keys match.
func (db *DB) UpdateMessages(ctx context.Context, us []unspoof.MessageUpdate) (int, error) {
	if len(us) == 0 {
		return 0, nil
	}
	submits := slices.ContainsFunc(us, func(u unspoof.MessageUpdate) bool { return u.To == unspoof.MessageSubmitted })
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if submits {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(receiptsLock)); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		for _, u := range us {
			var ids, keys []string
			var sent, done pgtype.Timestamptz
			switch u.To {
			case unspoof.MessageSubmitted:
				ids, keys = textArray(u.SMSCIDs), u.Keys
				sent = pgtype.Timestamptz{Time: u.At, Valid: true}
			case unspoof.MessageFailed, unspoof.MessageExpired:
				done = pgtype.Timestamptz{Time: u.At, Valid: true}
			}
			b.Queue(updateMessage, u.ID, u.From, u.To, u.Reason, u.Attempts, u.At, ids, sent, done, textArray(keys))
		}
		br := tx.SendBatch(ctx, b)
		var newKeys []string
		for _, u := range us {
			var k int
			if err := br.QueryRow().Scan(&k); err != nil {
				br.Close()
				return fmt.Errorf("message %d: %w", u.ID, translate("message", err))
			}
			n += k
			if k > 0 && u.To == unspoof.MessageSubmitted {
				newKeys = append(newKeys, u.Keys...)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		if len(newKeys) > 0 {
			return applyHeld(ctx, tx, newKeys)
		}
		return nil
	})
	if err != nil {
		return 0, domainOr("update messages", err)
	}
	return n, nil
}

// applyHeld applies the held receipts that name one of keys, the keys of messages just recorded
// as submitted: a held receipt naming none of them still matches no message.
func applyHeld(ctx context.Context, tx pgx.Tx, keys []string) error {
	rows, _ := tx.Query(ctx, `SELECT id, smsc_id, keys, state, err, received_at FROM receipts
		WHERE message_id IS NULL AND keys && $1 ORDER BY id`, keys)
	held, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Receipt, error) {
		var r unspoof.Receipt
		if err := row.Scan(&r.ID, &r.SMSCID, &r.Keys, &r.State, &r.Err, &r.At); err != nil {
			return nil, err
		}
		r.Keys, r.At = fields(r.Keys), r.At.UTC()
		return &r, nil
	})
	if err != nil {
		return fmt.Errorf("held receipts: %w", err)
	}
	for _, r := range held {
		if _, err := applyReceipt(ctx, tx, r); err != nil {
			return err
		}
	}
	return nil
}

// ApplyReceipts stores rs (a receipt the SMSC repeats is stored once, and applied once) and
// applies each to the submitted message whose SMSC id it matches: delivered counts a part
// delivered (the message is delivered when all its parts are), undeliverable, rejected or
// deleted fails it, expired expires it. A receipt no message matches is held, and applied by
// UpdateMessages when its message is recorded as submitted. It returns how many receipts were
// applied.
func (db *DB) ApplyReceipts(ctx context.Context, rs []*unspoof.Receipt) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(receiptsLock)); err != nil {
			return err
		}
		// One statement a receipt, all in one round trip: statements of a batch run in order, so
		// the second part's receipt sees the first part's.
		b := &pgx.Batch{}
		for _, r := range rs {
			canonical := ""
			if len(r.Keys) > 0 {
				canonical = r.Keys[0]
			}
			b.Queue(applyReceiptSQL, r.SMSCID, textArray(r.Keys), r.State, r.Err, r.At, canonical,
				unspoof.ReceiptOutcome(r.State), strings.TrimSpace(r.State+" "+r.Err))
		}
		br := tx.SendBatch(ctx, b)
		for _, r := range rs {
			var applied bool
			if err := br.QueryRow().Scan(&applied); err != nil {
				br.Close()
				return fmt.Errorf("receipt %s: %w", r.SMSCID, translate("receipt", err))
			}
			if applied {
				n++
			}
		}
		return br.Close()
	})
	if err != nil {
		return 0, domainOr("apply receipts", err)
	}
	return n, nil
}

// applyReceiptSQL stores one receipt ($1 id as named, $2 keys, $3 state, $4 err, $5 when) unless
// it is a repeat, linked to the message its keys match — the canonical key $6 first, then a
// submitted message — and applies its outcome $7 (reason $8) to that message if it is
// submitted. It says whether the receipt was new and matched a message.
const applyReceiptSQL = `WITH m AS (
	SELECT m.id FROM smsc_ids k JOIN messages m ON m.id = k.message_id
	WHERE k.key = ANY($2::text[]) ORDER BY k.key = $6 DESC, m.state = 'submitted' DESC, m.id DESC LIMIT 1
), ins AS (
	INSERT INTO receipts (smsc_id, keys, state, err, received_at, message_id)
	VALUES ($1, $2, $3, $4, $5, (SELECT id FROM m))
	ON CONFLICT (smsc_id, state) DO NOTHING
	RETURNING message_id
), upd AS (
	UPDATE messages SET updated_at = $5,
		delivered = delivered + CASE WHEN $7 = 'delivered' THEN 1 ELSE 0 END,
		state = CASE WHEN $7 = 'delivered' THEN CASE WHEN delivered + 1 >= parts THEN 'delivered' ELSE state END
			WHEN $7 IN ('failed', 'expired') THEN $7 ELSE state END,
		reason = CASE WHEN $7 IN ('failed', 'expired') THEN $8 ELSE reason END,
		done_at = CASE WHEN $7 = 'delivered' AND delivered + 1 >= parts OR $7 IN ('failed', 'expired') THEN $5 ELSE done_at END
	WHERE id = (SELECT message_id FROM ins) AND state = 'submitted' AND $7 <> ''
	RETURNING id
)
SELECT coalesce((SELECT message_id FROM ins) IS NOT NULL, false) FROM (SELECT count(*) FROM upd) AS forced`

// applyReceipt applies stored receipt r to the message its keys match, and links it to that
// message; it says whether any matched. A match on the canonical key (Keys[0], the id written
// the same way) wins over the other forms, so two ids that merely look alike never collide;
// then a submitted message wins.
func applyReceipt(ctx context.Context, tx pgx.Tx, r *unspoof.Receipt) (bool, error) {
	if len(r.Keys) == 0 {
		return false, nil
	}
	var id int64
	err := tx.QueryRow(ctx, `SELECT m.id FROM smsc_ids k JOIN messages m ON m.id = k.message_id
		WHERE k.key = ANY($1) ORDER BY k.key = $2 DESC, m.state = 'submitted' DESC, m.id DESC LIMIT 1`,
		r.Keys, r.Keys[0]).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
	}
	switch outcome := unspoof.ReceiptOutcome(r.State); outcome {
	case unspoof.MessageDelivered:
		_, err = tx.Exec(ctx, `UPDATE messages SET delivered = delivered + 1, updated_at = $1,
			state = CASE WHEN delivered + 1 >= parts THEN 'delivered' ELSE state END,
			done_at = CASE WHEN delivered + 1 >= parts THEN $1 ELSE done_at END
			WHERE id = $2 AND state = 'submitted'`, r.At, id)
	case unspoof.MessageFailed, unspoof.MessageExpired:
		_, err = tx.Exec(ctx, `UPDATE messages SET state = $1, reason = $2, updated_at = $3, done_at = $3
			WHERE id = $4 AND state = 'submitted'`, outcome, strings.TrimSpace(r.State+" "+r.Err), r.At, id)
	}
	if err != nil {
		return false, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE receipts SET message_id = $1 WHERE id = $2`, id, r.ID); err != nil {
		return false, fmt.Errorf("receipt %s: %w", r.SMSCID, err)
	}
	r.MessageID = id
	return true, nil
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
