package unspoof

import (
	"context"
	"time"
)

// Report statuses.
const (
	ReportNew       = "new"       // stored, not yet linked
	ReportMatched   = "matched"   // linked to a victim (and through it to calls and accounts)
	ReportUnmatched = "unmatched" // neither its reference nor its number is in the evidence: for a human
	ReportReviewed  = "reviewed"  // a member of staff has dealt with it
)

// How a report was matched to a victim.
const (
	MatchReference = "reference" // by the reference code of the alert
	MatchNumber    = "number"    // by the number that received the call
)

// Report is what a member of the public told us on the portal. Everything they typed is kept as
// typed, next to what we made of it.
type Report struct {
	ID     int64
	Number string // the public report number ("R-7K3QX9PA"), shown on the confirmation page

	ReferenceGiven string    // the reference code as typed ("" if they had none)
	Reference      string    // … normalised, "" if it is not a well-formed code
	PhoneGiven     string    // the number that received the call, as typed
	E164           string    // … normalised, "" if it is not a number
	CalledOn       time.Time // the day of the call, as they remember it (zero if not given)
	OrgClaimed     string    // who the caller claimed to be
	Lost           bool      // money was lost
	LossMinor      int64     // how much, in pence
	PaidBy         string    // how it was paid: bank-transfer, card, cash, crypto, gift-cards, other
	Story          string    // what happened, in their words
	ContactBy      string    // phone, email or none
	Contact        string    // the phone number or email address to use
	Consent        bool      // agreed that we keep and use what they told us
	CreatedAt      time.Time

	Status      string // ReportNew, ReportMatched, ReportUnmatched, ReportReviewed
	Match       string // MatchReference, MatchNumber or ""
	VictimE164  string // the victim it was linked to
	LinkedCalls int    // calls to that victim
	Accounts    []*ReportAccount
}

// ReportAccount is an account a report was linked to, through the calls it made to the victim,
// with the share of the report's loss attributed to it.
type ReportAccount struct {
	AccountID  int64
	ExternalID string
	Calls      int   // calls it made to the victim
	LossMinor  int64 // the loss attributed to it
}

// ReportFilter selects reports. Nil fields are not filtered on.
type ReportFilter struct {
	Status *string
	Offset int
	Limit  int // 0: all
}

// ReportLink is what linking found for one report.
type ReportLink struct {
	ReportID   int64
	Status     string // ReportMatched or ReportUnmatched
	Match      string
	VictimE164 string
	CallIDs    []int64
	Accounts   []*ReportAccount
}

// ReportStore keeps the public's reports and their links to the evidence.
type ReportStore interface {
	// CreateReport stores a new report (status new) and sets its ID.
	CreateReport(ctx context.Context, r *Report) error
	// FindReportByID returns a report with its links, or ENOTFOUND.
	FindReportByID(ctx context.Context, id int64) (*Report, error)
	// FindReports returns the reports f selects, newest first, and how many match in all.
	FindReports(ctx context.Context, f ReportFilter) ([]*Report, int, error)
	// FindVictimByCode returns the victim with reference code code (normalised), or ENOTFOUND.
	FindVictimByCode(ctx context.Context, code string) (*Victim, error)
	// SaveReportLink records what linking found, replacing any earlier link of the report, and
	// adds the attributed losses to the suspects table's linked losses.
	SaveReportLink(ctx context.Context, l *ReportLink) error
	// ReportsToLink returns up to limit reports still new, oldest first.
	ReportsToLink(ctx context.Context, limit int) ([]*Report, error)
	// SetReportStatus sets a report's status (a member of staff reviewed it).
	SetReportStatus(ctx context.Context, id int64, status string) error
	// Figures computes the headline figures; the evidence's own (calls, UK numbers, long calls)
	// only when evidence is true, as they read every call.
	Figures(ctx context.Context, evidence bool) (*Figures, error)
	// CallsPerDay counts the calls of each UTC day, oldest first (a scan of every call).
	CallsPerDay(ctx context.Context) ([]DayCount, error)
	// ReportSeries counts the reports received in each hour since since (keyed by the hour's
	// start, UTC), and the reports with a loss by size: buckets[i] counts losses at most
	// lossEdges[i] pence (and above lossEdges[i-1]); the last bucket is everything above.
	ReportSeries(ctx context.Context, since time.Time, lossEdges []int64) (perHour map[time.Time]int64, buckets []int64, err error)
}

// DayCount is how many calls were made on one day.
type DayCount struct {
	Day   time.Time
	Calls int64
}

// Staff roles, from the least to the most trusted.
const (
	RoleComms      = "comms"      // headline figures and campaign progress; no personal data
	RoleAnalyst    = "analyst"    // reports, victims, suspects, exports
	RoleSupervisor = "supervisor" // an analyst who also approves campaigns
	RoleAdmin      = "admin"      // staff accounts and the audit log
)

// Roles lists the staff roles.
var Roles = []string{RoleComms, RoleAnalyst, RoleSupervisor, RoleAdmin}

// Staff is a member of staff who may log in to the dashboard.
type Staff struct {
	ID           int64
	Username     string
	Name         string
	Role         string
	PasswordHash string // argon2id, PHC string format
	FailedLogins int
	LockedUntil  time.Time
	DisabledAt   time.Time // zero: may sign in
	CreatedAt    time.Time
}

// Session is a logged-in member of staff. Only a hash of its token is stored.
type Session struct {
	TokenHash string
	StaffID   int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// StaffStore keeps staff accounts and their sessions.
type StaffStore interface {
	CreateStaff(ctx context.Context, s *Staff) error // ECONFLICT if the username is taken
	FindStaffByUsername(ctx context.Context, username string) (*Staff, error)
	FindStaffByID(ctx context.Context, id int64) (*Staff, error)
	// FindStaff returns every member of staff, disabled ones too, by username.
	FindStaff(ctx context.Context) ([]*Staff, error)
	// SetStaffLogin records the outcome of a login attempt: failed count and lockout.
	SetStaffLogin(ctx context.Context, id int64, failed int, lockedUntil time.Time) error
	// SetStaffDisabled disables a member of staff from at, ending their sessions in the same
	// transaction, or enables them again when at is zero. ENOTFOUND if there is no such id.
	SetStaffDisabled(ctx context.Context, id int64, at time.Time) error
	// SetStaffPassword replaces a member of staff's password hash, clears their failed logins
	// and lockout, and ends their sessions, in one transaction. ENOTFOUND if there is no such id.
	SetStaffPassword(ctx context.Context, id int64, hash string) error
	CreateSession(ctx context.Context, s *Session) error
	// FindSession returns an unexpired session of a member of staff who is not disabled, and
	// that member of staff, or EUNAUTHORIZED.
	FindSession(ctx context.Context, tokenHash string, now time.Time) (*Session, *Staff, error)
	DeleteSession(ctx context.Context, tokenHash string) error
}

// Figures are the headline figures of a case, as a press release would quote them.
type Figures struct {
	Calls           int64 // calls in the evidence
	UKNumbers       int64 // distinct UK numbers called
	LongCalls       int64 // calls to UK numbers over a minute
	Victims         int64 // numbers in the victims ranking
	Alerted         int64 // numbers sent an alert (submitted or delivered)
	Delivered       int64 // … delivered
	Reports         int64 // reports received
	ReportsMatched  int64
	LossTotalMinor  int64 // reported losses
	LossMaxMinor    int64
	ReportsWithLoss int64
	Suspects        int64 // identified suspects (the met-2022 rule's)
	ComputedAt      time.Time
}

// LossAvgMinor returns the average reported loss of the reports with a loss.
func (f *Figures) LossAvgMinor() int64 {
	if f.ReportsWithLoss == 0 {
		return 0
	}
	return f.LossTotalMinor / f.ReportsWithLoss
}
