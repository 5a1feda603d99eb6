// Package sqlite is the embedded storage engine of unspoof: one SQLite file in WAL mode with a
// single writer connection and a pool of readers. Its schema lives in migrations/*.sql, applied
// in order when the file is opened.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3" // registers "sqlite3"

	"github.com/unspoof/unspoof"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite evidence store.
type DB struct {
	path string
	w    *sql.DB // one connection: SQLite has one writer at a time
	r    *sql.DB // readers

	// Now returns the current time; tests may replace it.
	Now func() time.Time
}

var _ unspoof.EvidenceStore = (*DB)(nil)

// Open opens (creating if need be) the SQLite database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, unspoof.Errorf(unspoof.EINVALID, "sqlite: no database path")
	}
	db := &DB{path: path, Now: time.Now}
	if err := create(path); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	var err error
	if db.w, err = sql.Open("sqlite3", dsn(path, false)); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetConnMaxLifetime(0)
	if db.r, err = sql.Open("sqlite3", dsn(path, true)); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	db.r.SetMaxIdleConns(readersIdle)
	if err := db.migrate(ctx); err != nil {
		db.Close()
		if bulkLoadElsewhere(path, err) {
			return nil, unspoof.Errorf(unspoof.ECONFLICT, "%s is being written by a large load in another "+
				"process (a calls ingest has the store to itself until it ends): try again when it has finished", path)
		}
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// bulkLoadElsewhere reports whether err, from opening the store at path, is the lock of another
// process's bulk load: the store is locked (or, to a connection asking for WAL mode, read-only)
// and has a rollback journal, which only such a load makes.
func bulkLoadElsewhere(path string, err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || (se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked && se.Code != sqlite3.ErrReadonly) {
		return false
	}
	_, serr := os.Stat(path + "-journal")
	return serr == nil
}

// pageSize is the page size of the stores this package creates: 16 KiB rather than SQLite's
// 4 KiB, a quarter of the pages (and of the writes, page-cache look-ups and b-tree splits) for
// the same rows; it took a 10M-call ingest from 26.5 to 24.9 s, the index rebuild from 10.5 to
// 9.1 s. A file keeps the page size it was created with (only VACUUM changes it), so older
// stores keep theirs.
const pageSize = "16384"

// create makes the file at path, if there is none, with pageSize pages and in WAL mode. This
// must come before any connection opens it through dsn: setting WAL mode on an empty file
// writes its first page, which fixes the page size.
func create(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // there, or unknown: opening it will tell
	}
	c, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	for _, p := range []string{`PRAGMA page_size = ` + pageSize, `PRAGMA journal_mode = WAL`} {
		if _, err := c.Exec(p); err != nil {
			return err
		}
	}
	return c.Close()
}

// readersIdle is how many idle reader connections are kept open (database/sql's default).
const readersIdle = 2

// cacheSize is each connection's page cache: 128 MiB.
const cacheSize = "-131072"

// dsn builds the connection string: busy_timeout is set first so that every later pragma
// waits for a lock rather than failing.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_cache_size", cacheSize)
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Close closes the database.
func (db *DB) Close() error {
	var err error
	if db.r != nil {
		err = db.r.Close()
	}
	if db.w != nil {
		if e := db.w.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// migrate applies, in name order, every embedded migration not yet recorded in
// schema_migrations, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateOne(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateOne(ctx context.Context, name string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, db.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// unixOrNull stores a zero time as NULL.
func unixOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

func timeOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// translate maps driver errors to domain errors.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case err == sql.ErrNoRows:
		return unspoof.Errorf(unspoof.ENOTFOUND, "not found")
	case strings.Contains(err.Error(), "UNIQUE constraint failed"):
		return &unspoof.Error{Code: unspoof.ECONFLICT, Message: err.Error()}
	case strings.Contains(err.Error(), "FOREIGN KEY constraint failed"):
		return &unspoof.Error{Code: unspoof.EINVALID, Message: err.Error()}
	}
	return err
}

// CheckpointInBackground moves WAL checkpoints off the writer: SQLite otherwise checkpoints
// (and syncs the file) inside whichever commit crosses 1,000 WAL pages, so that one request
// waits hundreds of milliseconds. For a server's steady stream of small writes (the portal),
// a separate connection runs a passive checkpoint every interval instead, until ctx is done.
func (db *DB) CheckpointInBackground(ctx context.Context, every time.Duration) error {
	cp, err := sql.Open("sqlite3", dsn(db.path, false))
	if err != nil {
		return err
	}
	cp.SetMaxOpenConns(1)
	if _, err := db.w.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		cp.Close()
		return err
	}
	go func() {
		defer cp.Close()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				db.w.ExecContext(context.Background(), `PRAGMA wal_autocheckpoint = 1000`)
				return
			case <-t.C:
				cp.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}()
	return nil
}
