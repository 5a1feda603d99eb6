package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/unspoof/unspoof"
)

var _ unspoof.SuspectStore = (*DB)(nil)

// accountActivityQuery is the one pass over calls a suspects ranking makes, grouped by
// account, joined to each account's payment totals and to the reported losses linked to it
// (report_accounts, grouped by account). $1 is the long-call threshold in seconds.
// Presented numbers are matched against organisations' numbers (one org per number: the
// lowest id) by a hash join on that small table; their own numbers are no
// victims.
const accountActivityQuery = `
WITH orgnum AS (SELECT e164, min(org_id) AS org_id FROM org_numbers GROUP BY e164),
c AS (
	SELECT c.account_id, count(*) AS calls, count(*) FILTER (WHERE c.duration_s > $1) AS long_calls,
		count(DISTINCT c.callee_e164) FILTER (WHERE c.duration_s > $1 AND starts_with(c.callee_e164, '+44')
			AND c.callee_e164 NOT IN (SELECT e164 FROM orgnum)) AS victims,
		count(DISTINCT o.org_id) AS orgs, count(o.org_id) AS org_calls,
		min(c.started_at) AS first_call, max(c.started_at) AS last_call
	FROM calls c LEFT JOIN orgnum o ON o.e164 = c.cli_e164
	GROUP BY c.account_id),
p AS (
	SELECT account_id, sum(amount_minor) AS paid, count(*) AS n, min(paid_at) AS first_paid, max(paid_at) AS last_paid
	FROM payments GROUP BY account_id),
r AS (SELECT account_id, sum(loss_minor) AS loss FROM report_accounts GROUP BY account_id)
SELECT a.id, a.external_id, a.username, a.country, coalesce(p.paid, 0)::bigint, coalesce(p.n, 0),
	coalesce(c.calls, 0), coalesce(c.long_calls, 0), coalesce(c.victims, 0), coalesce(c.orgs, 0), coalesce(c.org_calls, 0),
	least(c.first_call, p.first_paid), greatest(c.last_call, p.last_paid), coalesce(r.loss, 0)::bigint
FROM accounts a LEFT JOIN c ON c.account_id = a.id LEFT JOIN p ON p.account_id = a.id LEFT JOIN r ON r.account_id = a.id
ORDER BY a.id`

// ScanAccountActivity calls fn for each account in id order with its payments and calls
// aggregated and its linked reported losses summed, all read from one snapshot.
func (db *DB) ScanAccountActivity(ctx context.Context, longerThan time.Duration, fn func(*unspoof.AccountActivity) error) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, accountActivityQuery, int32(longerThan/time.Second))
			if err != nil {
				return err
			}
			defer rows.Close()
			var a unspoof.AccountActivity
			var first, last pgtype.Timestamptz
			for rows.Next() {
				if err := rows.Scan(&a.AccountID, &a.ExternalID, &a.Username, &a.Country, &a.PaidMinor, &a.Payments, &a.Calls,
					&a.LongCalls, &a.Victims, &a.Orgs, &a.OrgCalls, &first, &last, &a.LossMinor); err != nil {
					return err
				}
				a.FirstActivity, a.LastActivity = time.Time{}, time.Time{}
				if first.Valid {
					a.FirstActivity = first.Time.UTC()
				}
				if last.Valid {
					a.LastActivity = last.Time.UTC()
				}
				if err := fn(&a); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	if err != nil {
		return fmt.Errorf("account activity: %w", err)
	}
	return nil
}

// FindPayments returns the payments of an account, oldest first.
func (db *DB) FindPayments(ctx context.Context, accountID int64) ([]*unspoof.Payment, error) {
	rows, _ := db.pool.Query(ctx, `SELECT id, external_id, account_id, paid_at, amount_minor, currency, method,
		source_id, source_row FROM payments WHERE account_id = $1 ORDER BY paid_at, id`, accountID)
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Payment, error) {
		var p unspoof.Payment
		err := row.Scan(&p.ID, &p.ExternalID, &p.AccountID, &p.PaidAt, &p.AmountMinor, &p.Currency, &p.Method,
			&p.SourceID, &p.SourceRow)
		p.PaidAt = p.PaidAt.UTC()
		return &p, err
	})
	if err != nil {
		return nil, fmt.Errorf("find payments: %w", err)
	}
	return ps, nil
}

var suspectColumns = []string{"account_id", "external_id", "username", "country", "paid_minor", "payments", "calls",
	"long_calls", "victims", "orgs", "org_calls", "first_activity", "last_activity", "identified", "loss_minor", "rule",
	"score", "rank", "ranked_at"}

const suspectCols = `account_id, external_id, username, country, paid_minor, payments, calls, long_calls, victims, orgs,
	org_calls, first_activity, last_activity, identified, loss_minor, rule, score, rank, ranked_at`

// ReplaceSuspects replaces the suspects table with ss in one transaction (rows by COPY).
func (db *DB) ReplaceSuspects(ctx context.Context, ss []*unspoof.Suspect) error {
	ts := func(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE suspects IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM suspects`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"suspects"}, suspectColumns, pgx.CopyFromSlice(len(ss), func(i int) ([]any, error) {
			s := ss[i]
			return []any{s.AccountID, s.ExternalID, s.Username, s.Country, s.PaidMinor, s.Payments, s.Calls, s.LongCalls,
				s.Victims, s.Orgs, s.OrgCalls, ts(s.FirstActivity), ts(s.LastActivity), s.Identified, s.LossMinor, s.Rule,
				s.Score, int32(s.Rank), s.RankedAt}, nil
		}))
		return translate("suspects", err)
	})
	if err != nil {
		return fmt.Errorf("replace suspects: %w", err)
	}
	return nil
}

// FindSuspects returns the suspects in rank order, and how many there are.
func (db *DB) FindSuspects(ctx context.Context, f unspoof.SuspectFilter) ([]*unspoof.Suspect, int, error) {
	var ss []*unspoof.Suspect
	var n int
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM suspects`).Scan(&n); err != nil {
				return err
			}
			limit := pgtype.Int8{Int64: int64(f.Limit), Valid: f.Limit > 0}
			rows, _ := tx.Query(ctx, `SELECT `+suspectCols+` FROM suspects ORDER BY rank LIMIT $1 OFFSET $2`, limit, max(f.Offset, 0))
			var err error
			ss, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Suspect, error) { return scanSuspect(row) })
			return err
		})
	if err != nil {
		return nil, 0, fmt.Errorf("find suspects: %w", err)
	}
	return ss, n, nil
}

// FindSuspectByAccount returns the suspect whose account's service id is externalID, or
// ENOTFOUND.
func (db *DB) FindSuspectByAccount(ctx context.Context, externalID string) (*unspoof.Suspect, error) {
	s, err := scanSuspect(db.pool.QueryRow(ctx, `SELECT `+suspectCols+` FROM suspects WHERE external_id = $1`, externalID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "account %q is not in the suspects ranking", externalID)
	} else if err != nil {
		return nil, fmt.Errorf("find suspect: %w", err)
	}
	return s, nil
}

func scanSuspect(row pgx.Row) (*unspoof.Suspect, error) {
	var s unspoof.Suspect
	var first, last pgtype.Timestamptz
	var rank int32
	if err := row.Scan(&s.AccountID, &s.ExternalID, &s.Username, &s.Country, &s.PaidMinor, &s.Payments, &s.Calls,
		&s.LongCalls, &s.Victims, &s.Orgs, &s.OrgCalls, &first, &last, &s.Identified, &s.LossMinor, &s.Rule, &s.Score,
		&rank, &s.RankedAt); err != nil {
		return nil, err
	}
	s.Rank = int(rank)
	if first.Valid {
		s.FirstActivity = first.Time.UTC()
	}
	if last.Valid {
		s.LastActivity = last.Time.UTC()
	}
	s.RankedAt = s.RankedAt.UTC()
	return &s, nil
}
