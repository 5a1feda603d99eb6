package suspect_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
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
	load(b, db, *rankCalls)
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

func load(b *testing.B, db unspoof.EvidenceStore, n int) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []int64
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	bank := unspoof.Phone{Raw: "03000000001", E164: "+443000000001"}
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindOrgs, SHA256: "o"}, func(l unspoof.Loader) error {
		return l.AddOrgNumber(ctx, &unspoof.Org{ExternalID: "O1", Name: "Bank", Sector: "bank"}, &unspoof.OrgNumber{Phone: bank})
	}))
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindAccounts, SHA256: "a"}, func(l unspoof.Loader) error {
		for i := range 1000 {
			a := &unspoof.Account{ExternalID: fmt.Sprint("U", i), Country: "GB"}
			if err := l.AddAccount(ctx, a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	}))
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindPayments, SHA256: "p"}, func(l unspoof.Loader) error {
		for i := 0; i < len(ids); i += 10 {
			if err := l.AddPayment(ctx, &unspoof.Payment{AccountID: ids[i], PaidAt: t0, AmountMinor: 15000, Currency: "GBP"}); err != nil {
				return err
			}
		}
		return nil
	}))
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindCalls, SHA256: "c", Size: int64(n) * 100}, func(l unspoof.Loader) error {
		rng := uint64(1)
		for i := range n {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			c := unspoof.Call{AccountID: ids[rng%uint64(len(ids))], StartedAt: t0.Add(time.Duration(i) * 3 * time.Second),
				Duration: time.Duration(rng>>32%300) * time.Second, Status: "answered",
				CLI: unspoof.Phone{Raw: "07700900000", E164: "+447700900000"}, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}
			if rng>>50%3 == 0 {
				c.CLI = bank
			}
			callee := rng >> 20 % 1_000_000
			if rng>>40%100 < 35 {
				c.Callee = unspoof.Phone{Raw: "x", E164: fmt.Sprintf("+447911%06d", callee), Region: "GB", LineType: "mobile", Valid: true}
			} else {
				c.Callee = unspoof.Phone{Raw: "x", E164: fmt.Sprintf("+12025%06d", callee), Region: "US", LineType: "fixed_line_or_mobile", Valid: true}
			}
			if err := l.AddCall(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	}))
}
