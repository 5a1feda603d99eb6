package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/unspoof/unspoof"
)

var (
	_ unspoof.ReportStore = (*DB)(nil)
	_ unspoof.StaffStore  = (*DB)(nil)
)

const reportCols = `id, number, reference_given, reference, phone_given, e164, called_on, org_claimed, lost, loss_minor,
	paid_by, story, contact_by, contact, consent, created_at, status, match, victim_e164, linked_calls`

func scanReport(row interface{ Scan(...any) error }) (*unspoof.Report, error) {
	var r unspoof.Report
	var calledOn string
	var created int64
	if err := row.Scan(&r.ID, &r.Number, &r.ReferenceGiven, &r.Reference, &r.PhoneGiven, &r.E164, &calledOn, &r.OrgClaimed,
		&r.Lost, &r.LossMinor, &r.PaidBy, &r.Story, &r.ContactBy, &r.Contact, &r.Consent, &created, &r.Status, &r.Match,
		&r.VictimE164, &r.LinkedCalls); err != nil {
		return nil, err
	}
	if calledOn != "" {
		r.CalledOn, _ = time.Parse(time.DateOnly, calledOn)
	}
	r.CreatedAt = time.UnixMilli(created).UTC()
	return &r, nil
}

// CreateReport stores a new report.
func (db *DB) CreateReport(ctx context.Context, r *unspoof.Report) error {
	calledOn := ""
	if !r.CalledOn.IsZero() {
		calledOn = r.CalledOn.Format(time.DateOnly)
	}
	r.Status = unspoof.ReportNew
	err := db.w.QueryRowContext(ctx, `INSERT INTO reports (number, reference_given, reference, phone_given, e164, called_on,
		org_claimed, lost, loss_minor, paid_by, story, contact_by, contact, consent, created_at, status)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
		r.Number, r.ReferenceGiven, r.Reference, r.PhoneGiven, r.E164, calledOn, r.OrgClaimed, r.Lost, r.LossMinor, r.PaidBy,
		r.Story, r.ContactBy, r.Contact, r.Consent, ms(r.CreatedAt), r.Status).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create report: %w", translate(err))
	}
	return nil
}

// FindReportByID returns a report with its linked accounts, or ENOTFOUND.
func (db *DB) FindReportByID(ctx context.Context, id int64) (*unspoof.Report, error) {
	r, err := scanReport(db.r.QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no report %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("find report: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT ra.account_id, a.external_id, ra.calls, ra.loss_minor
		FROM report_accounts ra JOIN accounts a ON a.id = ra.account_id WHERE ra.report_id = ? ORDER BY ra.calls DESC, a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("find report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a unspoof.ReportAccount
		if err := rows.Scan(&a.AccountID, &a.ExternalID, &a.Calls, &a.LossMinor); err != nil {
			return nil, err
		}
		r.Accounts = append(r.Accounts, &a)
	}
	return r, rows.Err()
}

// FindReports returns the reports f selects, newest first, and how many match in all.
func (db *DB) FindReports(ctx context.Context, f unspoof.ReportFilter) ([]*unspoof.Report, int, error) {
	where, args := "", []any{}
	if f.Status != nil {
		where, args = " WHERE status = ?", append(args, *f.Status)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM reports`+where, args...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("find reports: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+reportCols+` FROM reports`+where+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, cmpLimit(f.Limit), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("find reports: %w", err)
	}
	defer rows.Close()
	var out []*unspoof.Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("find reports: %w", err)
		}
		out = append(out, r)
	}
	return out, n, rows.Err()
}

// FindVictimByCode returns the victim with reference code code, or ENOTFOUND.
func (db *DB) FindVictimByCode(ctx context.Context, code string) (*unspoof.Victim, error) {
	v, err := scanVictim(db.r.QueryRowContext(ctx, `SELECT `+victimSelectCols+` FROM victims v WHERE v.code = ?`, code))
	if err == sql.ErrNoRows {
		// A code given once keeps naming its number after a re-ranking dropped it.
		var e164 string
		if err := db.r.QueryRowContext(ctx, `SELECT e164 FROM victim_codes WHERE code = ?`, code).Scan(&e164); err == nil {
			return &unspoof.Victim{E164: e164, Code: code}, nil
		}
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no victim has that reference")
	} else if err != nil {
		return nil, fmt.Errorf("find victim by code: %w", err)
	}
	return v, nil
}

// SaveReportLink records what linking found for a report, replacing any earlier link, and keeps
// the suspects table's linked losses in step.
func (db *DB) SaveReportLink(ctx context.Context, l *unspoof.ReportLink) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save report link: %w", err)
	}
	defer tx.Rollback()
	var old []int64
	rows, err := tx.QueryContext(ctx, `SELECT account_id FROM report_accounts WHERE report_id = ?`, l.ReportID)
	if err != nil {
		return fmt.Errorf("save report link: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		old = append(old, id)
	}
	rows.Close()
	for _, q := range []string{`DELETE FROM report_accounts WHERE report_id = ?`, `DELETE FROM report_calls WHERE report_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, l.ReportID); err != nil {
			return fmt.Errorf("save report link: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE reports SET status = ?, match = ?, victim_e164 = ?, linked_calls = ? WHERE id = ?`,
		l.Status, l.Match, l.VictimE164, len(l.CallIDs), l.ReportID)
	if err != nil {
		return fmt.Errorf("save report link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return unspoof.Errorf(unspoof.ENOTFOUND, "no report %d", l.ReportID)
	}
	for _, c := range l.CallIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_calls (report_id, call_id) VALUES (?, ?)`, l.ReportID, c); err != nil {
			return fmt.Errorf("save report link: %w", translate(err))
		}
	}
	for _, a := range l.Accounts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_accounts (report_id, account_id, calls, loss_minor) VALUES (?,?,?,?)`,
			l.ReportID, a.AccountID, a.Calls, a.LossMinor); err != nil {
			return fmt.Errorf("save report link: %w", translate(err))
		}
		old = append(old, a.AccountID)
	}
	for _, id := range old {
		if _, err := tx.ExecContext(ctx, `UPDATE suspects SET loss_minor =
			(SELECT coalesce(sum(loss_minor), 0) FROM report_accounts WHERE account_id = ?) WHERE account_id = ?`, id, id); err != nil {
			return fmt.Errorf("save report link: %w", err)
		}
	}
	return tx.Commit()
}

// ReportsToLink returns up to limit new reports, oldest first.
func (db *DB) ReportsToLink(ctx context.Context, limit int) ([]*unspoof.Report, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+reportCols+` FROM reports WHERE status = 'new' ORDER BY id LIMIT ?`, cmpLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("reports to link: %w", err)
	}
	defer rows.Close()
	var out []*unspoof.Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetReportStatus sets a report's status.
func (db *DB) SetReportStatus(ctx context.Context, id int64, status string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE reports SET status = ? WHERE id = ?`, status, id)
	if err != nil {
		return fmt.Errorf("report status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return unspoof.Errorf(unspoof.ENOTFOUND, "no report %d", id)
	}
	return nil
}

// Figures computes the headline figures. The evidence part (calls, UK numbers, long calls)
// reads every call: callers cache it (web does).
func (db *DB) Figures(ctx context.Context, evidence bool) (*unspoof.Figures, error) {
	f := &unspoof.Figures{ComputedAt: db.Now().UTC()}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	defer tx.Rollback()
	qs := []struct {
		q    string
		dest []any
	}{
		{`SELECT count(*) FROM victims`, []any{&f.Victims}},
		{`SELECT count(DISTINCT e164) FILTER (WHERE state IN ('submitted','delivered')),
			count(DISTINCT e164) FILTER (WHERE state = 'delivered') FROM messages`, []any{&f.Alerted, &f.Delivered}},
		{`SELECT count(*), count(*) FILTER (WHERE status = 'matched'), coalesce(sum(loss_minor) FILTER (WHERE lost), 0),
			coalesce(max(loss_minor), 0), count(*) FILTER (WHERE lost AND loss_minor > 0) FROM reports`,
			[]any{&f.Reports, &f.ReportsMatched, &f.LossTotalMinor, &f.LossMaxMinor, &f.ReportsWithLoss}},
		{`SELECT count(*) FILTER (WHERE identified) FROM suspects`, []any{&f.Suspects}},
	}
	if evidence {
		qs = append(qs, struct {
			q    string
			dest []any
		}{`SELECT count(*), count(DISTINCT callee_e164) FILTER (WHERE callee_e164 LIKE '+44%'),
			count(*) FILTER (WHERE callee_e164 LIKE '+44%' AND duration_s > 60) FROM calls`, []any{&f.Calls, &f.UKNumbers, &f.LongCalls}})
	}
	for _, q := range qs {
		if err := tx.QueryRowContext(ctx, q.q).Scan(q.dest...); err != nil {
			return nil, fmt.Errorf("figures: %w", err)
		}
	}
	return f, nil
}

// CreateStaff adds a member of staff.
func (db *DB) CreateStaff(ctx context.Context, s *unspoof.Staff) error {
	err := db.w.QueryRowContext(ctx, `INSERT INTO staff (username, name, role, password_hash, created_at) VALUES (?,?,?,?,?) RETURNING id`,
		s.Username, s.Name, s.Role, s.PasswordHash, s.CreatedAt.Unix()).Scan(&s.ID)
	if unspoof.ErrorCode(translate(err)) == unspoof.ECONFLICT {
		return unspoof.Errorf(unspoof.ECONFLICT, "there is already a member of staff called %q", s.Username)
	} else if err != nil {
		return fmt.Errorf("create staff: %w", err)
	}
	return nil
}

const staffCols = `id, username, name, role, password_hash, failed_logins, locked_until, disabled_at, created_at`

func scanStaff(row interface{ Scan(...any) error }) (*unspoof.Staff, error) {
	var s unspoof.Staff
	var locked, created int64
	var disabled sql.NullInt64
	if err := row.Scan(&s.ID, &s.Username, &s.Name, &s.Role, &s.PasswordHash, &s.FailedLogins, &locked, &disabled, &created); err != nil {
		return nil, err
	}
	if locked > 0 {
		s.LockedUntil = time.Unix(locked, 0).UTC()
	}
	s.DisabledAt, s.CreatedAt = timeOrZero(disabled), time.Unix(created, 0).UTC()
	return &s, nil
}

// FindStaff returns every member of staff, by username.
func (db *DB) FindStaff(ctx context.Context) ([]*unspoof.Staff, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+staffCols+` FROM staff ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("find staff: %w", err)
	}
	defer rows.Close()
	var out []*unspoof.Staff
	for rows.Next() {
		s, err := scanStaff(rows)
		if err != nil {
			return nil, fmt.Errorf("find staff: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SetStaffDisabled disables a member of staff from at and ends their sessions, or enables them
// when at is zero.
func (db *DB) SetStaffDisabled(ctx context.Context, id int64, at time.Time) error {
	return db.staffChange(ctx, id, `UPDATE staff SET disabled_at = ? WHERE id = ?`, unixOrNull(at), id)
}

// SetStaffPassword replaces a password hash, clears failed logins and lockout, and ends the
// member of staff's sessions.
func (db *DB) SetStaffPassword(ctx context.Context, id int64, hash string) error {
	return db.staffChange(ctx, id, `UPDATE staff SET password_hash = ?, failed_logins = 0, locked_until = 0 WHERE id = ?`, hash, id)
}

// staffChange runs update on staff member id and ends their sessions, in one transaction.
func (db *DB) staffChange(ctx context.Context, id int64, update string, args ...any) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, update, args...)
	if err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return unspoof.Errorf(unspoof.ENOTFOUND, "no such member of staff")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE staff_id = ?`, id); err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	return tx.Commit()
}

// FindStaffByUsername returns a member of staff, or ENOTFOUND.
func (db *DB) FindStaffByUsername(ctx context.Context, username string) (*unspoof.Staff, error) {
	s, err := scanStaff(db.w.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE username = ?`, username))
	if err == sql.ErrNoRows {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no such member of staff")
	} else if err != nil {
		return nil, fmt.Errorf("find staff: %w", err)
	}
	return s, nil
}

// FindStaffByID returns a member of staff, or ENOTFOUND.
func (db *DB) FindStaffByID(ctx context.Context, id int64) (*unspoof.Staff, error) {
	s, err := scanStaff(db.r.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, unspoof.Errorf(unspoof.ENOTFOUND, "no such member of staff")
	} else if err != nil {
		return nil, fmt.Errorf("find staff: %w", err)
	}
	return s, nil
}

// SetStaffLogin records the outcome of a login attempt.
func (db *DB) SetStaffLogin(ctx context.Context, id int64, failed int, lockedUntil time.Time) error {
	var locked int64
	if !lockedUntil.IsZero() {
		locked = lockedUntil.Unix()
	}
	if _, err := db.w.ExecContext(ctx, `UPDATE staff SET failed_logins = ?, locked_until = ? WHERE id = ?`, failed, locked, id); err != nil {
		return fmt.Errorf("staff login: %w", err)
	}
	return nil
}

// CreateSession stores a session.
func (db *DB) CreateSession(ctx context.Context, s *unspoof.Session) error {
	if _, err := db.w.ExecContext(ctx, `INSERT INTO sessions (token_hash, staff_id, created_at, expires_at) VALUES (?,?,?,?)`,
		s.TokenHash, s.StaffID, s.CreatedAt.Unix(), s.ExpiresAt.Unix()); err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	return nil
}

// FindSession returns an unexpired session and its member of staff, or EUNAUTHORIZED.
func (db *DB) FindSession(ctx context.Context, tokenHash string, now time.Time) (*unspoof.Session, *unspoof.Staff, error) {
	var se unspoof.Session
	var st unspoof.Staff
	var created, expires, locked, staffCreated int64
	err := db.r.QueryRowContext(ctx, `SELECT s.token_hash, s.staff_id, s.created_at, s.expires_at, st.id, st.username, st.name,
		st.role, st.password_hash, st.failed_logins, st.locked_until, st.created_at
		FROM sessions s JOIN staff st ON st.id = s.staff_id
		WHERE s.token_hash = ? AND s.expires_at > ? AND st.disabled_at IS NULL`, tokenHash, now.Unix()).
		Scan(&se.TokenHash, &se.StaffID, &created, &expires, &st.ID, &st.Username, &st.Name, &st.Role, &st.PasswordHash,
			&st.FailedLogins, &locked, &staffCreated)
	if err == sql.ErrNoRows {
		return nil, nil, unspoof.Errorf(unspoof.EUNAUTHORIZED, "not logged in")
	} else if err != nil {
		return nil, nil, fmt.Errorf("find session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	if locked > 0 {
		st.LockedUntil = time.Unix(locked, 0).UTC()
	}
	st.CreatedAt = time.Unix(staffCreated, 0).UTC()
	return &se, &st, nil
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// CallsPerDay counts the calls of each UTC day, oldest first: a scan of every call.
func (db *DB) CallsPerDay(ctx context.Context) ([]unspoof.DayCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT started_at / 86400, count(*) FROM calls GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("calls per day: %w", err)
	}
	defer rows.Close()
	var out []unspoof.DayCount
	for rows.Next() {
		var d, n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out = append(out, unspoof.DayCount{Day: time.Unix(d*86400, 0).UTC(), Calls: n})
	}
	return out, rows.Err()
}

// ReportSeries counts reports by hour since since, and losses by size.
func (db *DB) ReportSeries(ctx context.Context, since time.Time, lossEdges []int64) (map[time.Time]int64, []int64, error) {
	perHour := map[time.Time]int64{}
	rows, err := db.r.QueryContext(ctx, `SELECT created_at / 3600000, count(*) FROM reports WHERE created_at >= ? GROUP BY 1`, ms(since))
	if err != nil {
		return nil, nil, fmt.Errorf("report series: %w", err)
	}
	for rows.Next() {
		var h, n int64
		if err := rows.Scan(&h, &n); err != nil {
			rows.Close()
			return nil, nil, err
		}
		perHour[time.Unix(h*3600, 0).UTC()] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	buckets := make([]int64, len(lossEdges)+1)
	rows, err = db.r.QueryContext(ctx, `SELECT loss_minor, count(*) FROM reports WHERE lost AND loss_minor > 0 GROUP BY 1`)
	if err != nil {
		return nil, nil, fmt.Errorf("report series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var loss, n int64
		if err := rows.Scan(&loss, &n); err != nil {
			return nil, nil, err
		}
		i := 0
		for i < len(lossEdges) && loss > lossEdges[i] {
			i++
		}
		buckets[i] += n
	}
	return perHour, buckets, rows.Err()
}
