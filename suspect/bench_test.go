package suspect_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/storetest"
	"github.com/unspoof/unspoof/suspect"
)

var rankCalls = flag.Int("rankcalls", 200_000, "calls loaded before BenchmarkRank")

// BenchmarkRank times a whole suspects ranking (one pass over calls grouped by account, the
// payments, scoring, writing the suspects table) on SQLite over -rankcalls synthetic calls from
// 1,000 GB accounts (every tenth paid £150), 35% of them to 1M UK numbers, a third presenting an
// organisation's number. postgres/suspects_test.go has the same on PostgreSQL.
//
//	go test ./suspect/ -run '^$' -bench Rank -benchtime 3x -rankcalls 1000000
func BenchmarkRank(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.LoadBenchCase(b, db, *rankCalls)
	for _, rule := range suspect.Rules {
		b.Run(rule, func(b *testing.B) {
			for b.Loop() {
				r, err := suspect.Rank(ctx, db, suspect.Config{Rule: rule})
				if err != nil {
					b.Fatal(err)
				}
				if err := suspect.Save(ctx, db, r); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(r.Suspects)), "suspects")
			}
			b.ReportMetric(float64(*rankCalls)*float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
