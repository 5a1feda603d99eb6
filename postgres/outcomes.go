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

	"github.com/unspoof/unspoof"
)

// The hot path of a campaign run: claims, submit outcomes and receipts. Each is a statement
// for a whole batch (arrays in, unnest in SQL), not one a message: the server's work per
// statement, not per row, is what bounded a run on PostgreSQL.

// receiptsLock is the key of the advisory lock that serialises matching receipts with recording
// messages as submitted. Without it a receipt stored while its message's SMSC ids are being
// recorded by another transaction would see neither the ids (not yet committed) nor be seen by
// that transaction (its receipt not yet committed), and stay held for ever. SQLite, with its one
// writer, needs no such thing.
const receiptsLock = 0x72656365697074 // "receipt"

// lockReceipts takes receiptsLock until the transaction ends.
const lockReceipts = `SELECT pg_advisory_xact_lock($1)`

// claimMessagesSQL moves up to $4 pending messages of campaign $2 to time zones $3, with ids
// past $5, to submitting at $1 (to suppressed if their number opted out) and returns them.
// Opt-outs are checked on the rows being claimed only. One statement is one transaction: the
// claim is durable when it returns, before any of its messages is sent.
const claimMessagesSQL = `WITH claimed AS MATERIALIZED (
	SELECT id, EXISTS (SELECT 1 FROM optouts o WHERE o.e164 = messages.e164) AS opted_out FROM messages
	WHERE campaign_id = $2 AND state = 'pending' AND tz = ANY($3) AND id > $5
	ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
UPDATE messages m SET updated_at = $1,
	state = CASE WHEN c.opted_out THEN 'suppressed' ELSE 'submitting' END,
	reason = CASE WHEN c.opted_out THEN 'opted out' ELSE m.reason END
FROM claimed c
WHERE m.id = c.id AND m.state = 'pending'
RETURNING `

// ClaimMessages moves up to f.Limit pending messages of the campaign to its time zones f.TZs to
// submitting and returns them, oldest first; messages to opted-out numbers are made suppressed
// instead. Rows another transaction has locked are skipped (FOR UPDATE SKIP LOCKED), so that two
// runners claiming at once never get the same message and never wait for each other.
func (db *DB) ClaimMessages(ctx context.Context, f unspoof.ClaimFilter, at time.Time) ([]*unspoof.Message, error) {
	if f.Limit <= 0 || len(f.TZs) == 0 {
		return nil, nil
	}
	rows, _ := db.pool.Query(ctx, claimMessagesSQL+prefixCols("m.", messageCols), at, f.CampaignID, f.TZs, f.Limit, f.AfterID)
	out, err := collectMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	out = slices.DeleteFunc(out, func(m *unspoof.Message) bool { return m.State != unspoof.MessageSubmitting })
	slices.SortFunc(out, func(a, b *unspoof.Message) int { return cmp.Compare(a.ID, b.ID) }) // RETURNING has no order
	return out, nil
}

// updateMessagesSQL applies a batch of MessageUpdates with distinct message ids ($1 id, $2 from,
// $3 to, $4 reason, $5 attempts, $6 at), each only if its message is still in its from state.
// Moves to submitted record the message's SMSC ids, one a part in order ($9[$7:$8], a slice of
// one array for the whole batch) and their keys ($10 message id and $11 key). It returns how
// many were applied.
const updateMessagesSQL = `WITH u AS (
	UPDATE messages m SET state = v.to_state, reason = v.reason, attempts = greatest(m.attempts, v.attempts),
		updated_at = v.at,
		smsc_ids = CASE WHEN v.to_state = 'submitted' THEN coalesce(($9::text[])[v.first:v.last], '{}') ELSE m.smsc_ids END,
		sent_at = CASE WHEN v.to_state = 'submitted' THEN v.at ELSE m.sent_at END,
		done_at = CASE WHEN v.to_state IN ('failed', 'expired') THEN v.at ELSE m.done_at END
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::timestamptz[], $7::integer[],
		$8::integer[]) AS v(id, from_state, to_state, reason, attempts, at, first, last)
	WHERE m.id = v.id AND m.state = v.from_state
	RETURNING m.id, m.state
), k AS (
	INSERT INTO smsc_ids (key, message_id)
	SELECT k.key, k.message_id FROM unnest($10::bigint[], $11::text[]) AS k(message_id, key)
	JOIN u ON u.id = k.message_id
	WHERE u.state = 'submitted'
)
SELECT count(*) FROM u`

// heldReceiptsSQL selects the held receipts that name one of keys $1.
const heldReceiptsSQL = `SELECT id, smsc_id, keys, state, err, received_at FROM receipts
	WHERE message_id IS NULL AND keys && $1 ORDER BY id`

// UpdateMessages applies us in one transaction, in order, each only if its message is still in
// its From state; it returns how many were applied. Moves to submitted record the SMSC ids and
// their keys, then apply the held receipts those keys match. It takes three round trips (begin;
// the updates and the held receipts' lookup; commit) whatever the number of updates.
func (db *DB) UpdateMessages(ctx context.Context, us []unspoof.MessageUpdate) (int, error) {
	if len(us) == 0 {
		return 0, nil
	}
	var keys []string // of every submit: a held receipt they name is matched again, as if new
	for _, u := range us {
		if u.To == unspoof.MessageSubmitted {
			keys = append(keys, u.Keys...)
		}
	}
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if len(keys) > 0 {
			b.Queue(lockReceipts, int64(receiptsLock))
		}
		runs := distinctRuns(us)
		for _, run := range runs {
			b.Queue(updateMessagesSQL, updateArgs(run)...)
		}
		br := tx.SendBatch(ctx, b)
		err := func() error {
			if len(keys) > 0 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			for _, run := range runs {
				var k int
				if err := br.QueryRow().Scan(&k); err != nil {
					return fmt.Errorf("messages %d…%d: %w", run[0].ID, run[len(run)-1].ID, translate("message", err))
				}
				n += k
			}
			return nil
		}()
		if err := cmp.Or(err, br.Close()); err != nil || len(keys) == 0 {
			return err
		}
		return applyHeld(ctx, tx, keys)
	})
	if err != nil {
		return 0, domainOr("update messages", err)
	}
	return n, nil
}

// distinctRuns cuts us, in order, into runs in which no message appears twice: one statement
// applies a run, and an UPDATE … FROM changes a row once however many source rows name it.
func distinctRuns(us []unspoof.MessageUpdate) [][]unspoof.MessageUpdate {
	var runs [][]unspoof.MessageUpdate
	seen := make(map[int64]bool, len(us))
	start := 0
	for i, u := range us {
		if seen[u.ID] {
			runs = append(runs, us[start:i])
			clear(seen)
			start = i
		}
		seen[u.ID] = true
	}
	return append(runs, us[start:])
}

// updateArgs returns the arguments of updateMessagesSQL for a run of updates.
func updateArgs(us []unspoof.MessageUpdate) []any {
	n := len(us)
	ids, attempts, first, last := make([]int64, n), make([]int32, n), make([]int32, n), make([]int32, n)
	from, to, reasons := make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	var keyMsg []int64
	var smscIDs, keys []string
	for i, u := range us {
		ids[i], from[i], to[i], reasons[i], attempts[i], at[i] = u.ID, u.From, u.To, u.Reason, int32(u.Attempts), u.At
		if u.To != unspoof.MessageSubmitted {
			continue
		}
		first[i] = int32(len(smscIDs) + 1) // SQL arrays count from 1; an empty slice is [k+1:k]
		smscIDs = append(smscIDs, u.SMSCIDs...)
		last[i] = int32(len(smscIDs))
		for _, k := range u.Keys {
			keyMsg, keys = append(keyMsg, u.ID), append(keys, k)
		}
	}
	return []any{ids, from, to, reasons, attempts, at, first, last, textArray(smscIDs), keyMsg, textArray(keys)}
}

// applyHeld applies, one at a time in the order they came, the held receipts that name one of
// keys, the keys of messages just recorded as submitted: a held receipt naming none of them
// still matches no message. Held receipts are rare (the engine stores a message's outcome
// before the receipts that came after it), so this takes a round trip each.
func applyHeld(ctx context.Context, tx pgx.Tx, keys []string) error {
	rows, _ := tx.Query(ctx, heldReceiptsSQL, keys)
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

// applyReceiptsSQL stores a batch of receipts ($1 SMSC id as named, $2 state, $3 err, $4 when,
// $5 outcome, $6 reason for a failure, $7 canonical key or ”; $8 receipt's position from 1
// and $9 key, for each of its keys in order), a repeat once, each linked to the message its keys
// match, and applies their outcomes to those messages, in order, as one receipt at a time
// would: delivered counts a part and delivers the message when all its parts are; failed or
// expired ends it; nothing changes a message that is no longer submitted. The match is the one
// applyReceipt makes: the canonical key first, then a submitted message, then the newest.
//
// A receipt matched against the messages as they were before the batch could pick another
// message than one at a time would, if it names several messages (SMSC ids that look alike)
// and one of them is matched by an earlier receipt of the batch, which may end it. Then
// nothing is stored, and the second column says so: the caller applies the batch one at a
// time. Otherwise it returns how many receipts were new and matched a message.
const applyReceiptsSQL = `WITH r AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
		WITH ORDINALITY AS r(smsc_id, state, err, at, outcome, reason, canonical, ord)
), rk AS (
	SELECT * FROM unnest($8::bigint[], $9::text[]) WITH ORDINALITY AS rk(ord, key, n)
), pairs AS (
	SELECT rk.ord, s.message_id, bool_or(s.key = r.canonical) AS canonical
	FROM rk JOIN r ON r.ord = rk.ord JOIN smsc_ids s ON s.key = rk.key
	GROUP BY rk.ord, s.message_id
), best AS (
	SELECT DISTINCT ON (p.ord) p.ord, p.message_id, count(*) OVER (PARTITION BY p.ord) AS candidates
	FROM pairs p JOIN messages m ON m.id = p.message_id
	ORDER BY p.ord, p.canonical DESC, m.state = 'submitted' DESC, p.message_id DESC
), unsafe AS (
	SELECT FROM best b JOIN pairs p ON p.ord = b.ord JOIN best e ON e.message_id = p.message_id AND e.ord < b.ord
	WHERE b.candidates > 1
	LIMIT 1
), ins AS (
	INSERT INTO receipts (smsc_id, keys, state, err, received_at, message_id)
	SELECT r.smsc_id, coalesce(k.keys, '{}'), r.state, r.err, r.at, b.message_id
	FROM r LEFT JOIN (SELECT ord, array_agg(key ORDER BY n) AS keys FROM rk GROUP BY ord) k ON k.ord = r.ord
		LEFT JOIN best b ON b.ord = r.ord
	WHERE NOT EXISTS (SELECT FROM unsafe)
	ORDER BY r.ord
	ON CONFLICT (smsc_id, state) DO NOTHING
	RETURNING smsc_id, state, message_id
), applied AS (
	SELECT r.ord, i.message_id, r.outcome, r.reason, r.at
	FROM ins i JOIN (SELECT smsc_id, state, min(ord) AS ord FROM r GROUP BY smsc_id, state) f USING (smsc_id, state)
		JOIN r ON r.ord = f.ord
	WHERE i.message_id IS NOT NULL
), steps AS (
	SELECT a.ord, a.message_id, a.outcome, a.reason, a.at, m.parts,
		m.delivered + count(*) FILTER (WHERE a.outcome = 'delivered') OVER (PARTITION BY a.message_id ORDER BY a.ord)
			AS delivered
	FROM applied a JOIN messages m ON m.id = a.message_id
	WHERE m.state = 'submitted' AND a.outcome <> ''
), ends AS (
	SELECT s.*, s.outcome IN ('failed', 'expired') OR s.outcome = 'delivered' AND s.delivered >= s.parts AS ending
	FROM steps s
), last AS ( -- each message's last receipt that applies: the one that ends it, or the last
	SELECT DISTINCT ON (message_id) * FROM (
		SELECT e.*, min(e.ord) FILTER (WHERE e.ending) OVER (PARTITION BY e.message_id) AS end_ord FROM ends e
	) e
	WHERE ord <= coalesce(end_ord, ord)
	ORDER BY message_id, ord DESC
), upd AS (
	UPDATE messages m SET updated_at = l.at, delivered = l.delivered,
		state = CASE WHEN NOT l.ending THEN m.state WHEN l.outcome = 'delivered' THEN 'delivered' ELSE l.outcome END,
		reason = CASE WHEN l.ending AND l.outcome <> 'delivered' THEN l.reason ELSE m.reason END,
		done_at = CASE WHEN l.ending THEN l.at ELSE m.done_at END
	FROM last l
	WHERE m.id = l.message_id AND m.state = 'submitted'
)
SELECT (SELECT count(*) FROM applied)::integer, EXISTS (SELECT FROM unsafe)`

// ApplyReceipts stores rs (a receipt the SMSC repeats is stored once, and applied once) and
// applies each to the submitted message whose SMSC id it matches: delivered counts a part
// delivered (the message is delivered when all its parts are), undeliverable, rejected or
// deleted fails it, expired expires it. A receipt no message matches is held, and applied by
// UpdateMessages when its message is recorded as submitted. It returns how many receipts were
// applied. The batch takes one round trip, in one transaction, unless receipts of it name
// look-alike SMSC ids (see applyReceiptsSQL).
func (db *DB) ApplyReceipts(ctx context.Context, rs []*unspoof.Receipt) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	b := &pgx.Batch{} // the statements of a batch run in one (implicit) transaction
	b.Queue(lockReceipts, int64(receiptsLock))
	b.Queue(applyReceiptsSQL, receiptArgs(rs)...)
	br := db.pool.SendBatch(ctx, b)
	var n int
	var oneByOne bool
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&n, &oneByOne)
	}
	if err := cmp.Or(err, br.Close()); err != nil {
		return 0, domainOr("apply receipts", translate("receipt", err))
	}
	if oneByOne {
		return db.applyReceiptsInOrder(ctx, rs)
	}
	return n, nil
}

// receiptArgs returns the arguments of applyReceiptsSQL for rs.
func receiptArgs(rs []*unspoof.Receipt) []any {
	n := len(rs)
	ids, states, errs := make([]string, n), make([]string, n), make([]string, n)
	outcomes, reasons, canonical := make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	var keyOrd []int64
	var keys []string
	for i, r := range rs {
		ids[i], states[i], errs[i], at[i] = r.SMSCID, r.State, r.Err, r.At
		outcomes[i], reasons[i] = unspoof.ReceiptOutcome(r.State), strings.TrimSpace(r.State+" "+r.Err)
		if len(r.Keys) > 0 {
			canonical[i] = r.Keys[0]
		}
		for _, k := range r.Keys {
			keyOrd, keys = append(keyOrd, int64(i+1)), append(keys, k)
		}
	}
	return []any{ids, states, errs, at, outcomes, reasons, canonical, keyOrd, textArray(keys)}
}

// applyReceiptsInOrder is ApplyReceipts one receipt at a time, for a batch applyReceiptsSQL
// cannot apply at once.
func (db *DB) applyReceiptsInOrder(ctx context.Context, rs []*unspoof.Receipt) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockReceipts, int64(receiptsLock)); err != nil {
			return err
		}
		for _, r := range rs {
			err := tx.QueryRow(ctx, `INSERT INTO receipts (smsc_id, keys, state, err, received_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (smsc_id, state) DO NOTHING RETURNING id`, r.SMSCID, textArray(r.Keys), r.State, r.Err, r.At).Scan(&r.ID)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // a repeat
			} else if err != nil {
				return fmt.Errorf("receipt %s: %w", r.SMSCID, translate("receipt", err))
			}
			ok, err := applyReceipt(ctx, tx, r)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, domainOr("apply receipts", err)
	}
	return n, nil
}

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
