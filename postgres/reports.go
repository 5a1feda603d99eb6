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

var (
	_ unspoof.ReportStore = (*DB)(nil)
	_ unspoof.StaffStore  = (*DB)(nil)
)

const reportCols = `id, number, reference_given, reference, phone_given, e164, called_on, org_claimed, lost, loss_minor,
	paid_by, story, contact_by, contact, consent, created_at, status, match, victim_e164, linked_calls`

// date stores the day of t (in t's own location, as SQLite's engine formats it) as a date, the
// zero time as NULL.
func date(t time.Time) pgtype.Date {
	return pgtype.Date{Time: t, Valid: !t.IsZero()}
}

// orNil returns s, or nil if it is empty: pgx collects no rows as an empty slice, SQLite's
// engine as nil.
func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func scanReport(row pgx.Row) (*unspoof.Report, error) {
	var r unspoof.Report
	var calledOn pgtype.Date
	var linked int32
	if err := row.Scan(&r.ID, &r.Number, &r.ReferenceGiven, &r.Reference, &r.PhoneGiven, &r.E164, &calledOn, &r.OrgClaimed,
		&r.Lost, &r.LossMinor, &r.PaidBy, &r.Story, &r.ContactBy, &r.Contact, &r.Consent, &r.CreatedAt, &r.Status, &r.Match,
		&r.VictimE164, &linked); err != nil {
		return nil, err
	}
	if calledOn.Valid {
		r.CalledOn = calledOn.Time // midnight UTC
	}
	r.CreatedAt, r.LinkedCalls = r.CreatedAt.UTC(), int(linked)
	return &r, nil
}

// CreateReport stores a new report with status new and sets its ID and status. A report number
// already used is ECONFLICT.
func (db *DB) CreateReport(ctx context.Context, r *unspoof.Report) error {
	r.Status = unspoof.ReportNew
	err := db.pool.QueryRow(ctx, `INSERT INTO reports (number, reference_given, reference, phone_given, e164, called_on,
		org_claimed, lost, loss_minor, paid_by, story, contact_by, contact, consent, created_at, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		r.Number, r.ReferenceGiven, r.Reference, r.PhoneGiven, r.E164, date(r.CalledOn), r.OrgClaimed, r.Lost, r.LossMinor,
		r.PaidBy, r.Story, r.ContactBy, r.Contact, r.Consent, r.CreatedAt, r.Status).Scan(&r.ID)
	if err := translate("report", err); unspoof.ErrorCode(err) == unspoof.ECONFLICT {
		return unspoof.Errorf(unspoof.ECONFLICT, "a report numbered %s exists already", r.Number)
	} else if err != nil {
		return domainOr("create report", err)
	}
	return nil
}

// FindReportByID returns a report with its linked accounts (most calls first), read from one
// snapshot, or ENOTFOUND.
func (db *DB) FindReportByID(ctx context.Context, id int64) (*unspoof.Report, error) {
	var r *unspoof.Report
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = scanReport(tx.QueryRow(ctx, `SELECT `+reportCols+` FROM reports WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return unspoof.Errorf(unspoof.ENOTFOUND, "no report %d", id)
		} else if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT ra.account_id, a.external_id, ra.calls, ra.loss_minor
			FROM report_accounts ra JOIN accounts a ON a.id = ra.account_id WHERE ra.report_id = $1
			ORDER BY ra.calls DESC, a.id`, id)
		r.Accounts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.ReportAccount, error) {
			var a unspoof.ReportAccount
			var calls int32
			err := row.Scan(&a.AccountID, &a.ExternalID, &calls, &a.LossMinor)
			a.Calls = int(calls)
			return &a, err
		})
		r.Accounts = orNil(r.Accounts)
		return err
	})
	if err != nil {
		return nil, domainOr("find report", err)
	}
	return r, nil
}

// FindReports returns the reports f selects, newest first, and how many match in all, both read
// from one snapshot.
func (db *DB) FindReports(ctx context.Context, f unspoof.ReportFilter) ([]*unspoof.Report, int, error) {
	where, args := "", []any{}
	if f.Status != nil {
		where, args = " WHERE status = $1", append(args, *f.Status)
	}
	var rs []*unspoof.Report
	var n int
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM reports`+where, args...).Scan(&n); err != nil {
			return err
		}
		limit := pgtype.Int8{Int64: int64(f.Limit), Valid: f.Limit > 0}
		rows, _ := tx.Query(ctx, fmt.Sprintf(`SELECT %s FROM reports%s ORDER BY id DESC LIMIT $%d OFFSET $%d`, reportCols, where,
			len(args)+1, len(args)+2), append(args, limit, max(f.Offset, 0))...)
		var err error
		rs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Report, error) { return scanReport(row) })
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find reports: %w", err)
	}
	return orNil(rs), n, nil
}

// FindVictimByCode returns the victim with reference code code (normalised), or ENOTFOUND. A
// code once given keeps naming its number after a re-ranking dropped the number: then only the
// victim's number and code are known.
func (db *DB) FindVictimByCode(ctx context.Context, code string) (*unspoof.Victim, error) {
	v, err := scanVictim(db.pool.QueryRow(ctx, `SELECT `+victimSelectCols+` FROM victims v WHERE v.code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		var e164 string
		err := db.pool.QueryRow(ctx, `SELECT e164 FROM victim_codes WHERE code = $1`, code).Scan(&e164)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no victim has that reference")
		} else if err != nil {
			return nil, fmt.Errorf("find victim by code: %w", err)
		}
		return &unspoof.Victim{E164: e164, Code: code}, nil
	} else if err != nil {
		return nil, fmt.Errorf("find victim by code: %w", err)
	}
	return v, nil
}

// SaveReportLink records what linking found for a report, replacing any earlier link of it, and
// sets the suspects table's linked loss of every account the old or the new link names to the
// sum of its attributed losses; ENOTFOUND if there is no such report, EINVALID if a call or an
// account does not exist. It runs in one transaction that locks the report's row first, so that
// two links of one report follow each other; the suspects' rows are locked (in account order,
// so that two links cannot deadlock) before their sums are read, so that each sum is read after
// any other link to the same account has committed, and none is lost.
func (db *DB) SaveReportLink(ctx context.Context, l *unspoof.ReportLink) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM reports WHERE id = $1 FOR UPDATE`, l.ReportID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return unspoof.Errorf(unspoof.ENOTFOUND, "no report %d", l.ReportID)
		} else if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `DELETE FROM report_accounts WHERE report_id = $1 RETURNING account_id`, l.ReportID)
		touched, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM report_calls WHERE report_id = $1`, l.ReportID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE reports SET status = $1, match = $2, victim_e164 = $3, linked_calls = $4 WHERE id = $5`,
			l.Status, l.Match, l.VictimE164, int32(len(l.CallIDs)), l.ReportID); err != nil {
			return translate("report", err)
		}
		if len(l.CallIDs) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO report_calls (report_id, call_id) SELECT $1, unnest($2::bigint[])`,
				l.ReportID, l.CallIDs); err != nil {
				return translate("report calls", err)
			}
		}
		if len(l.Accounts) > 0 {
			ids, calls, losses := make([]int64, len(l.Accounts)), make([]int32, len(l.Accounts)), make([]int64, len(l.Accounts))
			for i, a := range l.Accounts {
				ids[i], calls[i], losses[i] = a.AccountID, int32(a.Calls), a.LossMinor
			}
			if _, err := tx.Exec(ctx, `INSERT INTO report_accounts (report_id, account_id, calls, loss_minor)
				SELECT $1, u.account_id, u.calls, u.loss_minor FROM unnest($2::bigint[], $3::integer[], $4::bigint[])
					AS u (account_id, calls, loss_minor)`, l.ReportID, ids, calls, losses); err != nil {
				return translate("report accounts", err)
			}
			touched = append(touched, ids...)
		}
		if len(touched) == 0 {
			return nil
		}
		// Each statement reads its own snapshot (read committed): taken after the locks, the
		// update's sees every other link that touched these accounts committed.
		if _, err := tx.Exec(ctx, `SELECT FROM suspects WHERE account_id = ANY($1) ORDER BY account_id FOR UPDATE`,
			touched); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE suspects s SET loss_minor =
			(SELECT coalesce(sum(r.loss_minor), 0) FROM report_accounts r WHERE r.account_id = s.account_id)
			WHERE s.account_id = ANY($1)`, touched)
		return err
	})
	return domainOr("save report link", err)
}

// ReportsToLink returns up to limit reports still new (all of them if limit ≤ 0), oldest first.
func (db *DB) ReportsToLink(ctx context.Context, limit int) ([]*unspoof.Report, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+reportCols+` FROM reports WHERE status = 'new' ORDER BY id LIMIT $1`,
		pgtype.Int8{Int64: int64(limit), Valid: limit > 0})
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Report, error) { return scanReport(row) })
	if err != nil {
		return nil, fmt.Errorf("reports to link: %w", err)
	}
	return orNil(rs), nil
}

// SetReportStatus sets a report's status (a member of staff reviewed it), or says ENOTFOUND.
func (db *DB) SetReportStatus(ctx context.Context, id int64, status string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE reports SET status = $1 WHERE id = $2`, status, id)
	if err != nil {
		return domainOr("report status", translate("report", err))
	}
	if tag.RowsAffected() == 0 {
		return unspoof.Errorf(unspoof.ENOTFOUND, "no report %d", id)
	}
	return nil
}

// Figures computes the headline figures, all from one read-only snapshot. The evidence part
// (calls, UK numbers, long calls), asked for by evidence, reads every call: callers cache it (web
// does).
func (db *DB) Figures(ctx context.Context, evidence bool) (*unspoof.Figures, error) {
	f := &unspoof.Figures{ComputedAt: db.Now().UTC()}
	qs := []struct {
		q    string
		dest []any
	}{
		{`SELECT count(*) FROM victims`, []any{&f.Victims}},
		{`SELECT count(DISTINCT e164) FILTER (WHERE state IN ('submitted','delivered')),
			count(DISTINCT e164) FILTER (WHERE state = 'delivered') FROM messages`, []any{&f.Alerted, &f.Delivered}},
		{`SELECT count(*), count(*) FILTER (WHERE status = 'matched'), coalesce(sum(loss_minor) FILTER (WHERE lost), 0)::bigint,
			coalesce(max(loss_minor), 0), count(*) FILTER (WHERE lost AND loss_minor > 0) FROM reports`,
			[]any{&f.Reports, &f.ReportsMatched, &f.LossTotalMinor, &f.LossMaxMinor, &f.ReportsWithLoss}},
		{`SELECT count(*) FILTER (WHERE identified) FROM suspects`, []any{&f.Suspects}},
	}
	if evidence {
		qs = append(qs, struct {
			q    string
			dest []any
		}{`SELECT count(*), count(DISTINCT callee_e164) FILTER (WHERE starts_with(callee_e164, '+44')),
			count(*) FILTER (WHERE starts_with(callee_e164, '+44') AND duration_s > 60) FROM calls`,
			[]any{&f.Calls, &f.UKNumbers, &f.LongCalls}})
	}
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		if evidence {
			// Sort the UK numbers for the distinct count in memory rather than on disk.
			if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'`); err != nil {
				return err
			}
		}
		for _, q := range qs {
			if err := tx.QueryRow(ctx, q.q).Scan(q.dest...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	return f, nil
}

// CreateStaff adds a member of staff and sets their ID; ECONFLICT if the username is taken.
func (db *DB) CreateStaff(ctx context.Context, s *unspoof.Staff) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO staff (username, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
		RETURNING id`, s.Username, s.Name, s.Role, s.PasswordHash, s.CreatedAt).Scan(&s.ID)
	if err := translate("staff", err); unspoof.ErrorCode(err) == unspoof.ECONFLICT {
		return unspoof.Errorf(unspoof.ECONFLICT, "there is already a member of staff called %q", s.Username)
	} else if err != nil {
		return domainOr("create staff", err)
	}
	return nil
}

const staffCols = `id, username, name, role, password_hash, failed_logins, locked_until, disabled_at, created_at`

func scanStaff(row pgx.Row) (*unspoof.Staff, error) {
	var s unspoof.Staff
	var failed int32
	var locked, disabled pgtype.Timestamptz
	if err := row.Scan(&s.ID, &s.Username, &s.Name, &s.Role, &s.PasswordHash, &failed, &locked, &disabled, &s.CreatedAt); err != nil {
		return nil, err
	}
	s.FailedLogins, s.LockedUntil, s.DisabledAt, s.CreatedAt = int(failed), timeOf(locked), timeOf(disabled), s.CreatedAt.UTC()
	return &s, nil
}

// FindStaff returns every member of staff, by username.
func (db *DB) FindStaff(ctx context.Context) ([]*unspoof.Staff, error) {
	rows, _ := db.pool.Query(ctx, `SELECT `+staffCols+` FROM staff ORDER BY username`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*unspoof.Staff, error) { return scanStaff(row) })
	if err != nil {
		return nil, fmt.Errorf("find staff: %w", err)
	}
	return out, nil
}

// SetStaffDisabled disables a member of staff from at and ends their sessions, or enables them
// when at is zero.
func (db *DB) SetStaffDisabled(ctx context.Context, id int64, at time.Time) error {
	return db.staffChange(ctx, id, `UPDATE staff SET disabled_at = $1 WHERE id = $2`, timestamptz(at), id)
}

// SetStaffPassword replaces a password hash, clears failed logins and lockout, and ends the
// member of staff's sessions.
func (db *DB) SetStaffPassword(ctx context.Context, id int64, hash string) error {
	return db.staffChange(ctx, id, `UPDATE staff SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE id = $2`, hash, id)
}

// staffChange runs update on staff member id and ends their sessions, in one transaction.
func (db *DB) staffChange(ctx context.Context, id int64, update string, args ...any) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, update, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return unspoof.Errorf(unspoof.ENOTFOUND, "no such member of staff")
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE staff_id = $1`, id)
		return err
	})
	return domainOr("staff", err)
}

// FindStaffByUsername returns the member of staff with that username, or ENOTFOUND.
func (db *DB) FindStaffByUsername(ctx context.Context, username string) (*unspoof.Staff, error) {
	s, err := scanStaff(db.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE username = $1`, username))
	// A username PostgreSQL cannot hold (a NUL byte, bad UTF-8: as typed on the login form) names
	// no one, as on SQLite: the login answers as for any unknown name.
	if errors.Is(err, pgx.ErrNoRows) || unspoof.ErrorCode(translate("staff", err)) == unspoof.EINVALID {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no such member of staff")
	} else if err != nil {
		return nil, fmt.Errorf("find staff: %w", err)
	}
	return s, nil
}

// FindStaffByID returns the member of staff with that ID, or ENOTFOUND.
func (db *DB) FindStaffByID(ctx context.Context, id int64) (*unspoof.Staff, error) {
	s, err := scanStaff(db.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no such member of staff")
	} else if err != nil {
		return nil, fmt.Errorf("find staff: %w", err)
	}
	return s, nil
}

// SetStaffLogin records the outcome of a login attempt: the failed attempts in a row and until
// when the member of staff is locked out (the zero time: not locked out).
func (db *DB) SetStaffLogin(ctx context.Context, id int64, failed int, lockedUntil time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE staff SET failed_logins = $1, locked_until = $2 WHERE id = $3`,
		int32(failed), timestamptz(lockedUntil), id); err != nil {
		return fmt.Errorf("staff login: %w", err)
	}
	return nil
}

// CreateSession stores a session: ECONFLICT if its token hash is stored already, EINVALID if
// there is no such member of staff.
func (db *DB) CreateSession(ctx context.Context, s *unspoof.Session) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO sessions (token_hash, staff_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		s.TokenHash, s.StaffID, s.CreatedAt, s.ExpiresAt); err != nil {
		return domainOr("create session", translate("session", err))
	}
	return nil
}

// FindSession returns the session with that token hash if it expires after now, with its member
// of staff; EUNAUTHORIZED if there is none (as SQLite's engine says, and the web layer expects).
func (db *DB) FindSession(ctx context.Context, tokenHash string, now time.Time) (*unspoof.Session, *unspoof.Staff, error) {
	var se unspoof.Session
	var st unspoof.Staff
	var failed int32
	var locked pgtype.Timestamptz
	err := db.pool.QueryRow(ctx, `SELECT s.token_hash, s.staff_id, s.created_at, s.expires_at, st.id, st.username, st.name,
		st.role, st.password_hash, st.failed_logins, st.locked_until, st.created_at
		FROM sessions s JOIN staff st ON st.id = s.staff_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND st.disabled_at IS NULL`, tokenHash, now).
		Scan(&se.TokenHash, &se.StaffID, &se.CreatedAt, &se.ExpiresAt, &st.ID, &st.Username, &st.Name, &st.Role,
			&st.PasswordHash, &failed, &locked, &st.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, unspoof.Errorf(unspoof.EUNAUTHORIZED, "not logged in")
	} else if err != nil {
		return nil, nil, domainOr("find session", translate("session", err))
	}
	se.CreatedAt, se.ExpiresAt = se.CreatedAt.UTC(), se.ExpiresAt.UTC()
	st.FailedLogins, st.LockedUntil, st.CreatedAt = int(failed), timeOf(locked), st.CreatedAt.UTC()
	return &se, &st, nil
}

// DeleteSession ends a session; ending one that does not exist is no error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// CallsPerDay counts the calls of each UTC day, oldest first: a scan of every call.
func (db *DB) CallsPerDay(ctx context.Context) ([]unspoof.DayCount, error) {
	rows, _ := db.pool.Query(ctx, `SELECT (started_at AT TIME ZONE 'UTC')::date, count(*) FROM calls GROUP BY 1 ORDER BY 1`)
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (unspoof.DayCount, error) {
		var d unspoof.DayCount
		var day pgtype.Date
		err := row.Scan(&day, &d.Calls)
		d.Day = day.Time // midnight UTC
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("calls per day: %w", err)
	}
	return orNil(ds), nil
}

// ReportSeries counts reports by hour since since, and losses by size.
func (db *DB) ReportSeries(ctx context.Context, since time.Time, lossEdges []int64) (map[time.Time]int64, []int64, error) {
	perHour := map[time.Time]int64{}
	rows, _ := db.pool.Query(ctx, `SELECT date_trunc('hour', created_at), count(*) FROM reports WHERE created_at >= $1 GROUP BY 1`, since)
	var h time.Time
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&h, &n}, func() error { perHour[h.UTC()] = n; return nil }); err != nil {
		return nil, nil, fmt.Errorf("report series: %w", err)
	}
	buckets := make([]int64, len(lossEdges)+1)
	rows, _ = db.pool.Query(ctx, `SELECT width_bucket(loss_minor, $1::bigint[]) AS b, count(*) FROM reports
		WHERE lost AND loss_minor > 0 GROUP BY 1`, lossUpper(lossEdges))
	var b int
	if _, err := pgx.ForEachRow(rows, []any{&b, &n}, func() error { buckets[min(b, len(buckets)-1)] += n; return nil }); err != nil {
		return nil, nil, fmt.Errorf("report series: %w", err)
	}
	return perHour, buckets, nil
}

// lossUpper turns "at most edge" buckets into width_bucket's lower bounds: a loss of exactly
// edge belongs to the bucket below, so the bounds are edge+1.
func lossUpper(edges []int64) []int64 {
	out := make([]int64, len(edges))
	for i, e := range edges {
		out[i] = e + 1
	}
	return out
}
