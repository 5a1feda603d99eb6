package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
)

// Load records src and adds its rows through fn in one write transaction.
func (db *DB) Load(ctx context.Context, src *unspoof.Source, fn func(unspoof.Loader) error) error {
	if _, err := db.FindSourceByDigest(ctx, src.Kind, src.SHA256); err == nil {
		return unspoof.Errorf(unspoof.ECONFLICT, "%s file with SHA-256 %s is already loaded", src.Kind, src.SHA256)
	} else if unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		return err
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if src.Kind == unspoof.KindCalls && src.Size/bytesPerCall >= bulkRows {
		defer db.leaveWAL(ctx, conn)()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()

	if src.IngestedAt.IsZero() {
		src.IngestedAt = db.Now().UTC().Truncate(time.Second)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO sources (kind, name, sha256, size_bytes, region, synthetic, ingested_at, ingested_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		string(src.Kind), src.Name, src.SHA256, src.Size, src.Region, boolInt(src.Synthetic), src.IngestedAt.Unix(), src.IngestedBy)
	if err != nil {
		return fmt.Errorf("insert source: %w", translate(err))
	}
	if src.ID, err = res.LastInsertId(); err != nil {
		return err
	}

	l := &loader{conn: conn, tx: tx, sourceID: src.ID, size: src.Size}
	defer l.close()
	if err := fn(l); err != nil {
		src.ID = 0
		return err
	}
	if err := l.flush(ctx); err != nil {
		src.ID = 0
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sources SET rows_read = ?, rows_loaded = ?, rows_quarantined = ?, quarantine_path = ?
		WHERE id = ?`, src.RowsRead, src.RowsLoaded, src.RowsQuarantined, src.QuarantinePath, src.ID); err != nil {
		src.ID = 0
		return fmt.Errorf("update source: %w", err)
	}
	if err := ctx.Err(); err != nil {
		src.ID = 0
		return err
	}
	if err := tx.Commit(); err != nil {
		src.ID = 0
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// bulkRows is the estimated row count from which a load of calls is a bulk load: written with
// a rollback journal rather than the WAL (leaveWAL), its calls' indexes rebuilt rather than kept
// up to date (deferIndexes, which also weighs what the table holds).
const bulkRows = 100_000

// leaveWAL switches the store behind conn, outside any transaction, from WAL to a rollback
// journal for a bulk load, and returns the function that switches it back. In WAL mode every
// page the load writes goes to the WAL and is copied again into the file by the checkpoint
// after the commit (1.4 GiB twice for 10M calls); a rollback journal keeps only the original
// content of pages that existed before the transaction, and SQLite does not journal pages past
// the file's original end, so the rows a load appends are written once, into the file. A failed
// load still rolls back whole: the journal restores the pages that existed and the file is cut
// back to its original size. synchronous is FULL for the load, as a rollback journal needs to be
// safe against a power cut (NORMAL is enough only in WAL mode).
//
// Leaving WAL needs no other connection on the file: SQLite refuses ("database is locked") while
// another process (unspoof serve, a second ingest) or a reader of this one has it open. Idle
// readers of this process are closed first; if any is busy, or the switch is refused, nothing
// changes and the load runs in WAL mode. While the load runs, readers opening the file fail at
// once or after busy_timeout, as with any writer holding a rollback journal's exclusive lock.
//
// The returned function, called after the transaction ended (committed or rolled back), puts
// back WAL and synchronous = NORMAL; if that fails, the connection is discarded, and the next
// one opens in WAL mode (dsn), as would any connection after a crash mid-load (which first
// rolls back the hot journal).
func (db *DB) leaveWAL(ctx context.Context, conn *sql.Conn) (restore func()) {
	nothing := func() {}
	if db.r.Stats().InUse > 0 {
		return nothing
	}
	db.r.SetMaxIdleConns(0) // closes the idle readers
	db.r.SetMaxIdleConns(readersIdle)
	var mode string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil || mode != "delete" {
		return nothing
	}
	restore = func() {
		ctx := context.WithoutCancel(ctx)
		var mode string
		err := conn.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil && mode != "wal" {
			err = fmt.Errorf("journal mode is %s", mode)
		}
		if err == nil {
			_, err = conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`)
		}
		if err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		restore()
		return nothing
	}
	return restore
}

// callBatch is how many calls one cgo call inserts (bulkCalls).
const callBatch = 2048

// loader writes one source's rows inside its transaction.
type loader struct {
	conn     *sql.Conn // the transaction's connection, for the bulk insert of calls
	tx       *sql.Tx
	sourceID int64

	size int64 // of the source file, to judge whether to defer index upkeep

	calls     callRows
	callStmt  bulkStmt
	started   bool     // a call has been added
	indexes   []string // CREATE INDEX statements dropped for the load, to run at its end
	account   *sql.Stmt
	payment   *sql.Stmt
	complaint *sql.Stmt
	orgIDs    map[string]int64
}

func (l *loader) close() {
	for _, s := range []*sql.Stmt{l.account, l.payment, l.complaint} {
		if s != nil {
			s.Close()
		}
	}
	l.callStmt.finalize(l.conn)
}

func (l *loader) prepare(ctx context.Context, p **sql.Stmt, query string) (*sql.Stmt, error) {
	if *p != nil {
		return *p, nil
	}
	s, err := l.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	*p = s
	return s, nil
}

func (l *loader) AddAccount(ctx context.Context, a *unspoof.Account) error {
	s, err := l.prepare(ctx, &l.account, `INSERT INTO accounts (external_id, username, email, country, signup_at, ips, source_id, source_row)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	res, err := s.ExecContext(ctx, a.ExternalID, a.Username, a.Email, a.Country, unixOrNull(a.SignupAt),
		strings.Join(a.IPs, " "), l.sourceID, a.SourceRow)
	if err != nil {
		return fmt.Errorf("account %q: %w", a.ExternalID, translate(err))
	}
	a.SourceID = l.sourceID
	a.ID, err = res.LastInsertId()
	return err
}

func (l *loader) AddPayment(ctx context.Context, p *unspoof.Payment) error {
	s, err := l.prepare(ctx, &l.payment, `INSERT INTO payments (external_id, account_id, paid_at, amount_minor, currency, method, source_id, source_row)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, p.ExternalID, p.AccountID, p.PaidAt.Unix(), p.AmountMinor, p.Currency, p.Method,
		l.sourceID, p.SourceRow); err != nil {
		return fmt.Errorf("payment %q: %w", p.ExternalID, translate(err))
	}
	p.SourceID = l.sourceID
	return nil
}

func (l *loader) AddCall(ctx context.Context, c *unspoof.Call) error {
	if !l.started {
		l.started = true
		if err := l.deferIndexes(ctx); err != nil {
			return err
		}
	}
	c.SourceID = l.sourceID
	l.calls.add(c)
	if l.calls.n == callBatch {
		return l.flushCalls(ctx)
	}
	return nil
}

func (l *loader) flushCalls(ctx context.Context) error {
	err := l.callStmt.insertCalls(ctx, l.conn, &l.calls, l.sourceID)
	l.calls.reset()
	if err != nil {
		return fmt.Errorf("insert calls: %w", translate(err))
	}
	return nil
}

func (l *loader) AddOrgNumber(ctx context.Context, o *unspoof.Org, n *unspoof.OrgNumber) error {
	if l.orgIDs == nil {
		l.orgIDs = map[string]int64{}
	}
	id, ok := l.orgIDs[o.ExternalID]
	if !ok {
		err := l.tx.QueryRowContext(ctx, `SELECT id FROM orgs WHERE external_id = ?`, o.ExternalID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			var res sql.Result
			res, err = l.tx.ExecContext(ctx, `INSERT INTO orgs (external_id, name, sector, country) VALUES (?, ?, ?, ?)`,
				o.ExternalID, o.Name, o.Sector, o.Country)
			if err == nil {
				id, err = res.LastInsertId()
			}
		}
		if err != nil {
			return fmt.Errorf("org %q: %w", o.ExternalID, translate(err))
		}
		l.orgIDs[o.ExternalID] = id
	}
	o.ID, n.OrgID, n.SourceID = id, id, l.sourceID
	if _, err := l.tx.ExecContext(ctx, `INSERT INTO org_numbers (org_id, raw, e164, source_id, source_row) VALUES (?, ?, ?, ?, ?)`,
		id, n.Phone.Raw, n.Phone.E164, l.sourceID, n.SourceRow); err != nil {
		return fmt.Errorf("org %q number %s: %w", o.ExternalID, n.Phone.Raw, translate(err))
	}
	return nil
}

func (l *loader) AddComplaint(ctx context.Context, c *unspoof.Complaint) error {
	s, err := l.prepare(ctx, &l.complaint, `INSERT INTO complaints (caller_raw, caller_e164, caller_region, caller_type, caller_valid,
		called_at, created_at, city, state, area_code, subject, robocall, source_id, source_row)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, c.Caller.Raw, c.Caller.E164, c.Caller.Region, c.Caller.LineType, boolInt(c.Caller.Valid),
		unixOrNull(c.CalledAt), unixOrNull(c.CreatedAt), c.City, c.State, c.AreaCode, c.Subject, boolInt(c.Robocall),
		l.sourceID, c.SourceRow); err != nil {
		return fmt.Errorf("complaint: %w", translate(err))
	}
	c.SourceID = l.sourceID
	return nil
}

// bytesPerCall is a low estimate of a call record's size in a file, to guess its row count.
const bytesPerCall = 40

// deferIndexes drops the calls table's indexes when this load is large next to what the
// table holds: building an index once by sorting is far faster than keeping it up to date
// through millions of random inserts. They are built again before the load commits, inside
// the same transaction, so a failed load leaves them as they were.
func (l *loader) deferIndexes(ctx context.Context) error {
	var have int64
	if err := l.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM calls`).Scan(&have); err != nil {
		return fmt.Errorf("count calls: %w", err)
	}
	if l.size/bytesPerCall < max(have/2, bulkRows) {
		return nil
	}
	rows, err := l.tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls' AND sql IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	var names []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return err
		}
		names, l.indexes = append(names, name), append(l.indexes, def)
	}
	rows.Close()
	for _, n := range names {
		if _, err := l.tx.ExecContext(ctx, `DROP INDEX `+n); err != nil {
			return fmt.Errorf("drop index %s: %w", n, err)
		}
	}
	return nil
}

func (l *loader) flush(ctx context.Context) error {
	if err := l.flushCalls(ctx); err != nil {
		return err
	}
	if len(l.indexes) == 0 {
		return nil
	}
	// SQLite sorts an index's keys in runs of at most cache_size bytes (and at least 250 pages);
	// with helper threads it sorts and writes each full run in the background while the writer
	// goes on reading the table, then merges the runs in parallel. It sorts a run as a linked
	// list, and a run that fits the processor's cache sorts much faster: 4 MiB runs rebuilt the
	// two indexes of 10M calls in 9 s where 32 MiB runs took 15 s (the connection's 128 MiB,
	// longer still, and each thread holds a run). Both settings are put back for the
	// connection's other work.
	for _, p := range []string{fmt.Sprintf(`PRAGMA threads = %d`, min(runtime.NumCPU(), 8)), `PRAGMA cache_size = -4096`} {
		if _, err := l.tx.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	defer func() {
		// These only set a value on the connection; they fail only if it is gone.
		l.tx.ExecContext(context.WithoutCancel(ctx), `PRAGMA threads = 0`)
		l.tx.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = `+cacheSize)
	}()
	for _, def := range l.indexes {
		if _, err := l.tx.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	l.indexes = nil
	return nil
}

const sourceCols = `id, kind, name, sha256, size_bytes, region, synthetic, rows_read, rows_loaded, rows_quarantined,
	quarantine_path, ingested_at, ingested_by`

func scanSource(row interface{ Scan(...any) error }) (*unspoof.Source, error) {
	var s unspoof.Source
	var kind string
	var synthetic int
	var at int64
	if err := row.Scan(&s.ID, &kind, &s.Name, &s.SHA256, &s.Size, &s.Region, &synthetic, &s.RowsRead, &s.RowsLoaded,
		&s.RowsQuarantined, &s.QuarantinePath, &at, &s.IngestedBy); err != nil {
		return nil, translate(err)
	}
	s.Kind, s.Synthetic, s.IngestedAt = unspoof.Kind(kind), synthetic != 0, time.Unix(at, 0).UTC()
	return &s, nil
}

// FindSourceByDigest returns the source of kind whose file had the given SHA-256.
func (db *DB) FindSourceByDigest(ctx context.Context, kind unspoof.Kind, sha256 string) (*unspoof.Source, error) {
	s, err := scanSource(db.r.QueryRowContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE kind = ? AND sha256 = ?`,
		string(kind), sha256))
	if unspoof.ErrorCode(err) == unspoof.ENOTFOUND {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no %s source with SHA-256 %s", kind, sha256)
	}
	return s, err
}

// FindSources returns every source, oldest first.
func (db *DB) FindSources(ctx context.Context) ([]*unspoof.Source, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+sourceCols+` FROM sources ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*unspoof.Source
	for rows.Next() {
		s, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// AccountIDs maps every account's external id to its id.
func (db *DB) AccountIDs(ctx context.Context) (map[string]int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT external_id, id FROM accounts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[string]int64)
	for rows.Next() {
		var ext string
		var id int64
		if err := rows.Scan(&ext, &id); err != nil {
			return nil, err
		}
		m[ext] = id
	}
	return m, rows.Err()
}

// FindCalls returns the calls matching f.
func (db *DB) FindCalls(ctx context.Context, f unspoof.CallFilter) ([]*unspoof.Call, int, error) {
	where, args := []string{"1 = 1"}, []any{}
	if v := f.CalleeE164; v != nil {
		where, args = append(where, "callee_e164 = ?"), append(args, *v)
	}
	if v := f.AccountID; v != nil {
		where, args = append(where, "account_id = ?"), append(args, *v)
	}
	if v := f.SourceID; v != nil {
		where, args = append(where, "source_id = ?"), append(args, *v)
	}
	cond := strings.Join(where, " AND ")
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM calls WHERE `+cond, args...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("count calls: %w", err)
	}
	limit := -1
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, external_id, account_id, started_at, duration_s, status, cli_raw,
		coalesce(cli_e164, ''), callee_raw, callee_e164, callee_region, callee_type, callee_valid, source_id, source_row
		FROM calls WHERE `+cond+` ORDER BY started_at, id LIMIT ? OFFSET ?`, append(args, limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("find calls: %w", err)
	}
	defer rows.Close()
	var out []*unspoof.Call
	for rows.Next() {
		var c unspoof.Call
		var at, dur int64
		var valid int
		if err := rows.Scan(&c.ID, &c.ExternalID, &c.AccountID, &at, &dur, &c.Status, &c.CLI.Raw, &c.CLI.E164,
			&c.Callee.Raw, &c.Callee.E164, &c.Callee.Region, &c.Callee.LineType, &valid, &c.SourceID, &c.SourceRow); err != nil {
			return nil, 0, err
		}
		c.StartedAt, c.Duration, c.Callee.Valid = time.Unix(at, 0).UTC(), time.Duration(dur)*time.Second, valid != 0
		out = append(out, &c)
	}
	return out, n, rows.Err()
}
