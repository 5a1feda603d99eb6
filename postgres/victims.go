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

var _ unspoof.VictimStore = (*DB)(nil)

// callGroupsQuery is the one pass over calls a ranking makes: calls to numbers with the given
// prefix ($2), grouped by callee, account and presented CLI, in callee order. $1 is the
// long-call threshold in seconds. The last column is the start (Unix seconds, high bits) and
// duration (low 16 bits, at most 65,535 s) of the group's last long call, in one integer so that
// one max finds both (date_part, a double, rather than extract, a numeric: cheaper per row).
// Organisations' numbers are matched in Go.
const callGroupsQuery = `
SELECT callee_e164, max(callee_region), max(callee_type), bool_or(callee_valid), account_id, coalesce(cli_e164, ''),
	count(*), count(*) FILTER (WHERE duration_s > 0), count(*) FILTER (WHERE duration_s > $1),
	sum(duration_s), max(duration_s), min(started_at), max(started_at),
	max(floor(date_part('epoch', started_at))::bigint << 16 | least(duration_s, 65535)) FILTER (WHERE duration_s > $1)
FROM calls
WHERE starts_with(callee_e164, $2)
GROUP BY callee_e164, account_id, cli_e164
ORDER BY callee_e164`

// ScanCallGroups calls fn for each group of calls to a number matching f, in callee order,
// all read from one snapshot.
func (db *DB) ScanCallGroups(ctx context.Context, f unspoof.CallGroupFilter, fn func(*unspoof.CallGroup) error) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			// Hash the groups in memory rather than walk calls_callee in order (random heap
			// visits: see Stats).
			if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, callGroupsQuery, int32(f.LongerThan/time.Second), f.Prefix)
			if err != nil {
				return err
			}
			defer rows.Close()
			var g unspoof.CallGroup
			var talk int64
			var longest int32
			var lastLong pgtype.Int8
			for rows.Next() {
				if err := rows.Scan(&g.Callee.E164, &g.Callee.Region, &g.Callee.LineType, &g.Callee.Valid, &g.AccountID,
					&g.CLI, &g.Calls, &g.Answered, &g.LongCalls, &talk, &longest, &g.FirstCall, &g.LastCall, &lastLong); err != nil {
					return err
				}
				g.TalkTime, g.LongestCall = time.Duration(talk)*time.Second, time.Duration(longest)*time.Second
				g.FirstCall, g.LastCall = g.FirstCall.UTC(), g.LastCall.UTC()
				g.LastLongCall, g.LastLongDuration = time.Time{}, 0
				if lastLong.Valid {
					g.LastLongCall = time.Unix(lastLong.Int64>>16, 0).UTC()
					g.LastLongDuration = time.Duration(lastLong.Int64&0xffff) * time.Second
				}
				if err := fn(&g); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	if err != nil {
		return fmt.Errorf("call groups: %w", err)
	}
	return nil
}

// OrgsByNumber maps every organisation's number to its organisation (lowest id first).
func (db *DB) OrgsByNumber(ctx context.Context) (map[string]*unspoof.Org, error) {
	rows, _ := db.pool.Query(ctx, `SELECT n.e164, o.id, o.external_id, o.name, o.sector, o.country
		FROM org_numbers n JOIN orgs o ON o.id = n.org_id ORDER BY o.id DESC`)
	defer rows.Close()
	m := make(map[string]*unspoof.Org)
	var n string
	var o unspoof.Org
	if _, err := pgx.ForEachRow(rows, []any{&n, &o.ID, &o.ExternalID, &o.Name, &o.Sector, &o.Country}, func() error {
		org := o
		m[n] = &org
		return nil
	}); err != nil {
		return nil, fmt.Errorf("org numbers: %w", err)
	}
	return m, nil
}

const identifiedQuery = `
SELECT a.id FROM accounts a JOIN payments p ON p.account_id = a.id
WHERE a.country = $1 GROUP BY a.id HAVING sum(p.amount_minor) >= $2`

// IdentifiedAccounts returns the accounts of country that paid at least minPaid pence in all.
func (db *DB) IdentifiedAccounts(ctx context.Context, country string, minPaid int64) (map[int64]bool, error) {
	rows, _ := db.pool.Query(ctx, identifiedQuery, country, minPaid)
	defer rows.Close()
	m := make(map[int64]bool)
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { m[id] = true; return nil }); err != nil {
		return nil, fmt.Errorf("identified accounts: %w", err)
	}
	return m, nil
}

// victimColumns are the stored columns of victims, in the order ReplaceVictims copies them.
var victimColumns = []string{"e164", "region", "line_type", "valid", "fictional", "calls", "answered_calls", "long_calls",
	"talk_s", "longest_s", "first_call", "last_call", "accounts", "long_accounts", "orgs", "org_calls", "bank_calls",
	"identified_long_calls", "identified", "rule", "score", "rank", "tier", "channel", "code", "ranked_at", "top_org",
	"caller_long_calls", "ended_long_s"}

// victimStatus derives the status of victim v from the opt-outs and the campaigns' messages
// (see unspoof.VictimNew): the one rule FindVictims, FindVictimByNumber and FindRecipients
// apply.
const victimStatus = `CASE WHEN EXISTS (SELECT 1 FROM optouts o WHERE o.e164 = v.e164) THEN 'opted-out'
	WHEN EXISTS (SELECT 1 FROM messages m JOIN campaigns c ON c.id = m.campaign_id
		WHERE m.e164 = v.e164 AND NOT c.test AND m.state IN ` + liveStates + `) THEN 'alerted'
	ELSE 'new' END`

// victimSelectCols reads a victim back, from victims v, with its derived status.
var victimSelectCols = func() string {
	cols := make([]string, 0, len(victimColumns)+1)
	for _, c := range victimColumns {
		cols = append(cols, "v."+c)
		if c == "code" {
			cols = append(cols, victimStatus)
		}
	}
	return strings.Join(cols, ", ")
}()

// ReplaceVictims replaces the victims table with vs in one transaction (rows by COPY), keeping
// the reference code of every number that already had one.
func (db *DB) ReplaceVictims(ctx context.Context, vs []*unspoof.Victim, newCode func() string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// One ranking at a time: a second waits here, then sees the first's codes.
		if _, err := tx.Exec(ctx, `LOCK TABLE victim_codes IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		codes := make(map[string]string)
		used := make(map[string]bool)
		rows, _ := tx.Query(ctx, `SELECT e164, code FROM victim_codes`)
		var n, c string
		if _, err := pgx.ForEachRow(rows, []any{&n, &c}, func() error { codes[n], used[c] = c, true; return nil }); err != nil {
			return err
		}
		var fresh [][]any
		for _, v := range vs {
			if c, ok := codes[v.E164]; ok {
				v.Code = c
				continue
			}
			for v.Code = newCode(); used[v.Code]; v.Code = newCode() {
			}
			used[v.Code], codes[v.E164] = true, v.Code
			fresh = append(fresh, []any{v.E164, v.Code, v.RankedAt})
		}
		if _, err := tx.Exec(ctx, `DELETE FROM victims`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"victim_codes"}, []string{"e164", "code", "issued_at"},
			pgx.CopyFromRows(fresh)); err != nil {
			return translate("victim codes", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"victims"}, victimColumns, pgx.CopyFromSlice(len(vs), func(i int) ([]any, error) {
			v := vs[i]
			return []any{v.E164, v.Region, v.LineType, v.Valid, v.Fictional, v.Calls, v.AnsweredCalls, v.LongCalls,
				int64(v.TalkTime / time.Second), int64(v.LongestCall / time.Second), v.FirstCall, v.LastCall, v.Accounts,
				v.LongAccounts, v.Orgs, v.OrgCalls, v.BankCalls, v.IdentifiedLongCalls, v.Identified, v.Rule, v.Score,
				int32(v.Rank), v.Tier, v.Channel, v.Code, v.RankedAt, v.Org, v.CallerLongCalls,
				int64(v.EndedLongCall / time.Second)}, nil
		}))
		return translate("victims", err)
	})
	if err != nil {
		return fmt.Errorf("replace victims: %w", err)
	}
	return nil
}

// victimWhere builds the WHERE clause of f and its arguments.
func victimWhere(f unspoof.VictimFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Tier != nil {
		add("v.tier = $%d", *f.Tier)
	}
	if f.Channel != nil {
		add("v.channel = $%d", *f.Channel)
	}
	if f.Status != nil {
		add(strings.ReplaceAll(victimStatus, "%", "%%")+" = $%d", *f.Status)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FindVictims returns the victims matching f in rank order, and how many match in all.
func (db *DB) FindVictims(ctx context.Context, f unspoof.VictimFilter) ([]*unspoof.Victim, int, error) {
	where, args := victimWhere(f)
	var vs []*unspoof.Victim
	var n int
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM victims v`+where, args...).Scan(&n); err != nil {
				return err
			}
			limit := pgtype.Int8{Int64: int64(f.Limit), Valid: f.Limit > 0}
			rows, _ := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM victims v%s ORDER BY v.rank LIMIT $%d OFFSET $%d", victimSelectCols, where,
				len(args)+1, len(args)+2), append(args, limit, max(f.Offset, 0))...)
			var err error
			vs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Victim, error) { return scanVictim(row) })
			return err
		})
	if err != nil {
		return nil, 0, fmt.Errorf("find victims: %w", err)
	}
	return vs, n, nil
}

// FindVictimByNumber returns the victim with number e164, or ENOTFOUND.
func (db *DB) FindVictimByNumber(ctx context.Context, e164 string) (*unspoof.Victim, error) {
	v, err := scanVictim(db.pool.QueryRow(ctx, `SELECT `+victimSelectCols+` FROM victims v WHERE v.e164 = $1`, e164))
	if err != nil {
		if unspoof.ErrorCode(translate("victim", err)) == unspoof.ENOTFOUND {
			return nil, unspoof.Errorf(unspoof.ENOTFOUND, "%s is not in the victims ranking", e164)
		}
		return nil, fmt.Errorf("find victim: %w", err)
	}
	return v, nil
}

func scanVictim(row pgx.Row) (*unspoof.Victim, error) {
	var v unspoof.Victim
	var talk, longest, endedS int64
	var rank int32
	if err := row.Scan(&v.E164, &v.Region, &v.LineType, &v.Valid, &v.Fictional, &v.Calls, &v.AnsweredCalls, &v.LongCalls,
		&talk, &longest, &v.FirstCall, &v.LastCall, &v.Accounts, &v.LongAccounts, &v.Orgs, &v.OrgCalls, &v.BankCalls,
		&v.IdentifiedLongCalls, &v.Identified, &v.Rule, &v.Score, &rank, &v.Tier, &v.Channel, &v.Code, &v.Status,
		&v.RankedAt, &v.Org, &v.CallerLongCalls, &endedS); err != nil {
		return nil, err
	}
	v.Rank = int(rank)
	v.TalkTime, v.LongestCall = time.Duration(talk)*time.Second, time.Duration(longest)*time.Second
	v.FirstCall, v.LastCall, v.RankedAt = v.FirstCall.UTC(), v.LastCall.UTC(), v.RankedAt.UTC()
	v.EndedLongCall = time.Duration(endedS) * time.Second
	return &v, nil
}
