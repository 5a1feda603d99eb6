package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/storetest"
)

func open(t *testing.T) unspoof.EvidenceStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "unspoof.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "unspoof.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	src := &unspoof.Source{Kind: unspoof.KindAccounts, Name: "a.csv", SHA256: "abc"}
	if err := db.Load(ctx, src, func(l unspoof.Loader) error {
		return l.AddAccount(ctx, &unspoof.Account{ExternalID: "U1", Ref: unspoof.Ref{SourceRow: 2}})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path) // migrations must not run twice
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids, err := db.AccountIDs(ctx)
	if err != nil || len(ids) != 1 {
		t.Fatalf("after reopen: %v accounts, %v", ids, err)
	}
}
