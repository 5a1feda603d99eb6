package screen

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
)

// Config says how an Engine screens. Zero fields get the defaults named beside them.
type Config struct {
	// Region is the region numbers without an international prefix are read as dialled in
	// (DefaultRegion, GB).
	Region string
	// Deadline bounds the time to a verdict that waits for the IdentityVerifier
	// (DefaultDeadline, 50 ms); past it the call fails open. Negative: wait as long as ctx allows.
	Deadline time.Duration
	// Now is the clock of the velocity windows for requests without At (time.Now).
	Now func() time.Time
	// Modes sets rules (by name: Rules) to ModeReportOnly or ModeOff; the others are enforced.
	Modes map[string]Mode

	// DNO and Egress are the lists to start with (none if nil); Engine.SetDNO, LoadDNO,
	// SetEgress and LoadEgress replace them while the engine runs.
	DNO    *DNOList    // numbers and ranges that never call out
	Egress *EgressList // spoofing services' addresses and trunks

	// Verifier checks Identity headers; nil leaves signed calls unverified (No-TN-Validation).
	Verifier IdentityVerifier
	// VerifyFailAction is what a failed verification does: unspoof.ActionFlag (default) or
	// ActionBlock.
	VerifyFailAction string

	Ingress  IngressConfig  // the ingress rule's exceptions
	Velocity VelocityConfig // the velocity rule's thresholds and memory

	// Metrics, if set, registers the engine's Prometheus metrics (metrics.go) there.
	Metrics prometheus.Registerer
	// Logger logs list loads; and, at debug level only, verdicts with full numbers.
	Logger *slog.Logger
}

// IngressConfig holds the documented exceptions of the ingress rule (Ofcom's guidance on calls
// from abroad presenting UK numbers).
type IngressConfig struct {
	// MobileAction is what a UK mobile number (phonenum type mobile: 07 numbers other than 070
	// personal and 076 pagers) presented on an international ingress does, since a UK mobile
	// may be roaming abroad: unspoof.ActionFlag (default), ActionBlock, or ActionAllow (no
	// reason at all).
	MobileAction string
	// ExemptPrefixes are E.164 prefixes ("+44203") whose numbers may arrive from abroad, e.g. a
	// UK customer's numbers whose calls are placed by its own centre abroad.
	ExemptPrefixes []string
	// ExemptTrunks are ingress trunks (ScreenRequest.Trunk) whose UK numbers are known good,
	// e.g. a partner network that verifies its customers' numbers.
	ExemptTrunks []string
}

// VelocityConfig sets the velocity rule's thresholds (per minute) and memory. Distinct
// destination thresholds may not pass MaxDestinations.
type VelocityConfig struct {
	NumberCalls        int // calls from one presented number (DefaultNumberCalls)
	NumberDestinations int // distinct numbers called from one presented number (DefaultNumberDestinations)
	IPCalls            int // calls from one source address (DefaultIPCalls)
	IPDestinations     int // distinct numbers called from one source address (DefaultIPDestinations)
	TrackedNumbers     int // presented numbers remembered at once (DefaultTrackedNumbers; rounded down to a power of two, at least 256)
	TrackedIPs         int // source addresses remembered at once (DefaultTrackedIPs; likewise)
}

// rule indexes.
const (
	iNumbering = iota
	iDNO
	iIngress
	iEgress
	iStirShaken
	iVelocity
)

// epoch is when the process started screening: ScreenInto reads the monotonic clock against it
// (a cheaper read than time.Now's wall and monotonic pair), and velocity windows are in Unix time
// as epochUnix + that.
var (
	epoch     = time.Now()
	epochUnix = epoch.UnixNano()
)

// Engine screens calls by its rules; it implements unspoof.Screener and is safe for concurrent
// use. Its lists can be replaced at any time without disturbing calls being screened.
type Engine struct {
	region     string
	deadline   time.Duration
	now        func() time.Time
	modes      [len(ruleNames)]Mode
	verifier   IdentityVerifier
	verifyFail int
	mobile     int
	exemptPfx  []string
	exemptTrk  []string // sorted
	dno        atomic.Pointer[DNOList]
	egress     atomic.Pointer[EgressList]
	velNum     *velTable
	velIP      *velTable
	velReasons [2][4]unspoof.Reason // number, address × overCalls|overDests
	m          *metrics
	log        *slog.Logger
	failedOpen atomic.Int64 // calls that failed open
	lastWarn   atomic.Int64 // when that was last logged (Unix ns)
}

var ruleNames = [...]string{iNumbering: RuleNumbering, iDNO: RuleDNO, iIngress: RuleIngress, iEgress: RuleEgress,
	iStirShaken: RuleStirShaken, iVelocity: RuleVelocity}

// The engine's own reasons, built once.
var (
	reasonNotANumber  = unspoof.Reason{Code: CodeInvalidNumber, Rule: RuleNumbering, Detail: "the presented number is not a telephone number"}
	reasonUnallocated = unspoof.Reason{Code: CodeInvalidNumber, Rule: RuleNumbering, Detail: "the presented number is not in an allocated range"}
	reasonImpossible  = unspoof.Reason{Code: CodeImpossibleNumber, Rule: RuleNumbering, Detail: "the presented number has a length that cannot be dialled"}
	reasonFictional   = unspoof.Reason{Code: CodeFictionalNumber, Rule: RuleNumbering, Detail: "the presented number is in a range reserved for drama"}
	reasonUKAbroad    = unspoof.Reason{Code: CodeUKCLIInternational, Rule: RuleIngress, Detail: "a UK number presented on a call from abroad"}
	reasonUKMobile    = unspoof.Reason{Code: CodeUKMobileInternational, Rule: RuleIngress, Detail: "a UK mobile number presented on a call from abroad (roaming?)"}
	reasonVerifyFail  = unspoof.Reason{Code: CodeStirShakenFailed, Rule: RuleStirShaken, Detail: "the Identity header did not verify"}
	reasonDeadline    = unspoof.Reason{Code: CodeDeadline, Rule: RuleDeadline, Detail: "no verdict before the deadline: allowed"}
)

// New returns an Engine configured by cfg, or an EINVALID error naming a bad setting.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		region:   strings.ToUpper(cmp.Or(cfg.Region, DefaultRegion)),
		deadline: cmp.Or(cfg.Deadline, DefaultDeadline),
		now:      cfg.Now,
		verifier: cfg.Verifier,
		log:      cfg.Logger,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "screen")
	for i := range e.modes {
		e.modes[i] = ModeEnforce
	}
	for rule, mode := range cfg.Modes {
		i := slices.Index(ruleNames[:], rule)
		if i < 0 {
			return nil, unspoof.Errorf(unspoof.EINVALID, "unknown rule %q (rules: %s)", rule, strings.Join(Rules, ", "))
		}
		switch mode {
		case ModeEnforce, ModeReportOnly, ModeOff:
		case "":
			mode = ModeEnforce
		default:
			return nil, unspoof.Errorf(unspoof.EINVALID, "rule %s: unknown mode %q (want enforce, report-only or off)", rule, mode)
		}
		e.modes[i] = mode
	}
	switch a := cmp.Or(cfg.VerifyFailAction, unspoof.ActionFlag); a {
	case unspoof.ActionFlag, unspoof.ActionBlock:
		e.verifyFail = actionID(a)
	default:
		return nil, unspoof.Errorf(unspoof.EINVALID, "a failed verification can flag or block, not %q", a)
	}
	switch a := cmp.Or(cfg.Ingress.MobileAction, unspoof.ActionFlag); a {
	case unspoof.ActionAllow, unspoof.ActionFlag, unspoof.ActionBlock:
		e.mobile = actionID(a)
	default:
		return nil, unspoof.Errorf(unspoof.EINVALID, "a UK mobile number from abroad can allow, flag or block, not %q", a)
	}
	for _, p := range cfg.Ingress.ExemptPrefixes {
		q, ok := e164Prefix(p)
		if !ok {
			return nil, unspoof.Errorf(unspoof.EINVALID, "exempt prefix %q: want an E.164 prefix, + and 2 to 15 digits", p)
		}
		e.exemptPfx = append(e.exemptPfx, q)
	}
	e.exemptTrk = slices.Clone(cfg.Ingress.ExemptTrunks)
	slices.Sort(e.exemptTrk)

	v := cfg.Velocity
	v.NumberCalls = cmp.Or(v.NumberCalls, DefaultNumberCalls)
	v.NumberDestinations = cmp.Or(v.NumberDestinations, DefaultNumberDestinations)
	v.IPCalls = cmp.Or(v.IPCalls, DefaultIPCalls)
	v.IPDestinations = cmp.Or(v.IPDestinations, DefaultIPDestinations)
	v.TrackedNumbers = cmp.Or(v.TrackedNumbers, DefaultTrackedNumbers)
	v.TrackedIPs = cmp.Or(v.TrackedIPs, DefaultTrackedIPs)
	for _, n := range []int{v.NumberCalls, v.NumberDestinations, v.IPCalls, v.IPDestinations, v.TrackedNumbers, v.TrackedIPs} {
		if n < 0 {
			return nil, unspoof.Errorf(unspoof.EINVALID, "velocity thresholds and sizes must be positive, got %d", n)
		}
	}
	if v.NumberDestinations > MaxDestinations || v.IPDestinations > MaxDestinations {
		return nil, unspoof.Errorf(unspoof.EINVALID, "velocity: at most %d distinct destinations a minute can be told apart", MaxDestinations)
	}
	e.velNum = newVelTable(v.TrackedNumbers, v.NumberCalls, v.NumberDestinations)
	e.velIP = newVelTable(v.TrackedIPs, v.IPCalls, v.IPDestinations)
	for k, who := range []string{"this number", "this address"} {
		calls, dests := v.NumberCalls, v.NumberDestinations
		if k == 1 {
			calls, dests = v.IPCalls, v.IPDestinations
		}
		mk := func(d string) unspoof.Reason {
			return unspoof.Reason{Code: CodeVelocity, Rule: RuleVelocity, Detail: d}
		}
		e.velReasons[k][overCalls] = mk(fmt.Sprintf("over %d calls a minute from %s", calls, who))
		e.velReasons[k][overDests] = mk(fmt.Sprintf("over %d numbers called a minute from %s", dests, who))
		e.velReasons[k][overCalls|overDests] = mk(fmt.Sprintf("over %d calls and %d numbers called a minute from %s", calls, dests, who))
	}

	mobile := ""
	if e.mobile != actAllow {
		mobile = actionNames[e.mobile]
	}
	e.m = newMetrics(cfg.Metrics, mobile, actionNames[e.verifyFail])
	e.SetDNO(cfg.DNO)
	e.SetEgress(cfg.Egress)
	return e, nil
}

// Mode returns the mode of the named rule ("" for an unknown rule).
func (e *Engine) Mode(rule string) Mode {
	if i := slices.Index(ruleNames[:], rule); i >= 0 {
		return e.modes[i]
	}
	return ""
}

// DNO returns the Do-Not-Originate list in use (nil if none).
func (e *Engine) DNO() *DNOList { return e.dno.Load() }

// SetDNO makes l the Do-Not-Originate list: calls screened from now on use it, calls being
// screened finish with the list they started with. nil empties the list.
func (e *Engine) SetDNO(l *DNOList) {
	if l == nil {
		l = &DNOList{}
	}
	e.dno.Store(l)
	e.m.list("dno", l.Version(), l.Len(), time.Now())
}

// LoadDNO reads a DNO list (ParseDNO, numbers read in the engine's region) and makes it the
// list in use. On error the list in use stays.
func (e *Engine) LoadDNO(r io.Reader) (*DNOList, error) {
	l, err := ParseDNO(r, e.region)
	if err != nil {
		return nil, err
	}
	e.SetDNO(l)
	e.log.Info("DNO list loaded", "version", l.Version(), "entries", l.Len())
	return l, nil
}

// Egress returns the egress list in use (nil if none).
func (e *Engine) Egress() *EgressList { return e.egress.Load() }

// SetEgress makes l the egress list, as SetDNO does for the DNO list.
func (e *Engine) SetEgress(l *EgressList) {
	if l == nil {
		l = &EgressList{}
	}
	e.egress.Store(l)
	e.m.list("egress", l.Version(), l.Len(), time.Now())
}

// LoadEgress reads an egress list (ParseEgress) and makes it the list in use. On error the list
// in use stays.
func (e *Engine) LoadEgress(r io.Reader) (*EgressList, error) {
	l, err := ParseEgress(r)
	if err != nil {
		return nil, err
	}
	e.SetEgress(l)
	e.log.Info("egress list loaded", "version", l.Version(), "entries", l.Len())
	return l, nil
}

// Screen returns the verdict on the call r. It implements unspoof.Screener.
func (e *Engine) Screen(ctx context.Context, r *unspoof.ScreenRequest) *unspoof.Verdict {
	// One allocation: the Verdict with room for the reasons of most calls (a third reason
	// allocates more).
	v := new(struct {
		v unspoof.Verdict
		r [2]unspoof.Reason
	})
	v.v.Reasons = v.r[:0]
	e.ScreenInto(ctx, r, &v.v)
	return &v.v
}

// verdict is a verdict being built.
type verdict struct {
	*unspoof.Verdict
	action  int
	decided string // the code that set action
}

// add records reason r of a rule in mode, whose action is act (actAllow: informational).
func (v *verdict) add(mode Mode, act int, r *unspoof.Reason) {
	v.Reasons = append(v.Reasons, *r)
	if mode == ModeReportOnly {
		v.Reasons[len(v.Reasons)-1].ReportOnly = true
		return
	}
	if act > v.action {
		v.action, v.decided = act, r.Code
	}
}

// ScreenInto is Screen writing into v, whose Reasons' memory it reuses: a caller that keeps
// its Verdicts (in a sync.Pool, say) screens unsigned calls without allocating. v's strings
// may share r's memory.
func (e *Engine) ScreenInto(ctx context.Context, r *unspoof.ScreenRequest, out *unspoof.Verdict) {
	start := time.Since(epoch) // one clock read: the monotonic clock only
	*out = unspoof.Verdict{Reasons: out.Reasons[:0], Verstat: unspoof.VerstatNone}
	v := verdict{Verdict: out, decided: "none"}

	// 1. numbering
	fromUser := userPart(r.From)
	var from phonenum.Compact
	if !withheld(fromUser) {
		var ok, length bool
		if from, ok, length = parseNumber(fromUser, e.region); ok {
			v.From = e164(&from, fromUser)
		}
		if m := e.modes[iNumbering]; m != ModeOff {
			switch {
			case !ok && length:
				v.add(m, actBlock, &reasonImpossible)
			case !ok:
				v.add(m, actBlock, &reasonNotANumber)
			case from.Possible != phonenum.IsPossible:
				v.add(m, actBlock, &reasonImpossible)
			case from.Fictional:
				v.add(m, actFlag, &reasonFictional)
			case !from.Valid:
				v.add(m, actBlock, &reasonUnallocated)
			}
		}
	}
	toUser := userPart(r.To)
	if to, ok, _ := parseNumber(toUser, e.region); ok {
		v.To = e164(&to, toUser)
	}

	if v.From != "" {
		// 2. dno
		if m := e.modes[iDNO]; m != ModeOff {
			if l := e.dno.Load(); l != nil {
				if i := l.lookup(v.From); i >= 0 {
					v.add(m, actBlock, &l.reasons[i])
				}
			}
		}
		// 3. ingress
		if m := e.modes[iIngress]; m != ModeOff && r.Ingress == unspoof.IngressInternational && e.ukCLI(&from) && !e.exempt(v.From, r.Trunk) {
			if from.Type == phonenum.Mobile {
				if e.mobile != actAllow {
					v.add(m, e.mobile, &reasonUKMobile)
				}
			} else {
				v.add(m, actBlock, &reasonUKAbroad)
			}
		}
	}

	// 4. egress
	var ip netip.Addr
	if r.SourceIP != "" {
		ip, _ = netip.ParseAddr(r.SourceIP)
	}
	if m := e.modes[iEgress]; m != ModeOff && (ip.IsValid() || r.Trunk != "") {
		if l := e.egress.Load(); l != nil {
			if i := l.lookup(ip, r.Trunk); i >= 0 {
				v.add(m, actBlock, &l.reasons[i])
			}
		}
	}

	// 6. velocity counts the call now, so that a call that fails open is counted too; its
	// reasons follow stirshaken's.
	var velNum, velIP velOver
	if e.modes[iVelocity] != ModeOff {
		var at int64
		switch {
		case !r.At.IsZero():
			at = r.At.UnixNano()
		case e.now != nil:
			at = e.now().UnixNano()
		default:
			at = epochUnix + int64(start)
		}
		dest := uint64(0)
		if v.To != "" {
			dest = hashString(v.To)
		} else if toUser != "" {
			dest = hashString(toUser)
		}
		if v.From != "" {
			velNum = e.velNum.hit(hashString(v.From), dest, at)
		}
		if ip.IsValid() {
			a := ip.Unmap().As16()
			velIP = e.velIP.hit(hashBytes(a[:]), dest, at)
		}
	}

	// 5. stirshaken
	signed := len(r.Identity) > 0
	failedOpen := false
	if m := e.modes[iStirShaken]; m != ModeOff && signed && e.verifier != nil && !(v.action == actBlock) {
		res, ok := e.verify(ctx, r.Identity, v.From, v.To, start)
		if !ok {
			failedOpen = true
		} else {
			e.verified(&v, m, &res)
		}
	}

	if m := e.modes[iVelocity]; velNum != 0 {
		v.add(m, actFlag, &e.velReasons[0][velNum])
	}
	if m := e.modes[iVelocity]; velIP != 0 {
		v.add(m, actFlag, &e.velReasons[1][velIP])
	}
	if failedOpen {
		v.Reasons = append(v.Reasons, reasonDeadline)
		v.action, v.decided = actAllow, CodeDeadline
		v.FailedOpen = true
		e.warnFailedOpen(r.CallID)
	}

	v.Action = actionNames[v.action]
	v.Latency = time.Since(epoch) - start
	e.m.record(out, v.action, v.decided, signed, uint(start>>7)) // ~128 ns apart: another slot
	if v.action != actAllow && e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("verdict", "call_id", r.CallID, "from", v.From, "to", v.To, "action", v.Action, "reason", v.decided)
	}
}

// verified copies a verifier's result into v. A failed verification acts by its reasons (a
// reason the verifier itself marks report-only only informs); a passed one only informs.
func (e *Engine) verified(v *verdict, m Mode, res *IdentityResult) {
	v.Verstat = cmp.Or(res.Verstat, unspoof.VerstatNone)
	v.Attest, v.OrigID, v.SPC = res.Attest, res.OrigID, res.SPC
	act := actAllow
	if res.Verstat == unspoof.VerstatFailed {
		act = e.verifyFail
	}
	acted := false
	for i := range res.Reasons {
		rr := res.Reasons[i]
		rr.Rule = cmp.Or(rr.Rule, RuleStirShaken)
		if rr.ReportOnly {
			v.Reasons = append(v.Reasons, rr)
			continue
		}
		v.add(m, act, &rr)
		acted = true
	}
	if act != actAllow && !acted {
		v.add(m, act, &reasonVerifyFail)
	}
}

// ukCLI reports whether a number is a UK number for the ingress rule: +44, but not one of the
// Crown Dependencies that share it (Jersey, Guernsey, the Isle of Man: their own regulators'
// numbers, whose calls may come in over international links).
func (e *Engine) ukCLI(c *phonenum.Compact) bool {
	return c.CountryCode == 44 && c.Region != "JE" && c.Region != "GG" && c.Region != "IM"
}

// exempt reports whether the ingress rule lets a number through from trunk.
func (e *Engine) exempt(e164, trunk string) bool {
	for _, p := range e.exemptPfx {
		if strings.HasPrefix(e164, p) {
			return true
		}
	}
	return trunk != "" && search(e.exemptTrk, trunk) >= 0
}

// verify runs the verifier until the deadline; ok is false if it did not answer in time (or ctx
// ended first).
func (e *Engine) verify(ctx context.Context, identity []string, from, to string, start time.Duration) (res IdentityResult, ok bool) {
	if e.deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, epoch.Add(start+e.deadline))
		defer cancel()
	}
	ch := make(chan IdentityResult, 1)
	identity = slices.Clone(identity) // the caller may reuse its request once we return
	go func() { ch <- e.verifier.VerifyCall(ctx, identity, from, to) }()
	select {
	case res = <-ch:
		// An answer given once the deadline has passed (a verifier giving up on ctx) is not
		// one: the call fails open all the same.
		return res, ctx.Err() == nil
	case <-ctx.Done():
		return res, false
	}
}

// warnFailedOpen logs that calls fail open, at most once a second (with how many did).
func (e *Engine) warnFailedOpen(callID string) {
	n := e.failedOpen.Add(1)
	now := time.Now().UnixNano()
	last := e.lastWarn.Load()
	if now-last < int64(time.Second) || !e.lastWarn.CompareAndSwap(last, now) {
		return
	}
	e.log.Warn("no verdict before the deadline: calls allowed", "deadline", e.deadline, "call_id", callID,
		"failed_open_total", n)
}
