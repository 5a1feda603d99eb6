package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The rank baseline (bench/rank/run.sh): `duckbench rank --db FILE --load DIR` loads the calls,
// organisations' numbers, accounts and payments of an unspoof store, exported as CSV with their
// numbers already normalised to E.164 (so that DuckDB groups the same numbers unspoof does), into
// a DuckDB file; `duckbench rank --db FILE` then runs, on that file, what `unspoof victims rank
// --rule score` and `unspoof suspects rank --rule harm` compute: the same aggregates, the same
// scores, the same selection, written to a table. One line of key=value pairs on stdout:
//
//	load_s=… calls=… threads=2 rss_kb=…                                      (--load)
//	victims_s=… victims_cpu_s=… candidates=… selected=… suspects_s=… suspects_cpu_s=… suspects=… threads=2 rss_kb=…
//
// The exported files and their columns (a header line each):
//
//	calls.csv        account_id,started_at,duration_s,cli_e164,callee_e164
//	org_numbers.csv  e164,org_id,sector
//	accounts.csv     id,country
//	payments.csv     account_id,amount_minor

// rankTables are the tables rank --load reads, with their columns' DuckDB types.
var rankTables = []struct{ name, columns string }{
	{"calls", `{'account_id': 'BIGINT', 'started_at': 'BIGINT', 'duration_s': 'INTEGER', 'cli_e164': 'VARCHAR', 'callee_e164': 'VARCHAR'}`},
	{"org_numbers", `{'e164': 'VARCHAR', 'org_id': 'BIGINT', 'sector': 'VARCHAR'}`},
	{"accounts", `{'id': 'BIGINT', 'country': 'VARCHAR'}`},
	{"payments", `{'account_id': 'BIGINT', 'amount_minor': 'BIGINT'}`},
}

// victimsRankQuery is `victims rank --rule score` (package victim, DefaultModel) in one
// statement: calls to UK numbers (+44) that are no organisation's number, grouped by callee,
// account and presented number as the stores do, then per number the aggregates, the
// organisation impersonated in most calls, the score, and the top K by score (K: the numbers
// the met-2022 rule selects, an identified suspect's call over 60 s). last_long packs the start
// and duration of a group's last call over 60 s into one integer, as the stores do; ended_long
// is the longest last call of the accounts whose last call was one; ends.last, the last call of
// all, is what recency is measured against.
const victimsRankQuery = `
CREATE OR REPLACE TABLE victims AS
WITH orgnum AS (
	SELECT n.e164, min(n.org_id) AS org_id, arg_min(n.sector, n.org_id) AS sector FROM org_numbers n GROUP BY n.e164),
ident AS (
	SELECT a.id FROM accounts a JOIN payments p ON p.account_id = a.id
	WHERE a.country = 'GB' GROUP BY a.id HAVING sum(p.amount_minor) >= 10000),
g AS (
	SELECT c.callee_e164 AS e164, c.account_id, c.cli_e164, count(*) AS calls, count(*) FILTER (WHERE c.duration_s > 0) AS answered,
		count(*) FILTER (WHERE c.duration_s > 60) AS long, sum(c.duration_s) AS talk, max(c.duration_s) AS longest,
		min(c.started_at) AS first, max(c.started_at) AS last,
		max(c.started_at * 65536 + least(c.duration_s, 65535)) FILTER (WHERE c.duration_s > 60) AS last_long
	FROM calls c
	WHERE c.callee_e164 LIKE '+44%' AND c.callee_e164 NOT IN (SELECT e164 FROM orgnum)
	GROUP BY c.callee_e164, c.account_id, c.cli_e164),
ga AS (
	SELECT g.e164, g.account_id, sum(g.calls) AS calls, sum(g.long) AS long, max(g.last) AS last, max(g.last_long) AS last_long,
		sum(g.calls) FILTER (WHERE o.org_id IS NOT NULL) AS org_calls, sum(g.calls) FILTER (WHERE o.sector = 'bank') AS bank_calls
	FROM g LEFT JOIN orgnum o ON o.e164 = g.cli_e164 GROUP BY g.e164, g.account_id),
gorg AS (
	SELECT g.e164, o.org_id, sum(g.calls) AS calls FROM g JOIN orgnum o ON o.e164 = g.cli_e164 GROUP BY g.e164, o.org_id),
top AS (
	SELECT e164, count(*) AS orgs, first(org_id ORDER BY calls DESC, org_id) AS top_org FROM gorg GROUP BY e164),
n AS (
	SELECT g.e164, sum(g.calls) AS calls, sum(g.answered) AS answered, sum(g.long) AS long, sum(g.talk) AS talk,
		max(g.longest) AS longest, min(g.first) AS first, max(g.last) AS last
	FROM g GROUP BY g.e164),
na AS (
	SELECT e164, count(*) AS accounts, count(*) FILTER (WHERE long > 0) AS long_accounts, max(long) AS caller_long,
		coalesce(sum(org_calls), 0) AS org_calls, coalesce(sum(bank_calls), 0) AS bank_calls,
		coalesce(sum(long) FILTER (WHERE account_id IN (SELECT id FROM ident)), 0) AS ident_long,
		coalesce(max(last_long % 65536) FILTER (WHERE last_long // 65536 = last), 0) AS ended_long
	FROM ga GROUP BY e164),
ends AS (SELECT max(last) AS last FROM n),
scored AS (
	SELECT n.*, na.accounts, na.long_accounts, na.caller_long, na.ended_long, na.org_calls, na.bank_calls, na.ident_long,
		coalesce(top.orgs, 0) AS orgs, top.top_org,
		0.2 * ln(1 + n.talk / 60.0) + 0.7 * ln(1 + n.long) + 3.1 * ln(1 + na.caller_long)
			- 0.4 * (na.ended_long > 0)::INTEGER + 0.7 * ln(1 + na.ended_long / 60.0) + 0.4 * ln(greatest(1, n.answered))
			+ 0.2 * (na.bank_calls > 0)::INTEGER + 0.1 * (na.org_calls > 0)::INTEGER - 0.1 * (na.ident_long > 0)::INTEGER
			- 0.1 * greatest(0, 1 - (ends.last - n.last) / 86400.0 / 365) AS score
	FROM n JOIN na USING (e164) LEFT JOIN top USING (e164) CROSS JOIN ends)
SELECT * FROM scored
QUALIFY row_number() OVER (ORDER BY score DESC, e164) <= (SELECT count(*) FROM na WHERE ident_long > 0)`

// suspectsRankQuery is `suspects rank --rule harm` (package suspect, DefaultModel): per account
// its calls, calls over 60 s, distinct UK numbers reached over 60 s (no organisation's number),
// organisations impersonated, payments and the harm score, for every account that called or
// paid, in score order.
const suspectsRankQuery = `
CREATE OR REPLACE TABLE suspects AS
WITH orgnum AS (SELECT e164, min(org_id) AS org_id FROM org_numbers GROUP BY e164),
c AS (
	SELECT c.account_id, count(*) AS calls, count(*) FILTER (WHERE c.duration_s > 60) AS long,
		count(DISTINCT c.callee_e164) FILTER (WHERE c.duration_s > 60 AND c.callee_e164 LIKE '+44%'
			AND c.callee_e164 NOT IN (SELECT e164 FROM orgnum)) AS victims,
		count(DISTINCT o.org_id) AS orgs, count(o.org_id) AS org_calls, min(c.started_at) AS first, max(c.started_at) AS last
	FROM calls c LEFT JOIN orgnum o ON o.e164 = c.cli_e164 GROUP BY c.account_id),
p AS (SELECT account_id, sum(amount_minor) AS paid, count(*) AS payments FROM payments GROUP BY account_id)
SELECT a.id, a.country, coalesce(c.calls, 0) AS calls, coalesce(c.long, 0) AS long, coalesce(c.victims, 0) AS victims,
	coalesce(c.orgs, 0) AS orgs, coalesce(p.paid, 0) AS paid,
	10 * coalesce(c.victims, 0) + coalesce(c.long, 0) + 20 * coalesce(c.orgs, 0) + 0.1 * coalesce(p.paid, 0) / 100 AS score
FROM accounts a LEFT JOIN c ON c.account_id = a.id LEFT JOIN p ON p.account_id = a.id
WHERE c.calls > 0 OR p.payments > 0
ORDER BY score DESC, a.id`

// runRank is `duckbench rank`.
func runRank(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("duckbench rank", flag.ContinueOnError)
	dbPath := fs.String("db", "", "DuckDB database file (required)")
	load := fs.String("load", "", "load the exported CSV files of `DIR` into a fresh --db, then stop")
	threads := fs.Int("threads", 0, "DuckDB worker threads (default: DuckDB's, one per core)")
	victimsOut := fs.String("victims-out", "", "also write the selected numbers to `FILE`, one a line, sorted, to compare with unspoof's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("--db FILE is required and takes no other arguments")
	}
	if *load != "" {
		if err := removeDB(*dbPath); err != nil {
			return err
		}
	} else if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("%w (load it first: duckbench rank --db FILE --load DIR)", err)
	}
	db, nThreads, _, err := openDB(ctx, *dbPath, *threads, "")
	if err != nil {
		return err
	}
	defer db.Close()

	if *load != "" {
		start := time.Now()
		for _, t := range rankTables {
			path := filepath.Join(*load, t.name+".csv")
			q := fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM read_csv('%s', header = true, columns = %s)`, t.name,
				strings.ReplaceAll(path, "'", "''"), t.columns)
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("load %s: %w", path, err)
			}
		}
		if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		var calls int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&calls); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		fmt.Fprintf(stdout, "load_s=%.3f calls=%d threads=%d rss_kb=%d\n", time.Since(start).Seconds(), calls, nThreads, maxRSS())
		return nil
	}

	cpu0, start := cpuTime(), time.Now()
	if _, err := db.ExecContext(ctx, victimsRankQuery); err != nil {
		return fmt.Errorf("victims: %w", err)
	}
	victimsTime, victimsCPU := time.Since(start), cpuTime()-cpu0
	var candidates, selected int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(DISTINCT callee_e164) FROM calls WHERE callee_e164 LIKE '+44%'
		AND callee_e164 NOT IN (SELECT e164 FROM org_numbers)), (SELECT count(*) FROM victims)`).Scan(&candidates, &selected); err != nil {
		return fmt.Errorf("victims: %w", err)
	}
	if *victimsOut != "" {
		q := fmt.Sprintf(`COPY (SELECT e164 FROM victims ORDER BY e164) TO '%s' (HEADER false)`, strings.ReplaceAll(*victimsOut, "'", "''"))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("victims-out: %w", err)
		}
	}
	cpu0, start = cpuTime(), time.Now()
	if _, err := db.ExecContext(ctx, suspectsRankQuery); err != nil {
		return fmt.Errorf("suspects: %w", err)
	}
	suspectsTime, suspectsCPU := time.Since(start), cpuTime()-cpu0
	var suspects int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM suspects`).Scan(&suspects); err != nil {
		return fmt.Errorf("suspects: %w", err)
	}
	fmt.Fprintf(stdout, "victims_s=%.3f victims_cpu_s=%.2f candidates=%d selected=%d suspects_s=%.3f suspects_cpu_s=%.2f suspects=%d threads=%d rss_kb=%d\n",
		victimsTime.Seconds(), victimsCPU.Seconds(), candidates, selected, suspectsTime.Seconds(), suspectsCPU.Seconds(), suspects,
		nThreads, maxRSS())
	return nil
}
