package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
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

// journalMode returns the store's journal mode as its writer sees it, and as the file's header
// records it (bytes 18 and 19 are 2 for WAL, 1 for a rollback journal).
func journalMode(t *testing.T, ctx context.Context, db *DB) (mode string, header [2]byte) {
	t.Helper()
	if err := db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(header[:], 18); err != nil {
		t.Fatal(err)
	}
	return mode, header
}

// state is what a load must leave as it was when it fails: the rows of sources and calls, the
// schema (the calls' indexes are dropped and rebuilt by a bulk load) and the file's integrity.
func state(t *testing.T, ctx context.Context, db *DB) string {
	t.Helper()
	var sources, calls int
	var schema, check string
	if err := db.w.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM calls),
		(SELECT group_concat(name || ':' || coalesce(sql, ''), ';') FROM (SELECT name, sql FROM sqlite_master ORDER BY name))`).
		Scan(&sources, &calls, &schema); err != nil {
		t.Fatal(err)
	}
	if err := db.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sources %d, calls %d, integrity %s, schema %s", sources, calls, check, schema)
}

// A bulk load of calls runs with a rollback journal, not the WAL, when it holds the only
// connection to the file; aborted, it leaves the store as it was; either way the store is back
// in WAL mode after it. With another connection open on the file, it stays in WAL mode.
func TestBulkLoadLeavesWAL(t *testing.T) {
	t.Parallel()
	ctx, db := setup(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var account int64
	must(db.Load(ctx, &unspoof.Source{Kind: unspoof.KindAccounts, Name: "a.csv", SHA256: "a"}, func(l unspoof.Loader) error {
		a := &unspoof.Account{ExternalID: "U1", Ref: unspoof.Ref{SourceRow: 2}}
		err := l.AddAccount(ctx, a)
		account = a.ID
		return err
	}))
	journal := db.Path() + "-journal"
	var seq int
	// load adds n calls from a file large enough to be a bulk load, reporting whether a rollback
	// journal was in use, and fails with abort after them if abort is not nil.
	load := func(n int, abort error) (rollback bool, err error) {
		seq++
		src := &unspoof.Source{Kind: unspoof.KindCalls, Name: "c.csv", SHA256: fmt.Sprint("c", seq), Size: 1 << 30}
		err = db.Load(ctx, src, func(l unspoof.Loader) error {
			for i := range n {
				if err := l.AddCall(ctx, &unspoof.Call{AccountID: account, StartedAt: time.Unix(1e9+int64(i), 0),
					CLI: unspoof.Phone{Raw: "x"}, Callee: unspoof.Phone{Raw: fmt.Sprint("0770090", i%10000), E164: fmt.Sprint("+44770090", i%10000)},
					Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
					return err
				}
			}
			_, err := os.Stat(journal)
			rollback = err == nil
			return abort
		})
		return rollback, err
	}
	wal := func(when string) {
		t.Helper()
		if mode, header := journalMode(t, ctx, db); mode != "wal" || header != [2]byte{2, 2} {
			t.Errorf("%s: journal mode %s, header version bytes %v; want wal, [2 2]", when, mode, header)
		}
		if _, err := os.Stat(journal); !os.IsNotExist(err) {
			t.Errorf("%s: %s is there (%v)", when, journal, err)
		}
	}

	rollback, err := load(20_000, nil)
	must(err)
	if !rollback {
		t.Error("first bulk load: no rollback journal during the load, want one")
	}
	wal("after a bulk load")
	before := state(t, ctx, db)
	if !strings.Contains(before, "calls 20000,") || !strings.Contains(before, "integrity ok") {
		t.Fatalf("after the first load: %s", before)
	}

	// Aborted after writing many pages past the file's original end: nothing of it stays.
	stop := errors.New("too many bad rows")
	rollback, err = load(50_000, stop)
	if !errors.Is(err, stop) {
		t.Fatalf("aborted load: error %v, want %v", err, stop)
	}
	if !rollback {
		t.Error("aborted bulk load: no rollback journal during the load, want one")
	}
	wal("after an aborted bulk load")
	if after := state(t, ctx, db); after != before {
		t.Errorf("after the aborted load:\n%s\nwant as before it:\n%s", after, before)
	}

	// Another connection on the file (as unspoof serve would hold): the load stays in WAL mode.
	other, err := sql.Open("sqlite3", dsn(db.Path(), true))
	must(err)
	defer other.Close()
	var n int
	must(other.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&n))
	rollback, err = load(10_000, nil)
	must(err)
	if rollback {
		t.Error("bulk load with another connection open: a rollback journal was used, want the WAL")
	}
	wal("after a bulk load in WAL mode")
	must(other.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&n))
	if n != 30_000 {
		t.Errorf("the other connection sees %d calls, want 30000", n)
	}
}

// A new store is created with 16 KiB pages, in WAL mode; a store made before, with SQLite's
// 4 KiB pages, keeps them.
func TestPageSize(t *testing.T) {
	t.Parallel()
	ctx, db := setup(t)
	var size int
	if err := db.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil || size != 16384 {
		t.Errorf("new store: page size %d (%v), want 16384", size, err)
	}
	if mode, header := journalMode(t, ctx, db); mode != "wal" || header != [2]byte{2, 2} {
		t.Errorf("new store: journal mode %s, header %v; want wal, [2 2]", mode, header)
	}

	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil || size != 4096 {
		t.Errorf("older store: page size %d (%v), want 4096 kept", size, err)
	}
}

// TestOpenDuringBulkLoad: a command opening the store while another process's bulk load has it
// to itself is told so in words, not "database is locked".
func TestOpenDuringBulkLoad(t *testing.T) {
	t.Parallel()
	ctx, db := setup(t)
	var account int64
	if err := db.Load(ctx, &unspoof.Source{Kind: unspoof.KindAccounts, Name: "a.csv", SHA256: "a"}, func(l unspoof.Loader) error {
		a := &unspoof.Account{ExternalID: "U1", Ref: unspoof.Ref{SourceRow: 2}}
		err := l.AddAccount(ctx, a)
		account = a.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	src := &unspoof.Source{Kind: unspoof.KindCalls, Name: "c.csv", SHA256: "c", Size: 1 << 30}
	err := db.Load(ctx, src, func(l unspoof.Loader) error {
		for i := range 10_000 {
			if err := l.AddCall(ctx, &unspoof.Call{AccountID: account, StartedAt: time.Unix(1e9+int64(i), 0),
				CLI: unspoof.Phone{Raw: "x"}, Callee: unspoof.Phone{Raw: fmt.Sprint("0770090", i%10000), E164: fmt.Sprint("+44770090", i%10000)},
				Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		if _, err := os.Stat(db.Path() + "-journal"); err != nil {
			t.Fatalf("no rollback journal during the bulk load: %v", err)
		}
		other, err := Open(ctx, db.Path())
		if err == nil {
			other.Close()
			t.Fatal("opened the store during another's bulk load")
		}
		if unspoof.ErrorCode(err) != unspoof.ECONFLICT || !strings.Contains(err.Error(), "being written by a large load in another process") {
			t.Errorf("opening during a bulk load: %v (code %s), want it said in words", err, unspoof.ErrorCode(err))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, db.Path())
	if err != nil {
		t.Fatalf("after the load: %v", err)
	}
	other.Close()
}
