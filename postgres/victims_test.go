package postgres_test

import (
	"context"
	"flag"
	"github.com/unspoof/unspoof/storetest"
	"testing"

	"github.com/unspoof/unspoof/victim"
)

var rankCalls = flag.Int("rankcalls", 200_000, "calls loaded before BenchmarkRank")

// BenchmarkRank times a whole ranking (one pass over calls, scoring, writing the victims by
// COPY) over -rankcalls synthetic calls. Its accounts have no country, so no number is selected:
// it times the pass over calls and the scoring. victim's BenchmarkRank has victims, on SQLite.
//
//	go test ./postgres/ -run '^$' -bench Rank -benchtime 3x -rankcalls 1000000
func BenchmarkRank(b *testing.B) {
	db, _ := setup(b)
	storetest.LoadBenchCase(b, db, *rankCalls)
	ctx := context.Background()
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
