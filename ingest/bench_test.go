package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
	"github.com/unspoof/unspoof/sqlite"
)

// writeCalls writes n call rows with numbers in the mixed formats seized data has: UK numbers
// national or international, others with a 00 or + prefix; a quarter of callees repeat.
func writeCalls(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(1, 2))
	fmt.Fprintln(w, "call_id,account_id,started_at,duration_s,cli,callee,status")
	t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	clis := []string{"0345 600 0001", "+44 300 200 3300", "03457 404 404", "+1 800 432 1000"}
	for i := range n {
		k := r.IntN(n*3/4 + 1)
		var callee string
		switch k % 5 {
		case 0:
			callee = fmt.Sprintf("07%d%02d %06d", 4+k%6, k%100, k%1000000)
		case 1:
			callee = fmt.Sprintf("+44 7%d%02d %06d", 4+k%6, k%100, k%1000000)
		case 2:
			callee = fmt.Sprintf("0044%d%02d%06d", 74+k%6, k%100, k%1000000)
		case 3:
			callee = fmt.Sprintf("+1 212 %03d %04d", 200+k%700, k%10000)
		default:
			callee = fmt.Sprintf("00 33 6 %02d %02d %02d %02d", k%100, (k/100)%100, (k/10000)%100, (k/7)%100)
		}
		fmt.Fprintf(w, "C%d,U%d,%s,%d,%s,%s,answered\n", i, 1+i%50, t0.Add(time.Duration(i)*3*time.Second).Format(time.RFC3339),
			r.IntN(300), clis[i%len(clis)], callee)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// BenchmarkIngestCalls is ingest end to end into SQLite: read, map, normalise, quarantine,
// write. One op is one call row.
func BenchmarkIngestCalls(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	accounts := filepath.Join(dir, "accounts.csv")
	af, _ := os.Create(accounts)
	fmt.Fprintln(af, "account_id")
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(af, "U%d\n", i)
	}
	af.Close()
	calls := filepath.Join(dir, "calls.csv")
	writeCalls(b, calls, b.N)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := ingest.File(ctx, db, accounts, ingest.Config{Kind: unspoof.KindAccounts}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := ingest.File(ctx, db, calls, ingest.Config{Kind: unspoof.KindCalls})
	if err != nil {
		b.Fatal(err)
	}
	if res.Source.RowsLoaded != int64(b.N) {
		b.Fatalf("loaded %d of %d rows: %v", res.Source.RowsLoaded, b.N, res.Reasons)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
