package unspoof

import (
	"context"
	"time"
)

// Victim statuses. A store derives a victim's status from the opt-outs and the campaigns'
// messages each time it reads the victim, by the one rule campaign selection applies
// (CampaignStore.FindRecipients takes only VictimNew): a ranking neither sets nor resets it, so
// a number that opted out or was alerted never comes back as new.
const (
	VictimNew      = "new"       // may be alerted by the next campaign
	VictimAlerted  = "alerted"   // has a message in a campaign (not a test) that alerts or may have alerted it: pending, submitting, submitted, delivered or ambiguous
	VictimOptedOut = "opted-out" // asked for no more messages (STOP, the portal's opt-out page, staff)
)

// VictimStatuses lists the victim statuses.
var VictimStatuses = []string{VictimNew, VictimAlerted, VictimOptedOut}

// Alert channels of a victim.
const (
	ChannelSMS    = "sms"    // a mobile
	ChannelLetter = "letter" // a fixed line or other valid non-mobile number: letter (or phone list)
	ChannelNone   = "none"   // invalid, fictional or (unless asked) outside the UK
)

// Victim is one number the spoofing service called, as a ranking rule judged it: what the
// evidence says about its calls, its score, tier, alert channel and reference code.
type Victim struct {
	E164      string
	Region    string // ISO region of the number ("GB")
	LineType  string // phonenum.LineType name
	Valid     bool
	Fictional bool // in a range reserved for drama (phonenum.IsFictional)

	Calls               int64         // calls to the number
	AnsweredCalls       int64         // … that lasted more than 0 s
	LongCalls           int64         // … that lasted more than the rule's threshold (60 s)
	TalkTime            time.Duration // sum of the calls' durations
	LongestCall         time.Duration
	FirstCall, LastCall time.Time
	Accounts            int64 // distinct accounts that called it
	LongAccounts        int64 // … with a call over the threshold
	CallerLongCalls     int64 // most calls over the threshold by any one account: how far one caller took it
	// EndedLongCall is, of the accounts whose last call to the number lasted over the
	// threshold, the longest such last call; 0 when every caller's last call was short (or there
	// was no long call). A caller who stops after a long conversation did not need to call again.
	EndedLongCall       time.Duration
	Orgs                int64  // distinct organisations impersonated (presented CLI of an org's number)
	Org                 string // the organisation impersonated in most calls ("" when none): {{org}} of an alert
	OrgCalls            int64  // calls presenting an organisation's number
	BankCalls           int64  // … of a bank
	IdentifiedLongCalls int64  // calls over the threshold by identified suspects (UK users who paid ≥ £100)
	Identified          bool   // IdentifiedLongCalls > 0: the Met's 2022 rule selects the number

	Rule     string  // the rule that ranked it: "met-2022" or "score"
	Score    float64 // the score model's value (computed under every rule)
	Rank     int     // 1-based position in the ranking
	Tier     string  // "high", "medium", "low"
	Channel  string  // ChannelSMS, ChannelLetter, ChannelNone
	Code     string  // reference code, given once per number and never changed ("K7QM-3XHT-9PXC")
	Status   string  // VictimNew, VictimAlerted or VictimOptedOut: derived when read, not stored
	RankedAt time.Time
}

// CallGroup is what the calls to one number from one account presenting one CLI add up to:
// the unit a ranking aggregates.
type CallGroup struct {
	Callee      Phone // E164, Region, LineType, Valid
	AccountID   int64
	CLI         string // the presented number, E.164; "" when it was no possible number
	Calls       int64
	Answered    int64 // calls longer than 0 s
	LongCalls   int64 // calls longer than CallGroupFilter.LongerThan
	TalkTime    time.Duration
	LongestCall time.Duration
	FirstCall   time.Time
	LastCall    time.Time
	// LastLongCall is when the last of the LongCalls started; zero when there were none. With
	// LastCall it says whether the account's last call to the number was a long one.
	LastLongCall     time.Time
	LastLongDuration time.Duration // how long that call lasted
}

// CallGroupFilter selects what ScanCallGroups reads.
type CallGroupFilter struct {
	Prefix     string        // E.164 prefix of the callees ("+44"); "" for all
	LongerThan time.Duration // threshold of LongCalls
}

// VictimFilter selects victims. Nil fields are not filtered on.
type VictimFilter struct {
	Tier    *string
	Channel *string
	Status  *string
	Offset  int
	Limit   int // 0: no limit
}

// VictimStore holds the victims table of one storage engine and the aggregates a ranking
// needs.
type VictimStore interface {
	// ScanCallGroups calls fn for each group of calls to a number matching f, grouped by callee,
	// account and presented CLI, in order of callee: one pass over calls.
	ScanCallGroups(ctx context.Context, f CallGroupFilter, fn func(*CallGroup) error) error

	// OrgsByNumber maps every organisation's number (E.164) to its organisation (the one with
	// the lowest ID if several share it).
	OrgsByNumber(ctx context.Context) (map[string]*Org, error)

	// IdentifiedAccounts returns the ids of the accounts of country whose payments add up to at
	// least minPaid (pence).
	IdentifiedAccounts(ctx context.Context, country string, minPaid int64) (map[int64]bool, error)

	// ReplaceVictims replaces the whole victims table with vs in one transaction. A number that
	// was ever given a reference code keeps it; the others get one from newCode (retried while
	// it collides with an existing code). vs's Code fields are set.
	ReplaceVictims(ctx context.Context, vs []*Victim, newCode func() string) error

	// FindVictims returns the victims matching f, in rank order, and how many match in all.
	FindVictims(ctx context.Context, f VictimFilter) ([]*Victim, int, error)

	// FindVictimByNumber returns the victim with E.164 number e164, or ENOTFOUND.
	FindVictimByNumber(ctx context.Context, e164 string) (*Victim, error)
}
