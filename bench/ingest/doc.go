// Package ingestbench holds the ingest benchmark of the evidence spine. run.sh, beside this
// file, is the benchmark proper: it builds the real unspoof binary, ingests a simulated calls
// file into SQLite and PostgreSQL, loads the same file into DuckDB (bench/duckdb, its own
// module) and prints a markdown table for docs/performance.md.
//
// The Go benchmark in this package calls ingest.File directly, so that the SQLite ingest can be
// profiled (the binary has no profiling flag):
//
//	UNSPOOF_BENCH_DATA=/tmp/unspoof-bench/scale-0.1-seed-1-bad-0.001 \
//	  go test ./bench/ingest -run '^$' -bench . -benchtime 1x -cpuprofile /tmp/cpu.out
//	go tool pprof -top -nodecount 30 /tmp/cpu.out
package ingestbench
