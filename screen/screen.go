// Package screen decides, for each call a network asks about, whether its presented number can
// be trusted: allow, flag or block, with the reasons (unspoof.Verdict). An Engine runs six rules
// in a fixed order, each named and each enforced, report-only or off:
//
//  1. numbering  — From and To normalised with phonenum (exact libphonenumber answers). A
//     presented number that is no number, has an impossible length or lies outside the allocated
//     ranges is blocked (invalid-number, impossible-number); one in a range reserved for drama
//     is flagged (fictional-number). A withheld CLI (empty, "anonymous"…) is not judged.
//  2. dno        — the Do-Not-Originate list (numbers and E.164 prefixes, CSV with a version,
//     replaced atomically while calls are screened): a call presenting one is blocked (dno).
//  3. ingress    — a UK number (+44, not Jersey, Guernsey or the Isle of Man) presented on an
//     international ingress is blocked (uk-cli-international), except on exempt trunks or
//     prefixes; a UK mobile number is flagged instead (uk-mobile-international), for roaming.
//  4. egress     — a call from a known spoofing service's address, network or trunk (CSV list
//     exported from the evidence) is blocked (spoofing-egress).
//  5. stirshaken — the SIP Identity headers, checked by an IdentityVerifier when one is
//     configured: verstat, attestation, origid and SPC are copied to the verdict; a failed
//     verification is flagged (or blocked, if so configured). A call with no Identity header has
//     verstat No-TN-Validation. A call an enforced rule already blocks is not verified.
//  6. velocity   — calls and distinct destinations per minute from one presented number and
//     from one source address, in sliding windows of fixed memory; over a threshold the call is
//     flagged (velocity).
//
// A report-only rule adds its reasons with ReportOnly set and leaves the action alone. The
// verdict's action is the strongest of the enforced reasons' actions (block > flag > allow).
//
// Screening an unsigned call allocates nothing beyond the Verdict (ScreenInto: nothing at all)
// and takes about a microsecond. Only verification can wait (for a certificate): a per-request
// deadline (DefaultDeadline) bounds it, after which the call fails open: ActionAllow,
// FailedOpen, reason deadline.
//
// Server serves any unspoof.Screener over HTTP/JSON (POST /v1/screen, GET /healthz, GET
// /metrics); docs/api/screen.openapi.json describes it and docs/api/screen.md the rules, codes,
// list formats and metrics.
package screen

import (
	"context"
	"time"

	"github.com/unspoof/unspoof"
)

// Rule names, in the order the Engine applies them.
const (
	RuleNumbering  = "numbering"
	RuleDNO        = "dno"
	RuleIngress    = "ingress"
	RuleEgress     = "egress"
	RuleStirShaken = "stirshaken"
	RuleVelocity   = "velocity"
)

// Rules lists every rule name, in the order the Engine applies them.
var Rules = []string{RuleNumbering, RuleDNO, RuleIngress, RuleEgress, RuleStirShaken, RuleVelocity}

// Reason codes the Engine gives (unspoof.Reason.Code). A verifier may add its own codes under
// rule stirshaken ("passport-stale"…).
const (
	CodeInvalidNumber         = "invalid-number"          // numbering: no number, or not in an allocated range: block
	CodeImpossibleNumber      = "impossible-number"       // numbering: a length that cannot be dialled: block
	CodeFictionalNumber       = "fictional-number"        // numbering: a range reserved for drama: flag
	CodeDNO                   = "dno"                     // dno: on the Do-Not-Originate list: block
	CodeUKCLIInternational    = "uk-cli-international"    // ingress: UK number from abroad: block
	CodeUKMobileInternational = "uk-mobile-international" // ingress: UK mobile number from abroad: flag (roaming)
	CodeSpoofingEgress        = "spoofing-egress"         // egress: from a known spoofing service: block
	CodeStirShakenFailed      = "stirshaken-failed"       // stirshaken: verification failed (the verifier gave no reason of its own)
	CodeVelocity              = "velocity"                // velocity: over a per-minute threshold: flag
	CodeDeadline              = "deadline"                // the deadline passed: allowed, FailedOpen
)

// RuleDeadline is the Rule of the deadline reason: the engine itself, not one of Rules.
const RuleDeadline = "screen"

// Mode says what a rule's findings do.
type Mode string

// Rule modes.
const (
	ModeEnforce    Mode = "enforce"     // its reasons set the action (the default)
	ModeReportOnly Mode = "report-only" // its reasons are recorded with ReportOnly and do not change the action
	ModeOff        Mode = "off"         // the rule does not run
)

// Defaults of Config's zero fields.
const (
	DefaultRegion   = "GB"
	DefaultDeadline = 50 * time.Millisecond

	DefaultNumberCalls        = 60  // calls a minute from one presented number
	DefaultNumberDestinations = 30  // distinct numbers called a minute from one presented number
	DefaultIPCalls            = 600 // calls a minute from one source address
	DefaultIPDestinations     = 300 // distinct numbers called a minute from one source address
	DefaultTrackedNumbers     = 1 << 16
	DefaultTrackedIPs         = 1 << 12

	// MaxDestinations is the highest distinct-destination threshold the velocity rule's
	// fixed-size estimate (linear counting over at most 1,024 bits) can tell apart.
	MaxDestinations = 500
)

// IdentityResult is what an IdentityVerifier found in a call's Identity headers. Its fields are
// those of stirshaken.IdentityResult, in the same order, so one converts to the other.
type IdentityResult struct {
	Verstat string           // unspoof.VerstatPassed, VerstatFailed or VerstatNone
	Attest  string           // "A", "B", "C" or ""
	OrigID  string           // the PASSporT's origid
	SPC     string           // service provider code of the signing certificate
	Reasons []unspoof.Reason // what the verifier found (stale, wrong orig…)
}

// IdentityVerifier verifies the SIP Identity headers of a call from and to the given E.164
// numbers ("" when one is not a number). It must honour ctx's deadline; the Engine stops
// waiting at the deadline either way.
type IdentityVerifier interface {
	VerifyCall(ctx context.Context, identity []string, from, to string) IdentityResult
}

// VerifierFunc is a function that is an IdentityVerifier.
type VerifierFunc func(ctx context.Context, identity []string, from, to string) IdentityResult

// VerifyCall calls f.
func (f VerifierFunc) VerifyCall(ctx context.Context, identity []string, from, to string) IdentityResult {
	return f(ctx, identity, from, to)
}

// Mask returns a phone number fit for logs above debug level: its first five and last three
// characters ("+4477…123"); short strings become "…".
func Mask(number string) string {
	if len(number) < 10 {
		return "…"
	}
	return number[:5] + "…" + number[len(number)-3:]
}
