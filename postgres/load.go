package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/unspoof/unspoof"
)

const insertSource = `INSERT INTO sources (kind, name, sha256, size_bytes, region, synthetic, ingested_at, ingested_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`

const updateSourceCounts = `UPDATE sources SET rows_read = $1, rows_loaded = $2, rows_quarantined = $3, quarantine_path = $4
WHERE id = $5`

// Load records src and adds its rows through fn, all in one transaction. Bulk rows go to the
// server by COPY while fn is still producing them, bounded by ctx (not by the contexts given to
// the Loader's methods); an error in a row may therefore be returned by a later Add call, or by
// Load itself, and names the source row at fault where the server says which it was. The Loader
// must not be used after fn returns, nor from two goroutines.
//
// A calls or complaints file large next to what its table holds (judged from src.Size) is
// loaded with the table's secondary indexes and foreign keys dropped, and both rebuilt before
// the commit (see bulkLoad): while it loads, other loads wait, and so do readers of the tables
// the keys join (calls, accounts and sources for a calls file).
func (db *DB) Load(ctx context.Context, src *unspoof.Source, fn func(unspoof.Loader) error) (err error) {
	if _, err := db.FindSourceByDigest(ctx, src.Kind, src.SHA256); err == nil {
		return alreadyLoaded(src)
	} else if unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		return err
	}
	if src.IngestedAt.IsZero() {
		src.IngestedAt = db.Now().UTC().Truncate(time.Second)
	}
	bulk, err := db.planBulk(ctx, src)
	if err != nil {
		return err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	l := newLoader(ctx, tx)
	defer func() {
		l.close()
		if err != nil {
			src.ID = 0
		}
		// A no-op after Commit. ctx may be what failed: roll back on a context of our own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		tx.Rollback(rctx)
	}()
	if bulk != nil {
		if err := bulk.begin(ctx, tx); err != nil {
			return err
		}
		l.widen(bulk.table)
	}

	if err := tx.QueryRow(ctx, insertSource, string(src.Kind), src.Name, src.SHA256, src.Size, src.Region,
		src.Synthetic, src.IngestedAt, src.IngestedBy).Scan(&src.ID); err != nil {
		if unspoof.ErrorCode(translate("source", err)) == unspoof.ECONFLICT {
			return alreadyLoaded(src) // loaded by another process since we looked
		}
		return fmt.Errorf("insert source: %w", err)
	}
	l.sourceID = src.ID
	if err := fn(l); err != nil {
		return err
	}
	if err := l.idle(); err != nil {
		return err
	}
	if bulk != nil {
		if err := bulk.finish(ctx, tx, src.ID); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, updateSourceCounts, src.RowsRead, src.RowsLoaded, src.RowsQuarantined,
		src.QuarantinePath, src.ID); err != nil {
		return fmt.Errorf("update source: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func alreadyLoaded(src *unspoof.Source) error {
	return unspoof.Errorf(unspoof.ECONFLICT, "%s file with SHA-256 %s is already loaded", src.Kind, src.SHA256)
}

// loader writes one source's rows inside its transaction. Each table has a copyStream; only one
// can use the connection at a time, so starting one (or running any other statement) first
// ends the COPY of another.
type loader struct {
	ctx      context.Context // Load's: bounds every COPY
	tx       pgx.Tx
	sourceID int64
	active   interface{ end() error }
	closed   bool

	accounts   *copyStream[accountRow]
	payments   *copyStream[paymentRow]
	calls      *copyStream[callRow]
	orgNumbers *copyStream[orgNumberRow]
	complaints *copyStream[complaintRow]

	accountIDs []int64 // taken from the sequence, not yet given out
	idBlock    int
	orgIDs     map[string]int64
}

func newLoader(ctx context.Context, tx pgx.Tx) *loader {
	l := &loader{ctx: ctx, tx: tx, orgIDs: map[string]int64{}}
	l.accounts = newCopyStream(l, "accounts", accountCols, (*accountRow).values)
	l.payments = newCopyStream(l, "payments", paymentCols, (*paymentRow).values)
	l.calls = newCopyStream(l, "calls", callCols, (*callRow).values)
	l.orgNumbers = newCopyStream(l, "org_numbers", orgNumberCols, (*orgNumberRow).values)
	l.complaints = newCopyStream(l, "complaints", complaintCols, (*complaintRow).values)
	return l
}

// idle ends the COPY in progress, if any, so that the connection can take another statement.
func (l *loader) idle() error {
	if l.active == nil {
		return nil
	}
	err := l.active.end()
	l.active = nil
	return err
}

// close stops any COPY still running, discarding its rows, and makes the loader refuse rows.
func (l *loader) close() {
	l.closed = true
	for _, s := range []interface{ abort() }{l.accounts, l.payments, l.calls, l.orgNumbers, l.complaints} {
		s.abort()
	}
}

// widen lets each COPY into table carry bulkCopyRows rows, once its foreign keys are dropped.
func (l *loader) widen(table string) {
	switch table {
	case "calls":
		l.calls.limit = bulkCopyRows
	case "complaints":
		l.complaints.limit = bulkCopyRows
	}
}

var errClosed = errors.New("loader used after its Load returned")

// AddAccount queues a for COPY and sets its ID (reserved from the sequence) and SourceID.
func (l *loader) AddAccount(ctx context.Context, a *unspoof.Account) error {
	if l.closed {
		return errClosed
	}
	if len(l.accountIDs) == 0 {
		if err := l.takeAccountIDs(ctx); err != nil {
			return err
		}
	}
	a.ID, l.accountIDs = l.accountIDs[0], l.accountIDs[1:]
	a.SourceID = l.sourceID
	ips := a.IPs
	if ips == nil {
		ips = []string{}
	}
	return l.accounts.add(accountRow{
		id: a.ID, externalID: a.ExternalID, username: a.Username, email: a.Email, country: a.Country,
		signupAt: timestamptz(a.SignupAt), ips: ips, sourceRow: a.SourceRow,
	}, a.SourceRow)
}

// takeAccountIDs reserves the next ids of accounts: AddAccount gives the id back at once while
// the row itself goes in by COPY. Blocks grow so that a small file wastes few ids.
func (l *loader) takeAccountIDs(ctx context.Context) error {
	if err := l.idle(); err != nil {
		return err
	}
	l.idBlock = min(max(2*l.idBlock, 64), 16384)
	rows, _ := l.tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('accounts', 'id')) FROM generate_series(1, $1)`, l.idBlock)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("account ids: %w", err)
	}
	l.accountIDs = ids
	return nil
}

// AddPayment queues p for COPY and sets its SourceID.
func (l *loader) AddPayment(ctx context.Context, p *unspoof.Payment) error {
	if l.closed {
		return errClosed
	}
	p.SourceID = l.sourceID
	return l.payments.add(paymentRow{
		externalID: p.ExternalID, accountID: p.AccountID, paidAt: p.PaidAt, amountMinor: p.AmountMinor,
		currency: p.Currency, method: p.Method, sourceRow: p.SourceRow,
	}, p.SourceRow)
}

// AddCall queues c for COPY and sets its SourceID.
func (l *loader) AddCall(ctx context.Context, c *unspoof.Call) error {
	if l.closed {
		return errClosed
	}
	c.SourceID = l.sourceID
	return l.calls.add(callRow{
		externalID: c.ExternalID, accountID: c.AccountID, startedAt: c.StartedAt,
		durationS: int32(c.Duration / time.Second), status: c.Status,
		cliRaw: c.CLI.Raw, cliE164: pgtype.Text{String: c.CLI.E164, Valid: c.CLI.E164 != ""},
		calleeRaw: c.Callee.Raw, calleeE164: c.Callee.E164, calleeRegion: c.Callee.Region,
		calleeType: c.Callee.LineType, calleeValid: c.Callee.Valid, sourceRow: c.SourceRow,
	}, c.SourceRow)
}

// upsertOrg inserts an organisation unless one with its external id exists, and returns the id.
const upsertOrg = `WITH new AS (
	INSERT INTO orgs (external_id, name, sector, country) VALUES ($1, $2, $3, $4)
	ON CONFLICT (external_id) DO NOTHING RETURNING id)
SELECT id FROM new UNION ALL SELECT id FROM orgs WHERE external_id = $1 LIMIT 1`

// AddOrgNumber creates o unless an organisation with its ExternalID exists, queues n for COPY,
// and sets o.ID, n.OrgID and n.SourceID.
func (l *loader) AddOrgNumber(ctx context.Context, o *unspoof.Org, n *unspoof.OrgNumber) error {
	if l.closed {
		return errClosed
	}
	id, ok := l.orgIDs[o.ExternalID]
	if !ok {
		if err := l.idle(); err != nil {
			return err
		}
		err := l.tx.QueryRow(ctx, upsertOrg, o.ExternalID, o.Name, o.Sector, o.Country).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			// Another load created it after this statement's snapshot was taken.
			err = l.tx.QueryRow(ctx, `SELECT id FROM orgs WHERE external_id = $1`, o.ExternalID).Scan(&id)
		}
		if err != nil {
			return fmt.Errorf("org %q: %w", o.ExternalID, translate("orgs", err))
		}
		l.orgIDs[o.ExternalID] = id
	}
	o.ID, n.OrgID, n.SourceID = id, id, l.sourceID
	return l.orgNumbers.add(orgNumberRow{orgID: id, raw: n.Phone.Raw, e164: n.Phone.E164, sourceRow: n.SourceRow}, n.SourceRow)
}

// AddComplaint queues c for COPY and sets its SourceID.
func (l *loader) AddComplaint(ctx context.Context, c *unspoof.Complaint) error {
	if l.closed {
		return errClosed
	}
	c.SourceID = l.sourceID
	return l.complaints.add(complaintRow{
		callerRaw: c.Caller.Raw, callerE164: c.Caller.E164, callerRegion: c.Caller.Region,
		callerType: c.Caller.LineType, callerValid: c.Caller.Valid,
		calledAt: timestamptz(c.CalledAt), createdAt: timestamptz(c.CreatedAt),
		city: c.City, state: c.State, areaCode: c.AreaCode, subject: c.Subject, robocall: c.Robocall,
		sourceRow: c.SourceRow,
	}, c.SourceRow)
}

// timestamptz stores a zero time as NULL.
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// The rows as COPY sends them. values points v at the row's fields in column order (pointers,
// so that handing them to pgx allocates nothing); the row stays put until pgx has encoded it.

var accountCols = []string{"id", "external_id", "username", "email", "country", "signup_at", "ips", "source_id", "source_row"}

type accountRow struct {
	id                                   int64
	externalID, username, email, country string
	signupAt                             pgtype.Timestamptz
	ips                                  []string
	sourceRow                            int64
}

func (r *accountRow) values(sourceID *int64, v []any) {
	v[0], v[1], v[2], v[3], v[4] = &r.id, &r.externalID, &r.username, &r.email, &r.country
	v[5], v[6], v[7], v[8] = &r.signupAt, &r.ips, sourceID, &r.sourceRow
}

var paymentCols = []string{"external_id", "account_id", "paid_at", "amount_minor", "currency", "method", "source_id", "source_row"}

type paymentRow struct {
	externalID       string
	accountID        int64
	paidAt           time.Time
	amountMinor      int64
	currency, method string
	sourceRow        int64
}

func (r *paymentRow) values(sourceID *int64, v []any) {
	v[0], v[1], v[2], v[3] = &r.externalID, &r.accountID, &r.paidAt, &r.amountMinor
	v[4], v[5], v[6], v[7] = &r.currency, &r.method, sourceID, &r.sourceRow
}

var callCols = []string{"external_id", "account_id", "started_at", "duration_s", "status", "cli_raw", "cli_e164",
	"callee_raw", "callee_e164", "callee_region", "callee_type", "callee_valid", "source_id", "source_row"}

type callRow struct {
	externalID                                      string
	accountID                                       int64
	startedAt                                       time.Time
	durationS                                       int32
	status, cliRaw                                  string
	cliE164                                         pgtype.Text
	calleeRaw, calleeE164, calleeRegion, calleeType string
	calleeValid                                     bool
	sourceRow                                       int64
}

func (r *callRow) values(sourceID *int64, v []any) {
	v[0], v[1], v[2], v[3], v[4], v[5], v[6] = &r.externalID, &r.accountID, &r.startedAt, &r.durationS, &r.status, &r.cliRaw, &r.cliE164
	v[7], v[8], v[9], v[10], v[11] = &r.calleeRaw, &r.calleeE164, &r.calleeRegion, &r.calleeType, &r.calleeValid
	v[12], v[13] = sourceID, &r.sourceRow
}

var orgNumberCols = []string{"org_id", "raw", "e164", "source_id", "source_row"}

type orgNumberRow struct {
	orgID     int64
	raw, e164 string
	sourceRow int64
}

func (r *orgNumberRow) values(sourceID *int64, v []any) {
	v[0], v[1], v[2], v[3], v[4] = &r.orgID, &r.raw, &r.e164, sourceID, &r.sourceRow
}

var complaintCols = []string{"caller_raw", "caller_e164", "caller_region", "caller_type", "caller_valid", "called_at",
	"created_at", "city", "state", "area_code", "subject", "robocall", "source_id", "source_row"}

type complaintRow struct {
	callerRaw, callerE164, callerRegion, callerType string
	callerValid                                     bool
	calledAt, createdAt                             pgtype.Timestamptz
	city, state, areaCode, subject                  string
	robocall                                        bool
	sourceRow                                       int64
}

func (r *complaintRow) values(sourceID *int64, v []any) {
	v[0], v[1], v[2], v[3], v[4] = &r.callerRaw, &r.callerE164, &r.callerRegion, &r.callerType, &r.callerValid
	v[5], v[6], v[7], v[8], v[9] = &r.calledAt, &r.createdAt, &r.city, &r.state, &r.areaCode
	v[10], v[11], v[12], v[13] = &r.subject, &r.robocall, sourceID, &r.sourceRow
}
