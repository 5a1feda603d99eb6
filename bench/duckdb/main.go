// Command duckbench is the DuckDB baseline of the ingest benchmark (bench/ingest/run.sh): it
// loads a calls CSV into a DuckDB database with read_csv, then groups the calls by callee, and
// prints how long each step took and the peak resident memory after each. `duckbench rank` is
// the baseline of the rank benchmark (bench/rank/run.sh): see rank.go.
//
// It lives in its own Go module so that neither the unspoof binary nor the main module's go.mod
// carries DuckDB. DuckDB does no number normalisation, quarantine or provenance: it groups the
// callee column as written in the file. It is the yardstick of how fast a column store can
// merely read the same bytes, not a replacement for ingest.
//
// Output is one line of space-separated key=value pairs on stdout, for the script to parse:
//
//	rows=10000000 groups=4123456 load_s=12.3 checkpoint_s=0.4 group_s=1.2 total_s=13.5 load_cpu_s=… group_cpu_s=… load_rss_kb=… group_rss_kb=… threads=2 memory_limit=…
//
// load_s includes checkpoint_s, the time to write the table to the database file. *_cpu_s is
// the user and system CPU time of the process during the step (DuckDB runs one worker thread per
// core, so it can exceed the wall time).
//
// Example:
//
//	go build -o /tmp/duckbench . && /tmp/duckbench --csv case1/calls.csv --db /tmp/calls.duckdb
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers "duckdb"
)

// readOptions are the read_csv options: the header names the columns, types are sniffed, and a
// row DuckDB cannot read (the simulator writes some malformed rows on purpose) is skipped, not
// fatal. ingest quarantines those rows instead.
const readOptions = `header = true, ignore_errors = true`

// groupQuery is the aggregate the victim ranking starts from: calls and talk time per callee.
// duration_s is cast because a malformed sample may make the sniffer read it as text.
const groupQuery = `SELECT callee, count(*) AS calls, sum(TRY_CAST(duration_s AS BIGINT)) AS talk_s
	FROM calls GROUP BY callee`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "rank" {
		err = runRank(ctx, os.Args[2:], os.Stdout) // rank.go
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "duckbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("duckbench", flag.ContinueOnError)
	csvPath := fs.String("csv", "", "calls CSV to load (required)")
	dbPath := fs.String("db", "", "DuckDB database file to create (default: in memory)")
	threads := fs.Int("threads", 0, "DuckDB worker threads (default: DuckDB's, one per core)")
	memLimit := fs.String("memory-limit", "", "DuckDB memory_limit, e.g. 4GB (default: DuckDB's, 80% of RAM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *csvPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("--csv FILE is required and takes no other arguments")
	}
	if _, err := os.Stat(*csvPath); err != nil {
		return err
	}
	if *dbPath != "" {
		// A fresh database each run: an old one would make CREATE TABLE fail.
		if err := removeDB(*dbPath); err != nil {
			return err
		}
	}
	db, nThreads, limit, err := openDB(ctx, *dbPath, *threads, *memLimit)
	if err != nil {
		return err
	}
	defer db.Close()

	cpu0 := cpuTime()
	start := time.Now()
	load := fmt.Sprintf(`CREATE TABLE calls AS SELECT * FROM read_csv('%s', %s)`, strings.ReplaceAll(*csvPath, "'", "''"), readOptions)
	if _, err := db.ExecContext(ctx, load); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	ckpt := time.Now()
	if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil { // on disk, like the other engines' commit
		return fmt.Errorf("checkpoint: %w", err)
	}
	loadTime, ckptTime := time.Since(start), time.Since(ckpt)
	loadRSS := maxRSS()
	cpu1 := cpuTime()

	var rows int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&rows); err != nil {
		return fmt.Errorf("count: %w", err)
	}

	start = time.Now()
	groups, err := group(ctx, db)
	if err != nil {
		return err
	}
	groupTime := time.Since(start)
	cpu2 := cpuTime()

	fmt.Fprintf(stdout, "rows=%d groups=%d load_s=%.3f checkpoint_s=%.3f group_s=%.3f total_s=%.3f load_cpu_s=%.2f group_cpu_s=%.2f load_rss_kb=%d group_rss_kb=%d threads=%d memory_limit=%s\n",
		rows, groups, loadTime.Seconds(), ckptTime.Seconds(), groupTime.Seconds(), (loadTime + groupTime).Seconds(),
		(cpu1 - cpu0).Seconds(), (cpu2 - cpu1).Seconds(), loadRSS, maxRSS(), nThreads, strings.ReplaceAll(limit, " ", ""))
	return nil
}

// removeDB removes the DuckDB database at path and its write-ahead log, if they exist.
func removeDB(path string) error {
	for _, p := range []string{path, path + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// openDB opens the DuckDB database at path ("" in memory) on one connection, sets its worker
// threads and memory limit when given (0, ""), and returns the threads and memory limit in
// effect.
func openDB(ctx context.Context, path string, threads int, memLimit string) (*sql.DB, int64, string, error) {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, 0, "", fmt.Errorf("open duckdb: %w", err)
	}
	db.SetMaxOpenConns(1)
	var settings []string
	if threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", threads))
	}
	if memLimit != "" {
		settings = append(settings, "SET memory_limit = '"+strings.ReplaceAll(memLimit, "'", "")+"'")
	}
	for _, q := range settings {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, 0, "", fmt.Errorf("%s: %w", q, err)
		}
	}
	var n int64
	var limit string
	if err := db.QueryRowContext(ctx, `SELECT current_setting('threads'), current_setting('memory_limit')`).Scan(&n, &limit); err != nil {
		db.Close()
		return nil, 0, "", fmt.Errorf("read settings: %w", err)
	}
	return db, n, limit, nil
}

// group runs groupQuery and reads every group back, as a consumer of the ranking would, so the
// time includes handing the result to Go.
func group(ctx context.Context, db *sql.DB) (int64, error) {
	rows, err := db.QueryContext(ctx, groupQuery)
	if err != nil {
		return 0, fmt.Errorf("group: %w", err)
	}
	defer rows.Close()
	var (
		n       int64
		callee  sql.NullString
		calls   int64
		talk    sql.NullInt64
		checked int64
	)
	for rows.Next() {
		if err := rows.Scan(&callee, &calls, &talk); err != nil {
			return 0, fmt.Errorf("group: %w", err)
		}
		n++
		checked += calls
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("group: %w", err)
	}
	if checked == 0 && n > 0 {
		return 0, errors.New("group: no calls counted")
	}
	return n, nil
}

// cpuTime is the user and system CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is the peak resident set size of this process so far, in KiB.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss // KiB on Linux
}
