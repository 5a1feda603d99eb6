package ingestbench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
	"github.com/unspoof/unspoof/sqlite"
)

// dataset returns the simulated dataset directory named by $UNSPOOF_BENCH_DATA (one that holds
// accounts.csv and calls.csv), skipping the benchmark when it is not set.
func dataset(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("UNSPOOF_BENCH_DATA")
	if dir == "" {
		b.Skip("set UNSPOOF_BENCH_DATA to a directory made by `unspoof simulate` (bench/ingest/run.sh caches one)")
	}
	for _, name := range []string{"accounts.csv", "calls.csv"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			b.Fatalf("UNSPOOF_BENCH_DATA: %v", err)
		}
	}
	return dir
}

// BenchmarkIngestCallsSQLite ingests calls.csv into a fresh SQLite file per iteration, the
// accounts having been loaded first outside the timer. Run it with -benchtime 1x: one iteration
// of a large file is long enough, and -cpuprofile then shows where the time goes.
func BenchmarkIngestCallsSQLite(b *testing.B) {
	dir := dataset(b)
	ctx := context.Background()
	var rows int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tmp := b.TempDir()
		db, err := sqlite.Open(ctx, filepath.Join(tmp, "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		load(ctx, b, db, filepath.Join(dir, "accounts.csv"), unspoof.KindAccounts, tmp)
		b.StartTimer()
		rows += load(ctx, b, db, filepath.Join(dir, "calls.csv"), unspoof.KindCalls, tmp)
		b.StopTimer()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// load ingests one file and returns the rows read.
func load(ctx context.Context, b *testing.B, store unspoof.EvidenceStore, path string, kind unspoof.Kind, tmp string) int64 {
	b.Helper()
	res, err := ingest.File(ctx, store, path, ingest.Config{
		Kind:       kind,
		Quarantine: filepath.Join(tmp, string(kind)+".quarantine.csv"),
		By:         "bench",
	})
	if err != nil {
		b.Fatalf("ingest %s: %v", path, err)
	}
	return res.Source.RowsRead
}
