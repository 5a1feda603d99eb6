package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
)

// BenchmarkLoadCalls measures the store alone: calls already parsed and normalised, written
// through the Loader in one transaction, as ingest does.
func BenchmarkLoadCalls(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var acct int64
	if err := db.Load(ctx, &unspoof.Source{Kind: unspoof.KindAccounts, SHA256: "a"}, func(l unspoof.Loader) error {
		a := &unspoof.Account{ExternalID: "U1"}
		err := l.AddAccount(ctx, a)
		acct = a.ID
		return err
	}); err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	cli := unspoof.Phone{Raw: "0345 600 0001", E164: "+443456000001", Region: "GB", LineType: "uan", Valid: true}
	b.ResetTimer()
	// Size tells the store how large the file is, as ingest does.
	err = db.Load(ctx, &unspoof.Source{Kind: unspoof.KindCalls, SHA256: "c", Size: int64(b.N) * 80}, func(l unspoof.Loader) error {
		for i := range b.N {
			e164 := fmt.Sprintf("+4474%08d", (i*7919)%100000000)
			c := unspoof.Call{ExternalID: "C", AccountID: acct, StartedAt: t0.Add(time.Duration(i) * time.Second),
				Duration: 61 * time.Second, Status: "answered", CLI: cli,
				Callee: unspoof.Phone{Raw: e164, E164: e164, Region: "GB", LineType: "mobile", Valid: true},
				Ref:    unspoof.Ref{SourceRow: int64(i + 2)}}
			if err := l.AddCall(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
