package unspoof

import (
	"context"
	"time"
)

// AccountActivity is what one account did, as a suspects ranking reads it: its payments and
// its calls, aggregated by the store in one pass over calls grouped by account.
type AccountActivity struct {
	AccountID  int64
	ExternalID string // the service's own id of the account
	Username   string
	Country    string

	PaidMinor int64 // sum of payments, pence (all currencies treated as GBP)
	Payments  int64
	Calls     int64
	LongCalls int64 // calls longer than the threshold (60 s)
	Victims   int64 // distinct UK numbers (+44) reached by a call longer than the threshold
	Orgs      int64 // distinct organisations impersonated: calls presenting an org's number
	OrgCalls  int64 // calls presenting an organisation's number

	FirstActivity, LastActivity time.Time // first and last payment or call; zero if none

	// LossMinor is the victims' reported losses attributed to the account (pence): each
	// matched report's loss shared among the accounts that called the victim, in proportion to
	// their calls over the threshold (all their calls when none was).
	LossMinor int64
}

// Suspect is one account of the spoofing service as a suspects ranking judged it.
type Suspect struct {
	AccountActivity
	Identified bool    // the Met's 2022 rule: a GB account that paid at least £100
	Rule       string  // "met-2022" or "harm"
	Score      float64 // the harm model's value (computed under every rule)
	Rank       int     // 1-based position in the ranking
	RankedAt   time.Time
}

// SuspectFilter selects suspects.
type SuspectFilter struct {
	Offset int
	Limit  int // 0: no limit
}

// SuspectStore holds the suspects table of one storage engine and the aggregates a suspects
// ranking needs.
type SuspectStore interface {
	// ScanAccountActivity calls fn for each account, in order of ID, with its payments and calls
	// aggregated: one pass over calls grouped by account. A long call lasts more than
	// longerThan.
	ScanAccountActivity(ctx context.Context, longerThan time.Duration, fn func(*AccountActivity) error) error

	// FindPayments returns the payments of an account, oldest first.
	FindPayments(ctx context.Context, accountID int64) ([]*Payment, error)

	// ReplaceSuspects replaces the whole suspects table with ss in one transaction.
	ReplaceSuspects(ctx context.Context, ss []*Suspect) error

	// FindSuspects returns the suspects matching f, in rank order, and how many there are.
	FindSuspects(ctx context.Context, f SuspectFilter) ([]*Suspect, int, error)

	// FindSuspectByAccount returns the suspect whose account has the service's id externalID,
	// or ENOTFOUND.
	FindSuspectByAccount(ctx context.Context, externalID string) (*Suspect, error)
}
