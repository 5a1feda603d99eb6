package unspoof

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Campaign states. A campaign moves draft → approved → running ⇄ paused → done, or to
// cancelled from any state but done.
const (
	CampaignDraft     = "draft"     // created, waiting for a second member of staff to approve it
	CampaignApproved  = "approved"  // approved, not started
	CampaignRunning   = "running"   // sending
	CampaignPaused    = "paused"    // stopped by an operator; resume continues where it stopped
	CampaignCancelled = "cancelled" // stopped for good: its pending messages are never sent
	CampaignDone      = "done"      // every message left pending
)

// Message states: the state machine of DESIGN.md. A message only moves forward:
//
//	pending → submitting → submitted → delivered | failed | expired
//	pending → suppressed                 (opted out, cancelled, quiet hours missed, no channel)
//	submitting → failed                  (the SMSC refused it for good)
//	submitting → ambiguous               (the outcome is unknown: link lost, process killed)
//	submitting → pending                 (the SMSC refused it for now, or it never left: retry)
//	ambiguous → pending                  (only when an operator says so: retry-ambiguous)
//
// submitting is written before the PDU leaves, so after a crash a message caught in flight is
// found in that state and made ambiguous: it is never resent unless an operator asks.
const (
	MessagePending    = "pending"
	MessageSubmitting = "submitting"
	MessageSubmitted  = "submitted"
	MessageDelivered  = "delivered"
	MessageFailed     = "failed"
	MessageExpired    = "expired"
	MessageSuppressed = "suppressed"
	MessageAmbiguous  = "ambiguous"
)

// UndeliveredStates are the final states of a message that did not reach its number, and
// ambiguous, which may or may not have: the states whose reasons an operator looks at.
var UndeliveredStates = []string{MessageFailed, MessageExpired, MessageSuppressed, MessageAmbiguous}

// ReasonCount is how many of a campaign's messages ended in State for Reason.
type ReasonCount struct {
	State    string
	Reason   string // the SMSC's error (ESME_…), the receipt's state and error, or ours
	Messages int64
}

// MessageStates lists the message states in the order a status report shows them.
var MessageStates = []string{MessagePending, MessageSubmitting, MessageSubmitted, MessageDelivered,
	MessageFailed, MessageExpired, MessageSuppressed, MessageAmbiguous}

// ErrOptedOut is returned when a message would go to a number that asked for no more messages.
var ErrOptedOut = errors.New("opted out")

// Campaign is one alert sent to a selection of victims (or to a test list of staff phones).
type Campaign struct {
	ID        int64
	Name      string
	Template  string // the message text with {{reference}}, {{org}}, {{portal}}
	SenderID  string // alphanumeric (≤ 11 characters) or a number
	Selection string // the victims selected, as given ("tier=high,channel=sms"); "test-list" for a test
	Test      bool   // to a test list of staff phones: may run without a second approver
	Synthetic bool   // its numbers come from a simulated dataset: never through a real SMSC
	State     string

	// Sending limits, fixed at creation.
	QuietStart, QuietEnd int // send only from QuietStart to QuietEnd o'clock, recipient's local time (9, 20)
	DailyCap             int // messages submitted per UTC day at most; 0: no cap

	CreatedBy  string
	CreatedAt  time.Time
	ApprovedBy string
	ApprovedAt time.Time
	UpdatedAt  time.Time

	// Filled in by FindCampaignByID and FindCampaigns.
	Counts map[string]int64 // messages by state
	Parts  int64            // SMS segments of all its messages
}

// Total returns the number of messages of c.
func (c *Campaign) Total() int64 {
	var n int64
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Message is one text to one number in one campaign: UNIQUE (campaign, number).
type Message struct {
	ID         int64
	CampaignID int64
	E164       string
	Reference  string // the victim's reference code
	Text       string // rendered
	Parts      int    // SMS segments
	TZ         string // the recipient's time zone (IANA) for quiet hours
	State      string
	Reason     string   // why it failed, was suppressed or is ambiguous; the SMSC's status
	SMSCIDs    []string // message ids the SMSC gave, one a part
	Delivered  int      // parts with a receipt saying delivered
	Attempts   int      // submit attempts (throttled and queue-full retries count)
	UpdatedAt  time.Time
	SentAt     time.Time // submitted
	DoneAt     time.Time // delivered, failed or expired
}

// MessageUpdate moves one message from a state to another (see the state machine); the store
// applies it only if the message is still in From, so that a move is never applied twice and
// never backwards.
type MessageUpdate struct {
	ID       int64
	From, To string
	Reason   string
	SMSCIDs  []string // with To = submitted: the SMSC's ids, one a part
	Keys     []string // the forms under which receipts may name those ids (smpp.MessageIDKeys)
	Attempts int      // attempts so far
	At       time.Time
}

// Receipt is a delivery receipt from the SMSC, stored whether or not its message is known yet.
type Receipt struct {
	ID        int64
	SMSCID    string   // as the SMSC named it
	Keys      []string // smpp.MessageIDKeys of SMSCID
	State     string   // the SMSC's word: DELIVRD, UNDELIV, EXPIRED, REJECTD…
	Err       string
	MessageID int64 // the message it was applied to; 0 while held
	At        time.Time
}

// OptOut is a number that asked for no more messages.
type OptOut struct {
	E164   string
	Source string // "sms STOP", "portal", "staff"
	Text   string // what they sent, if by SMS
	At     time.Time
}

// AuditEntry is one thing a member of staff did or saw: every campaign decision and every view
// or export of victims' numbers.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string // "campaign.create", "campaign.approve", "victims.export"…
	Object string // "campaign 3"
	Detail string
}

// Recipient is a victim a campaign can reach, with what its template needs.
type Recipient struct {
	E164      string
	Reference string
	Org       string // the organisation impersonated most often; "" if none
}

// RecipientFilter selects the recipients of a campaign from the victims table. Nil fields are
// not filtered on. Only victims whose status is VictimNew are selected: opted-out numbers and
// numbers with a live message in another (non-test) campaign are always left out.
type RecipientFilter struct {
	Tier    *string
	Channel *string
	Limit   int // 0: all
}

// MessageFilter selects messages of a campaign.
type MessageFilter struct {
	CampaignID int64
	State      *string
	E164       *string
	Offset     int
	Limit      int // 0: all
}

// ClaimFilter says which pending messages a campaign run may claim now.
type ClaimFilter struct {
	CampaignID int64
	TZs        []string // only messages to these time zones (in their sending hours now)
	AfterID    int64    // only messages with a greater id: where the last claim ended (0: from the start)
	Limit      int
}

// CampaignStore keeps campaigns, their messages, receipts, opt-outs and the audit log.
type CampaignStore interface {
	// FindRecipients returns the victims f selects that a new campaign may alert, in rank
	// order.
	FindRecipients(ctx context.Context, f RecipientFilter) ([]*Recipient, error)

	// CreateCampaign stores c (draft) and its messages (pending) in one transaction and sets
	// their IDs. A name already used is ECONFLICT.
	CreateCampaign(ctx context.Context, c *Campaign, ms []*Message) error

	// FindCampaignByID returns a campaign with its counts, or ENOTFOUND.
	FindCampaignByID(ctx context.Context, id int64) (*Campaign, error)

	// FindCampaigns returns every campaign, newest first, with counts.
	FindCampaigns(ctx context.Context) ([]*Campaign, error)

	// CampaignState returns a campaign's state without counting its messages, or ENOTFOUND.
	CampaignState(ctx context.Context, id int64) (string, error)

	// SetCampaignState moves campaign id to state if it is in one of from (ECONFLICT otherwise),
	// recording by as approver when state is approved. Cancelling suppresses its pending
	// messages in the same transaction.
	SetCampaignState(ctx context.Context, id int64, from []string, to, by string, at time.Time) error

	// ClaimMessages moves up to f.Limit pending messages of the campaign to submitting and
	// returns them, oldest first. Messages to opted-out numbers are made suppressed instead
	// (and not returned).
	ClaimMessages(ctx context.Context, f ClaimFilter, at time.Time) ([]*Message, error)

	// PendingTZs returns the time zones of the campaign's pending messages.
	PendingTZs(ctx context.Context, campaignID int64) ([]string, error)

	// UpdateMessages applies us in one transaction, each only if its message is still in its
	// From state; it returns how many were applied. Moves to submitted record the SMSC ids and
	// their keys for matching receipts.
	UpdateMessages(ctx context.Context, us []MessageUpdate) (int, error)

	// ApplyReceipts stores rs and applies each to the submitted message whose SMSC id it
	// matches: a receipt saying delivered counts a part delivered (the message is delivered
	// when all its parts are), one saying undeliverable, rejected or deleted fails it, expired
	// expires it. A receipt no message matches is held, and applied by UpdateMessages when its
	// message is recorded as submitted. It returns how many receipts were applied.
	ApplyReceipts(ctx context.Context, rs []*Receipt) (int, error)

	// MarkAmbiguous moves the campaign's messages left in submitting to ambiguous: what a run
	// found in flight after a crash. It returns how many.
	MarkAmbiguous(ctx context.Context, campaignID int64, reason string, at time.Time) (int, error)

	// RetryAmbiguous moves the campaign's ambiguous messages back to pending.
	RetryAmbiguous(ctx context.Context, campaignID int64, at time.Time) (int, error)

	// AddOptOut records that a number wants no more messages and suppresses its pending
	// messages in every campaign. It returns how many messages it suppressed.
	AddOptOut(ctx context.Context, o *OptOut) (int, error)

	// FindOptOut returns the opt-out of a number, or ENOTFOUND.
	FindOptOut(ctx context.Context, e164 string) (*OptOut, error)

	// FindMessages returns the messages f selects, by id, and how many match in all.
	FindMessages(ctx context.Context, f MessageFilter) ([]*Message, int, error)

	// MessageReasons counts the campaign's messages that ended undelivered or may not have
	// been sent (failed, expired, suppressed, ambiguous) by state and reason, most first.
	MessageReasons(ctx context.Context, campaignID int64) ([]ReasonCount, error)

	// SubmittedSince counts the messages of every campaign submitted at or after t.
	SubmittedSince(ctx context.Context, t time.Time) (int64, error)

	// AcquireRun records holder as the one process running the campaign, unless another holder
	// renewed its claim after stale (ECONFLICT, naming it). ReleaseRun gives it up.
	AcquireRun(ctx context.Context, campaignID int64, holder string, at, stale time.Time) error
	ReleaseRun(ctx context.Context, campaignID int64, holder string) error

	// Audit appends an entry to the audit log; FindAudit returns the newest entries first.
	Audit(ctx context.Context, e *AuditEntry) error
	FindAudit(ctx context.Context, limit int) ([]*AuditEntry, error)
}

// ReceiptOutcome maps an SMSC's final receipt state (SMPP 3.4 message states as the text
// receipt spells them) to the message state it leads to: MessageDelivered, MessageFailed,
// MessageExpired, or "" for a state that is not final (ENROUTE, ACCEPTD).
func ReceiptOutcome(state string) string {
	switch state {
	case "DELIVRD", "DELIVERED":
		return MessageDelivered
	case "EXPIRED":
		return MessageExpired
	case "UNDELIV", "REJECTD", "DELETED", "UNKNOWN", "UNDELIVERABLE", "REJECTED":
		return MessageFailed
	}
	return ""
}

// reasonMeanings says in plain words what the commonest reasons a message did not arrive mean
// to the team running a campaign, keyed by the reason's first word: a receipt's state, an SMPP
// error name, or one of ours.
var reasonMeanings = map[string]string{
	"UNDELIV":          "the network could not deliver it: phone off for days, or the number not in service",
	"EXPIRED":          "the phone stayed unreachable until the SMSC gave up",
	"REJECTD":          "the network refused it (barred number, or content or sender ID filtered)",
	"DELETED":          "the SMSC deleted it before delivery",
	"UNKNOWN":          "the SMSC does not know what became of it",
	"ESME_RINVDSTADR":  "the SMSC says the number is invalid",
	"ESME_RINVSRCADR":  "the SMSC refused the sender ID: check it with the aggregator",
	"ESME_RSUBMITFAIL": "the SMSC could not take it; ask the aggregator",
	"ESME_RSYSERR":     "an error inside the SMSC; ask the aggregator",
	"ESME_RX_P_APPN":   "the SMSC refused it by its own rules (often a sender ID or content filter)",
	"ESME_RX_R_APPN":   "the SMSC refused it by its own rules (often a sender ID or content filter)",
	"ESME_RINVMSGLEN":  "too long for the SMSC: check the template's parts",
	"opted":            "the number asked for no more messages",
	"campaign":         "the campaign was cancelled before it was sent",
	"cannot":           "the text could not be encoded for SMS",
	"stopped":          "the run stopped while the SMSC was throttling: it may have been sent; see retry-ambiguous",
}

// ReasonMeaning returns what a message's failure reason means in plain words, or "" when it is
// not one of the common ones.
func ReasonMeaning(reason string) string {
	first, _, _ := strings.Cut(reason, " ")
	return reasonMeanings[first]
}
