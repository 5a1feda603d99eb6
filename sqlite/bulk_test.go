package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// setup opens a fresh store in a temporary directory.
func setup(t *testing.T) (context.Context, *DB) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "unspoof.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return ctx, db
}

func TestBulkInsertRefusedOutsideTransaction(t *testing.T) {
	t.Parallel()
	ctx, db := setup(t)
	conn, err := db.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows callRows
	rows.add(&unspoof.Call{AccountID: 1, StartedAt: time.Unix(1e9, 0), CLI: unspoof.Phone{Raw: "x"},
		Callee: unspoof.Phone{Raw: "07700900001", E164: "+447700900001"}, Ref: unspoof.Ref{SourceRow: 2}})
	var stmt bulkStmt
	defer stmt.finalize(conn)
	err = stmt.insertCalls(ctx, conn, &rows, 1)
	if err == nil || !strings.Contains(err.Error(), "outside a transaction") {
		t.Fatalf("bulk insert outside a transaction: error %v, want a refusal", err)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d calls after the refusal (%v), want 0", n, err)
	}
}

// A row SQLite rejects in the middle of a batch fails the load, naming the constraint, and
// nothing of the load stays.
func TestBulkInsertConstraintFailsLoad(t *testing.T) {
	t.Parallel()
	ctx, db := setup(t)
	var account int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindAccounts, Name: "a.csv", SHA256: "a"}, func(l unspoof.Loader) error {
		a := &unspoof.Account{ExternalID: "U1", Ref: unspoof.Ref{SourceRow: 2}}
		err := l.AddAccount(ctx, a)
		account = a.ID
		return err
	}))
	err := db.Load(ctx, &unspoof.Source{Kind: unspoof.KindCalls, Name: "c.csv", SHA256: "c"}, func(l unspoof.Loader) error {
		for i := range 3000 {
			id := account
			if i == 2500 {
				id = account + 99 // no such account
			}
			if err := l.AddCall(ctx, &unspoof.Call{AccountID: id, StartedAt: time.Unix(1e9, 0), CLI: unspoof.Phone{Raw: ""},
				Callee: unspoof.Phone{Raw: "07700900001", E164: "+447700900001"}, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") || !strings.Contains(err.Error(), "call 453 of the batch") {
		t.Fatalf("load with an unknown account: error %v, want the foreign key failure of call 453 of the second batch", err)
	}
	var n int
	must(db.r.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&n))
	if n != 0 {
		t.Errorf("%d calls after the failed load, want 0", n)
	}
	// Empty texts are stored as empty, not NULL (cli_raw is NOT NULL): a good load passes.
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindCalls, Name: "c.csv", SHA256: "c2"}, func(l unspoof.Loader) error {
		return l.AddCall(ctx, &unspoof.Call{AccountID: account, StartedAt: time.Unix(1e9, 0),
			Callee: unspoof.Phone{Raw: "07700900001", E164: "+447700900001"}, Ref: unspoof.Ref{SourceRow: 2}})
	}))
	var nulls int
	must(db.r.QueryRowContext(ctx, `SELECT count(*), sum(cli_e164 IS NULL AND cli_raw = '' AND status = '') FROM calls`).Scan(&n, &nulls))
	if n != 1 || nulls != 1 {
		t.Errorf("calls %d, with empty texts and NULL cli_e164 %d; want 1 and 1", n, nulls)
	}
}
