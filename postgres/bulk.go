package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/unspoof/unspoof"
)

// bulkTables names, for each kind of source that can be large, the table its rows go to and
// a low estimate of the bytes one row takes in a file, to guess a file's row count from its
// size (a gzip file is guessed low, as its size is the compressed one).
var bulkTables = map[unspoof.Kind]struct {
	table       string
	bytesPerRow int64
}{
	unspoof.KindCalls:      {"calls", 40},
	unspoof.KindComplaints: {"complaints", 60},
}

// bulkMinRows is the fewest rows a load needs before its table's upkeep is deferred.
const bulkMinRows = 100_000

// bulkLoad is the plan of a load large enough next to its table that keeping the table's
// secondary indexes and foreign keys up to date row by row costs more than dropping them for
// the load and building them again at its end: an index built by one sort instead of millions
// of random inserts, a foreign key validated by one join instead of a lookup per row. All of it
// happens inside the load's transaction, so a failed or cancelled load leaves them as they were.
//
// Dropping a foreign key locks both its tables (calls, accounts, sources) against readers and
// writers until the load commits; so that two loads cannot deadlock, sources, which every load
// writes first, is locked before anything else.
type bulkLoad struct {
	table   string
	indexes []bulkIndex
	fkeys   []bulkFKey
}

type bulkIndex struct {
	drop, create string
}

type bulkFKey struct {
	name       string
	drop, add  string
	findBadRow string // the first source row of a load that breaks the key, or "" if not known
}

// tableState reads roughly how many rows a table holds (its largest id) and whether this
// session's role may alter it (owns it), as dropping its indexes and keys needs. %s is the table.
const tableState = `SELECT coalesce(max(id), 0),
	(SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = '%[1]s'::regclass) FROM %[1]s`

// planBulk returns the plan for loading src, or nil if src is not large next to what its
// table already holds, or the store's role does not own the table (a role that may only
// insert loads row by row).
func (db *DB) planBulk(ctx context.Context, src *unspoof.Source) (*bulkLoad, error) {
	t, ok := bulkTables[src.Kind]
	if !ok || src.Size/t.bytesPerRow < bulkMinRows {
		return nil, nil
	}
	// Read outside the load's transaction: reading the table in it would lock the table before
	// sources, out of order.
	var have int64
	var owner bool
	if err := db.pool.QueryRow(ctx, fmt.Sprintf(tableState, t.table)).Scan(&have, &owner); err != nil {
		return nil, fmt.Errorf("size of %s: %w", t.table, err)
	}
	if !owner || src.Size/t.bytesPerRow < max(have/2, bulkMinRows) {
		return nil, nil
	}
	return &bulkLoad{table: t.table}, nil
}

// listIndexes reads the table's secondary indexes: those that back no constraint and enforce
// no uniqueness (a duplicate must still be caught at its row).
const listIndexes = `
SELECT format('DROP INDEX %I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = $1::regclass AND NOT i.indisunique
	AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname`

// listForeignKeys reads the table's foreign keys, with a query that finds the first row of a
// source breaking a single-column key (for the error message).
const listForeignKeys = `
SELECT k.conname,
	format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
	format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid)),
	CASE WHEN cardinality(k.conkey) = 1 THEN format(
		'SELECT t.source_row FROM %s t WHERE t.source_id = $1 AND t.%I IS NOT NULL'
		' AND NOT EXISTS (SELECT 1 FROM %s r WHERE r.%I = t.%I) ORDER BY t.source_row LIMIT 1',
		k.conrelid::regclass, a.attname, k.confrelid::regclass, ra.attname, a.attname) ELSE '' END
FROM pg_constraint k
	JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
	JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
WHERE k.conrelid = $1::regclass AND k.contype = 'f'
ORDER BY k.conname`

// begin locks the tables and drops the table's secondary indexes and foreign keys, as the
// catalog has them. It must be the first thing the load's transaction does.
func (b *bulkLoad) begin(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `LOCK TABLE sources IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock sources: %w", err)
	}
	rows, _ := tx.Query(ctx, listIndexes, b.table)
	var err error
	b.indexes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ix bulkIndex, err error) {
		err = row.Scan(&ix.drop, &ix.create)
		return ix, err
	})
	if err != nil {
		return fmt.Errorf("list indexes of %s: %w", b.table, err)
	}
	rows, _ = tx.Query(ctx, listForeignKeys, b.table)
	b.fkeys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (fk bulkFKey, err error) {
		err = row.Scan(&fk.name, &fk.drop, &fk.add, &fk.findBadRow)
		return fk, err
	})
	if err != nil {
		return fmt.Errorf("list foreign keys of %s: %w", b.table, err)
	}
	for _, ix := range b.indexes {
		if _, err := tx.Exec(ctx, ix.drop); err != nil {
			return fmt.Errorf("drop index: %w", err)
		}
	}
	for _, fk := range b.fkeys {
		if _, err := tx.Exec(ctx, fk.drop); err != nil {
			return fmt.Errorf("drop foreign key: %w", err)
		}
	}
	return nil
}

// finish builds the indexes again and adds the foreign keys back, validating every row of
// the table against them. sourceID is the load's source, for naming a row that breaks a key.
//
// The builds take the server's maintenance_work_mem and max_parallel_maintenance_workers as
// they are, measured on 10M synthetic calls on a 2-core machine: more memory did not help
// (indexing callee_e164 took 6–10 s with 64MB, 9–14 s with 256MB and 14–21 s with 1GB, the
// bigger in-memory sorts being slower than merging runs from the page cache); parallel workers
// did (9–11 s with two, 17 s with none).
func (b *bulkLoad) finish(ctx context.Context, tx pgx.Tx, sourceID int64) error {
	for _, ix := range b.indexes {
		if _, err := tx.Exec(ctx, ix.create); err != nil {
			return fmt.Errorf("rebuild index: %w", translate(b.table, err))
		}
	}
	for _, fk := range b.fkeys {
		if err := b.addForeignKey(ctx, tx, fk, sourceID); err != nil {
			return err
		}
	}
	return nil
}

// addForeignKey adds fk back. If a row breaks it, the error names the first such row of the
// load, found after rolling back to a savepoint (the failed ALTER aborts the transaction).
func (b *bulkLoad) addForeignKey(ctx context.Context, tx pgx.Tx, fk bulkFKey, sourceID int64) error {
	if _, err := tx.Exec(ctx, `SAVEPOINT add_foreign_key`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	_, err := tx.Exec(ctx, fk.add)
	if err == nil {
		return nil
	}
	what := b.table
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgForeignKeyViolation && fk.findBadRow != "" {
		var row int64
		if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT add_foreign_key`); rerr == nil &&
			tx.QueryRow(ctx, fk.findBadRow, sourceID).Scan(&row) == nil {
			what = fmt.Sprintf("%s, source row %d", b.table, row)
		}
	}
	return fmt.Errorf("add foreign key %s: %w", fk.name, translate(what, err))
}
