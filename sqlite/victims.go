package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
)

var _ unspoof.VictimStore = (*DB)(nil)

// callGroupsQuery is the one pass over calls a ranking makes: calls to numbers with the given
// prefix (?2), grouped by callee, account and presented CLI, in callee order. ?1 is the
// long-call threshold in seconds. The last column is the start (high bits) and duration (low 16
// bits, at most 65,535 s) of the group's last long call, in one integer so that one max finds
// both. Organisations' numbers are matched in Go: a join here costs more than the scan itself.
const callGroupsQuery = `
SELECT callee_e164, max(callee_region), max(callee_type), max(callee_valid), account_id, coalesce(cli_e164, ''),
	count(*), sum(duration_s > 0), sum(duration_s > ?1), sum(duration_s), max(duration_s), min(started_at), max(started_at),
	coalesce(max(CASE WHEN duration_s > ?1 THEN started_at << 16 | min(duration_s, 65535) END), 0)
FROM calls NOT INDEXED
WHERE substr(callee_e164, 1, length(?2)) = ?2
GROUP BY callee_e164, account_id, cli_e164
ORDER BY callee_e164`

// ScanCallGroups calls fn for each group of calls to a number matching f, in callee order.
// The scan reads the whole table in order rather than walk calls_callee, which visits it at
// random.
func (db *DB) ScanCallGroups(ctx context.Context, f unspoof.CallGroupFilter, fn func(*unspoof.CallGroup) error) error {
	rows, err := db.r.QueryContext(ctx, callGroupsQuery, int64(f.LongerThan/time.Second), f.Prefix)
	if err != nil {
		return fmt.Errorf("call groups: %w", err)
	}
	defer rows.Close()
	var g unspoof.CallGroup
	var talk, longest, first, last, lastLong int64
	for rows.Next() {
		if err := rows.Scan(&g.Callee.E164, &g.Callee.Region, &g.Callee.LineType, &g.Callee.Valid, &g.AccountID, &g.CLI,
			&g.Calls, &g.Answered, &g.LongCalls, &talk, &longest, &first, &last, &lastLong); err != nil {
			return fmt.Errorf("call groups: %w", err)
		}
		g.TalkTime, g.LongestCall = time.Duration(talk)*time.Second, time.Duration(longest)*time.Second
		g.FirstCall, g.LastCall = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
		g.LastLongCall, g.LastLongDuration = time.Time{}, 0
		if g.LongCalls > 0 {
			g.LastLongCall, g.LastLongDuration = time.Unix(lastLong>>16, 0).UTC(), time.Duration(lastLong&0xffff)*time.Second
		}
		if err := fn(&g); err != nil {
			return err
		}
	}
	return rows.Err()
}

// OrgsByNumber maps every organisation's number to its organisation (lowest id first).
func (db *DB) OrgsByNumber(ctx context.Context) (map[string]*unspoof.Org, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT n.e164, o.id, o.external_id, o.name, o.sector, o.country
		FROM org_numbers n JOIN orgs o ON o.id = n.org_id ORDER BY o.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("org numbers: %w", err)
	}
	defer rows.Close()
	m := make(map[string]*unspoof.Org)
	for rows.Next() {
		var n string
		var o unspoof.Org
		if err := rows.Scan(&n, &o.ID, &o.ExternalID, &o.Name, &o.Sector, &o.Country); err != nil {
			return nil, fmt.Errorf("org numbers: %w", err)
		}
		m[n] = &o
	}
	return m, rows.Err()
}

const identifiedQuery = `
SELECT a.id FROM accounts a JOIN payments p ON p.account_id = a.id
WHERE a.country = ? GROUP BY a.id HAVING sum(p.amount_minor) >= ?`

// IdentifiedAccounts returns the accounts of country that paid at least minPaid pence in all.
func (db *DB) IdentifiedAccounts(ctx context.Context, country string, minPaid int64) (map[int64]bool, error) {
	rows, err := db.r.QueryContext(ctx, identifiedQuery, country, minPaid)
	if err != nil {
		return nil, fmt.Errorf("identified accounts: %w", err)
	}
	defer rows.Close()
	m := make(map[int64]bool)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		m[id] = true
	}
	return m, rows.Err()
}

// victimStatus derives the status of victim v from the opt-outs and the campaigns' messages
// (see unspoof.VictimNew): the one rule FindVictims, FindVictimByNumber and FindRecipients
// apply.
const victimStatus = `CASE WHEN EXISTS (SELECT 1 FROM optouts o WHERE o.e164 = v.e164) THEN 'opted-out'
	WHEN EXISTS (SELECT 1 FROM messages m JOIN campaigns c ON c.id = m.campaign_id
		WHERE m.e164 = v.e164 AND NOT c.test AND m.state IN ` + liveStates + `) THEN 'alerted'
	ELSE 'new' END`

// victimInsertCols are the stored columns of victims; victimSelectCols reads them back with the
// derived status, from victims v.
const (
	victimInsertCols = `e164, region, line_type, valid, fictional, calls, answered_calls, long_calls, talk_s, longest_s,
	first_call, last_call, accounts, long_accounts, orgs, org_calls, bank_calls, identified_long_calls, identified,
	rule, score, rank, tier, channel, code, ranked_at, top_org, caller_long_calls, ended_long_s`
	victimSelectCols = `v.e164, v.region, v.line_type, v.valid, v.fictional, v.calls, v.answered_calls, v.long_calls,
	v.talk_s, v.longest_s, v.first_call, v.last_call, v.accounts, v.long_accounts, v.orgs, v.org_calls, v.bank_calls,
	v.identified_long_calls, v.identified, v.rule, v.score, v.rank, v.tier, v.channel, v.code, ` + victimStatus + `,
	v.ranked_at, v.top_org, v.caller_long_calls, v.ended_long_s`
)

// ReplaceVictims replaces the victims table with vs in one transaction, keeping the reference
// code of every number that already had one.
func (db *DB) ReplaceVictims(ctx context.Context, vs []*unspoof.Victim, newCode func() string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("replace victims: %w", err)
	}
	defer tx.Rollback()
	codes := make(map[string]string) // e164 → code, for every code ever given
	used := make(map[string]bool)
	rows, err := tx.QueryContext(ctx, `SELECT e164, code FROM victim_codes`)
	if err != nil {
		return fmt.Errorf("replace victims: %w", err)
	}
	for rows.Next() {
		var n, c string
		if err := rows.Scan(&n, &c); err != nil {
			rows.Close()
			return err
		}
		codes[n], used[c] = c, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM victims`); err != nil {
		return fmt.Errorf("replace victims: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO victims (`+victimInsertCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	insCode, err := tx.PrepareContext(ctx, `INSERT INTO victim_codes (e164, code, issued_at) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insCode.Close()
	for _, v := range vs {
		if c, ok := codes[v.E164]; ok {
			v.Code = c
		} else {
			for v.Code = newCode(); used[v.Code]; v.Code = newCode() {
			}
			used[v.Code], codes[v.E164] = true, v.Code
			if _, err := insCode.ExecContext(ctx, v.E164, v.Code, v.RankedAt.Unix()); err != nil {
				return fmt.Errorf("victim code: %w", translate(err))
			}
		}
		if _, err := ins.ExecContext(ctx, v.E164, v.Region, v.LineType, v.Valid, v.Fictional, v.Calls, v.AnsweredCalls,
			v.LongCalls, int64(v.TalkTime/time.Second), int64(v.LongestCall/time.Second), v.FirstCall.Unix(), v.LastCall.Unix(),
			v.Accounts, v.LongAccounts, v.Orgs, v.OrgCalls, v.BankCalls, v.IdentifiedLongCalls, v.Identified,
			v.Rule, v.Score, v.Rank, v.Tier, v.Channel, v.Code, v.RankedAt.Unix(), v.Org, v.CallerLongCalls,
			int64(v.EndedLongCall/time.Second)); err != nil {
			return fmt.Errorf("victim: %w", translate(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace victims: %w", err)
	}
	return nil
}

// victimWhere builds the WHERE clause of f and its arguments.
func victimWhere(f unspoof.VictimFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) { conds, args = append(conds, cond), append(args, v) }
	if f.Tier != nil {
		add("v.tier = ?", *f.Tier)
	}
	if f.Channel != nil {
		add("v.channel = ?", *f.Channel)
	}
	if f.Status != nil {
		add(victimStatus+" = ?", *f.Status)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FindVictims returns the victims matching f in rank order, and how many match in all.
func (db *DB) FindVictims(ctx context.Context, f unspoof.VictimFilter) ([]*unspoof.Victim, int, error) {
	where, args := victimWhere(f)
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("find victims: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM victims v`+where, args...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("find victims: %w", err)
	}
	limit := int64(-1)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+victimSelectCols+` FROM victims v`+where+` ORDER BY v.rank LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("find victims: %w", err)
	}
	defer rows.Close()
	var vs []*unspoof.Victim
	for rows.Next() {
		v, err := scanVictim(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("find victims: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, n, rows.Err()
}

// FindVictimByNumber returns the victim with number e164, or ENOTFOUND.
func (db *DB) FindVictimByNumber(ctx context.Context, e164 string) (*unspoof.Victim, error) {
	v, err := scanVictim(db.r.QueryRowContext(ctx, `SELECT `+victimSelectCols+` FROM victims v WHERE v.e164 = ?`, e164))
	if err == sql.ErrNoRows {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "%s is not in the victims ranking", e164)
	} else if err != nil {
		return nil, fmt.Errorf("find victim: %w", err)
	}
	return v, nil
}

func scanVictim(row interface{ Scan(...any) error }) (*unspoof.Victim, error) {
	var v unspoof.Victim
	var talk, longest, first, last, ranked, endedS int64
	if err := row.Scan(&v.E164, &v.Region, &v.LineType, &v.Valid, &v.Fictional, &v.Calls, &v.AnsweredCalls, &v.LongCalls,
		&talk, &longest, &first, &last, &v.Accounts, &v.LongAccounts, &v.Orgs, &v.OrgCalls, &v.BankCalls,
		&v.IdentifiedLongCalls, &v.Identified, &v.Rule, &v.Score, &v.Rank, &v.Tier, &v.Channel, &v.Code, &v.Status,
		&ranked, &v.Org, &v.CallerLongCalls, &endedS); err != nil {
		return nil, err
	}
	v.TalkTime, v.LongestCall = time.Duration(talk)*time.Second, time.Duration(longest)*time.Second
	v.FirstCall, v.LastCall = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
	v.RankedAt = time.Unix(ranked, 0).UTC()
	v.EndedLongCall = time.Duration(endedS) * time.Second
	return &v, nil
}
