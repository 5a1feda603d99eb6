package postgres_test

import (
	"context"
	"testing"

	"github.com/unspoof/unspoof/storetest"
	"github.com/unspoof/unspoof/suspect"
)

// BenchmarkSuspectsRank times a whole suspects ranking (one pass over calls grouped by account,
// the payments, scoring, writing the suspects by COPY) over -rankcalls synthetic calls.
// suspect's BenchmarkRank has the same on SQLite.
//
//	go test ./postgres/ -run '^$' -bench SuspectsRank -benchtime 3x -rankcalls 1000000
func BenchmarkSuspectsRank(b *testing.B) {
	db, _ := setup(b)
	storetest.LoadBenchCase(b, db, *rankCalls)
	ctx := context.Background()
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
