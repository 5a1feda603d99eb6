// Package postgres is the PostgreSQL storage engine of unspoof, for evidence that outgrows one
// SQLite file or a case shared by many investigators. It talks to the server through a pgx
// connection pool, bulk-loads evidence with COPY, and keeps its schema in migrations/*.sql,
// applied on Open unless told otherwise.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/unspoof/unspoof"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open PostgreSQL evidence store.
type DB struct {
	pool *pgxpool.Pool

	// Now returns the current time; tests may replace it.
	Now func() time.Time
}

var _ unspoof.EvidenceStore = (*DB)(nil)

// Option changes how Open opens the store.
type Option func(*options)

type options struct {
	migrate bool
}

// WithMigrate says whether Open brings the schema up to date (the default) or leaves it to an
// explicit Migrate, as `unspoof migrate` does.
func WithMigrate(on bool) Option {
	return func(o *options) { o.migrate = on }
}

// Open connects to the PostgreSQL database named by dsn (a postgres:// URL or key=value
// string, as libpq takes) and, unless WithMigrate(false) is given, applies any migration not yet
// applied.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "postgres: bad connection string: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{pool: pool, Now: time.Now}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if o.migrate {
		if err := db.Migrate(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	return db, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrateLock is the key of the advisory lock that serialises migrations between processes.
const migrateLock = 0x756e73706f6f66 // "unspoof"

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    bigint PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies, in version order, every embedded migration not yet recorded in
// schema_migrations, each in its own transaction under an advisory lock, so that several
// processes opening the same database at once apply each migration exactly once.
func (db *DB) Migrate(ctx context.Context) error {
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
	base := strings.TrimPrefix(name, "migrations/")
	digits, _, _ := strings.Cut(base, "_")
	version, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return fmt.Errorf("migration name must start with its version number: %w", err)
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
			version).Scan(&done); err != nil || done {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, base)
		return err
	})
}

// PostgreSQL error codes the store translates into domain errors.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgNotNullViolation    = "23502"
	pgCheckViolation      = "23514"
)

// translate maps driver errors to domain errors: no rows → ENOTFOUND, a unique violation →
// ECONFLICT, a broken reference or a value the column cannot hold → EINVALID. what names the
// thing being written or read ("calls"), for the message.
func translate(what string, err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return unspoof.Errorf(unspoof.ENOTFOUND, "%s: not found", what)
	case !errors.As(err, &pe):
		return err
	}
	msg := pe.Message
	if pe.Detail != "" {
		msg = pe.Detail
	}
	switch {
	case pe.Code == pgUniqueViolation:
		return unspoof.Errorf(unspoof.ECONFLICT, "%s: already recorded: %s", what, msg)
	case pe.Code == pgForeignKeyViolation:
		return unspoof.Errorf(unspoof.EINVALID, "%s: refers to a row that does not exist: %s", what, msg)
	case pe.Code == pgNotNullViolation, pe.Code == pgCheckViolation, strings.HasPrefix(pe.Code, "22"):
		// Class 22 is data exceptions: a NUL byte or bad UTF-8 in text, a number out of range.
		return unspoof.Errorf(unspoof.EINVALID, "%s: %s", what, msg)
	}
	return err
}
