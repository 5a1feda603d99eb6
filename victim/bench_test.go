package victim_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/storetest"
	"github.com/unspoof/unspoof/victim"
)

var rankCalls = flag.Int("rankcalls", 200_000, "calls loaded before BenchmarkRank")

// BenchmarkRank times a whole ranking (one pass over calls, scoring, writing the victims) on
// SQLite over -rankcalls synthetic calls: 35% to 1M UK numbers, 1,000 GB accounts of which
// every tenth paid £150. postgres/victims_test.go has the same on PostgreSQL.
//
//	go test ./victim/ -run '^$' -bench Rank -benchtime 3x -rankcalls 1000000
func BenchmarkRank(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.LoadBenchCase(b, db, *rankCalls)
	for _, rule := range victim.Rules {
		b.Run(rule, func(b *testing.B) {
			for b.Loop() {
				r, err := victim.Rank(ctx, db, victim.Config{Rule: rule})
				if err != nil {
					b.Fatal(err)
				}
				if err := victim.Save(ctx, db, r); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(r.Victims)), "victims")
			}
			b.ReportMetric(float64(*rankCalls)*float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
