package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/unspoof/unspoof"
)

const sourceCols = `id, kind, name, sha256, size_bytes, region, synthetic, rows_read, rows_loaded, rows_quarantined,
	quarantine_path, ingested_at, ingested_by`

func scanSource(row pgx.Row) (*unspoof.Source, error) {
	var s unspoof.Source
	if err := row.Scan(&s.ID, &s.Kind, &s.Name, &s.SHA256, &s.Size, &s.Region, &s.Synthetic, &s.RowsRead,
		&s.RowsLoaded, &s.RowsQuarantined, &s.QuarantinePath, &s.IngestedAt, &s.IngestedBy); err != nil {
		return nil, err
	}
	s.IngestedAt = s.IngestedAt.UTC()
	return &s, nil
}

// FindSourceByDigest returns the source of kind whose file had the given SHA-256, or ENOTFOUND.
func (db *DB) FindSourceByDigest(ctx context.Context, kind unspoof.Kind, sha256 string) (*unspoof.Source, error) {
	s, err := scanSource(db.pool.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE kind = $1 AND sha256 = $2`,
		string(kind), sha256))
	if err != nil {
		if unspoof.ErrorCode(translate("source", err)) == unspoof.ENOTFOUND {
			return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no %s source with SHA-256 %s", kind, sha256)
		}
		return nil, fmt.Errorf("find source: %w", err)
	}
	return s, nil
}

// FindSources returns every source, oldest first.
func (db *DB) FindSources(ctx context.Context) ([]*unspoof.Source, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+sourceCols+` FROM sources ORDER BY id`)
	sources, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Source, error) { return scanSource(row) })
	if err != nil {
		return nil, fmt.Errorf("find sources: %w", err)
	}
	return sources, nil
}

// AccountIDs maps every account's external id to its id.
func (db *DB) AccountIDs(ctx context.Context) (map[string]int64, error) {
	rows, _ := db.pool.Query(ctx, `SELECT external_id, id FROM accounts`)
	defer rows.Close()
	m := make(map[string]int64)
	var ext string
	var id int64
	_, err := pgx.ForEachRow(rows, []any{&ext, &id}, func() error {
		m[ext] = id
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("account ids: %w", err)
	}
	return m, nil
}

// callWhere builds the WHERE clause of f and its arguments.
func callWhere(f unspoof.CallFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if v := f.CalleeE164; v != nil {
		add("callee_e164 = $%d", *v)
	}
	if v := f.AccountID; v != nil {
		add("account_id = $%d", *v)
	}
	if v := f.SourceID; v != nil {
		add("source_id = $%d", *v)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

const callSelect = `SELECT id, external_id, account_id, started_at, duration_s, status, cli_raw, coalesce(cli_e164, ''),
	callee_raw, callee_e164, callee_region, callee_type, callee_valid, source_id, source_row FROM calls`

// FindCalls returns the calls matching f, in order of start time then id, and how many match
// in all.
func (db *DB) FindCalls(ctx context.Context, f unspoof.CallFilter) ([]*unspoof.Call, int, error) {
	where, args := callWhere(f)
	var calls []*unspoof.Call
	var n int
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM calls`+where, args...).Scan(&n); err != nil {
				return err
			}
			limit := pgtype.Int8{Int64: int64(f.Limit), Valid: f.Limit > 0} // NULL: no limit
			rows, _ := tx.Query(ctx, fmt.Sprintf("%s%s ORDER BY started_at, id LIMIT $%d OFFSET $%d", callSelect, where,
				len(args)+1, len(args)+2), append(args, limit, max(f.Offset, 0))...)
			var err error
			calls, err = pgx.CollectRows(rows, scanCall)
			return err
		})
	if err != nil {
		return nil, 0, fmt.Errorf("find calls: %w", err)
	}
	return calls, n, nil
}

func scanCall(row pgx.CollectableRow) (*unspoof.Call, error) {
	var c unspoof.Call
	var durationS int32
	if err := row.Scan(&c.ID, &c.ExternalID, &c.AccountID, &c.StartedAt, &durationS, &c.Status, &c.CLI.Raw, &c.CLI.E164,
		&c.Callee.Raw, &c.Callee.E164, &c.Callee.Region, &c.Callee.LineType, &c.Callee.Valid, &c.SourceID, &c.SourceRow); err != nil {
		return nil, err
	}
	c.StartedAt, c.Duration = c.StartedAt.UTC(), time.Duration(durationS)*time.Second
	return &c, nil
}

// statsQuery reads every figure but the top organisations. The call figures come from one
// scan of calls, grouped by callee so that the distinct counts need no sort of their own.
const statsQuery = `
WITH callee AS (
	SELECT count(*) AS calls,
		count(*) FILTER (WHERE duration_s > 60) AS over60,
		count(*) FILTER (WHERE callee_region = 'GB') AS uk,
		count(*) FILTER (WHERE callee_region = 'GB' AND duration_s > 60) AS uk_over60,
		min(started_at) AS first,
		max(started_at) AS last
	FROM calls GROUP BY callee_e164
), c AS (
	SELECT coalesce(sum(calls), 0)::bigint AS calls,
		coalesce(sum(over60), 0)::bigint AS over60,
		count(*) AS callees,
		coalesce(sum(uk), 0)::bigint AS uk,
		count(*) FILTER (WHERE uk > 0) AS uk_callees,
		coalesce(sum(uk_over60), 0)::bigint AS uk_over60,
		count(*) FILTER (WHERE uk_over60 > 0) AS uk_callees_over60,
		min(first) AS first,
		max(last) AS last
	FROM callee
), p AS (
	SELECT count(*) AS payments, coalesce(sum(amount_minor), 0)::bigint AS paid, count(DISTINCT account_id) AS paying
	FROM payments
)
SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM accounts), p.payments, p.paid, p.paying,
	c.calls, c.over60, c.callees, c.uk, c.uk_callees, c.uk_over60, c.uk_callees_over60,
	(SELECT count(*) FROM complaints), c.first, c.last
FROM c, p`

// topOrgsQuery counts the calls that presented a number of each organisation: a second scan
// of calls, hash-joined to the (small) list of organisations' numbers.
const topOrgsQuery = `
SELECT o.name, count(*) AS n
FROM calls c JOIN org_numbers n ON n.e164 = c.cli_e164 JOIN orgs o ON o.id = n.org_id
GROUP BY o.id, o.name ORDER BY n DESC, o.name LIMIT 10`

// Stats returns the headline figures of the evidence, all read from one snapshot.
func (db *DB) Stats(ctx context.Context) (*unspoof.Stats, error) {
	var s unspoof.Stats
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			// Group millions of callees by hashing, with room to do it in memory. Once calls is
			// analysed the planner may prefer walking calls_callee in order instead, which
			// visits the heap at random: on 10M calls that took 51 s against 18 s for hashing.
			if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
				return err
			}
			var first, last pgtype.Timestamptz
			if err := tx.QueryRow(ctx, statsQuery).Scan(&s.Sources, &s.Accounts, &s.Payments, &s.PaidMinor,
				&s.PayingAccounts, &s.Calls, &s.CallsOver60s, &s.DistinctCallees, &s.UKCalls, &s.UKCallees,
				&s.UKCallsOver60s, &s.UKCalleesOver60, &s.Complaints, &first, &last); err != nil {
				return err
			}
			s.FirstCall, s.LastCall = utcOrZero(first), utcOrZero(last)
			rows, _ := tx.Query(ctx, topOrgsQuery)
			top, err := pgx.CollectRows(rows, pgx.RowToStructByPos[unspoof.OrgCount])
			if len(top) > 0 {
				s.TopOrgs = top
			}
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &s, nil
}

func utcOrZero(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
