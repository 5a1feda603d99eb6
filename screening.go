package unspoof

import (
	"context"
	"time"
)

// Screening actions: what a network should do with a call.
const (
	ActionAllow = "allow" // put it through
	ActionFlag  = "flag"  // put it through, labelled (e.g. "suspected spam", verstat failed)
	ActionBlock = "block" // decline it
)

// STIR/SHAKEN verification status, as the verstat parameter carries it (3GPP TS 24.229).
const (
	VerstatPassed = "TN-Validation-Passed"
	VerstatFailed = "TN-Validation-Failed"
	VerstatNone   = "No-TN-Validation"
)

// Ingress kinds: where a call entered the network. UK rules treat a UK number presented on an
// international ingress as spoofed, with documented exceptions.
const (
	IngressDomestic      = "domestic"
	IngressInternational = "international"
)

// ScreenRequest is one call a network asks about.
type ScreenRequest struct {
	From     string   // the presented calling number, as signalled (tel:, sip: user part, or digits)
	To       string   // the called number
	Identity []string // SIP Identity header values (RFC 8224), in order; none if unsigned
	Ingress  string   // IngressDomestic or IngressInternational; "" is domestic
	SourceIP string   // the signalling source address, for egress and velocity rules
	Trunk    string   // the ingress trunk or peer name, if known
	CallID   string   // for logs and the answer; never used to decide
	At       time.Time
}

// Reason is one rule's finding about a call.
type Reason struct {
	Code       string // stable machine code: "dno", "invalid-number", "uk-cli-international", "passport-stale"…
	Rule       string // the rule that found it: "dno", "numbering", "ingress", "stirshaken", "egress", "velocity"
	Detail     string // for humans
	ReportOnly bool   // the rule is in report-only mode: recorded, not acted on
}

// Verdict is the answer to a ScreenRequest.
type Verdict struct {
	Action     string // ActionAllow, ActionFlag or ActionBlock
	Reasons    []Reason
	Verstat    string // VerstatPassed, VerstatFailed or VerstatNone
	Attest     string // STIR/SHAKEN attestation of the verified PASSporT: "A", "B", "C" or ""
	OrigID     string // its origid
	SPC        string // service provider code from the signing certificate's TNAuthList
	From, To   string // the numbers in E.164, as screened ("" if not a number)
	FailedOpen bool   // the deadline passed: allowed without a full answer
	Latency    time.Duration
}

// Screener decides about calls; safe for concurrent use.
type Screener interface {
	Screen(ctx context.Context, r *ScreenRequest) *Verdict
}
