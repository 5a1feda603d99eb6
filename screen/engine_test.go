package screen_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
)

// setup returns an Engine configured by cfg, with the DNO and egress lists of testdata unless
// cfg brings its own, and its metrics in a registry of its own. Its deadline is 10 s unless cfg
// says otherwise: on a loaded machine (or under -race) a verifier's goroutine can wait longer
// than 50 ms for a CPU, and only TestDeadline means to fail open.
func setup(t testing.TB, cfg screen.Config) (*screen.Engine, *prometheus.Registry) {
	t.Helper()
	if cfg.Deadline == 0 {
		cfg.Deadline = 10 * time.Second
	}
	if cfg.DNO == nil {
		cfg.DNO = readDNO(t, "dno.csv")
	}
	if cfg.Egress == nil {
		f, err := os.Open(filepath.Join("testdata", "egress.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if cfg.Egress, err = screen.ParseEgress(f); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	e, err := screen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, reg
}

func readDNO(t testing.TB, name string) *screen.DNOList {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := screen.ParseDNO(f, "GB")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// codes renders a verdict's reasons as "code" or "code(report-only)", in order.
func codes(v *unspoof.Verdict) string {
	var s []string
	for _, r := range v.Reasons {
		c := r.Rule + ":" + r.Code
		if r.ReportOnly {
			c += "(report-only)"
		}
		s = append(s, c)
	}
	return strings.Join(s, " ")
}

// fakeVerifier answers with a fixed result and records what it was asked.
type fakeVerifier struct {
	res      screen.IdentityResult
	calls    atomic.Int64
	mu       sync.Mutex
	from, to string
}

func (f *fakeVerifier) VerifyCall(ctx context.Context, identity []string, from, to string) screen.IdentityResult {
	f.calls.Add(1)
	f.mu.Lock()
	f.from, f.to = from, to
	f.mu.Unlock()
	return f.res
}

var (
	passed = screen.IdentityResult{Verstat: unspoof.VerstatPassed, Attest: "A", OrigID: "4437c7eb-8f7a-4f0e-a863-f53a0e60251a", SPC: "1234"}
	stale  = screen.IdentityResult{Verstat: unspoof.VerstatFailed, Attest: "A", Reasons: []unspoof.Reason{
		{Code: "passport-stale", Detail: "iat 120 s in the past"}}}
	failed = screen.IdentityResult{Verstat: unspoof.VerstatFailed}
	// A pass with a finding of another header, which the verifier marks report-only; and a
	// failure whose only reason is such a finding.
	passedNote = screen.IdentityResult{Verstat: unspoof.VerstatPassed, Attest: "B", OrigID: "x", SPC: "99", Reasons: []unspoof.Reason{
		{Code: "passport-stale", Rule: "stirshaken", Detail: "header 2: stale", ReportOnly: true}}}
	failedNote = screen.IdentityResult{Verstat: unspoof.VerstatFailed, Reasons: []unspoof.Reason{
		{Code: "ppt-unsupported", Rule: "stirshaken", Detail: "header 2: div", ReportOnly: true}}}
)

// TestRules runs each rule in each mode on calls that trigger it and calls that do not, with
// the real phonenum and the lists of testdata.
func TestRules(t *testing.T) {
	t.Parallel()
	const (
		ukMobile = "+447400123456" // GB mobile
		ukFixed  = "+442071234567" // London
		callee   = "+447400999888"
		intl     = unspoof.IngressInternational
	)
	sig := []string{"eyJhbGciOiJFUzI1NiJ9.e30.c2ln;info=<https://cert.example/a.pem>;alg=ES256;ppt=shaken"}
	type req = unspoof.ScreenRequest
	tests := []struct {
		name     string
		cfg      screen.Config
		req      req
		action   string
		codes    string
		from, to string // "" unless checked
		verstat  string // VerstatNone unless set
		verifier *fakeVerifier
	}{
		// 1. numbering
		{name: "clean mobile", req: req{From: ukMobile, To: callee}, action: "allow", from: ukMobile, to: callee},
		{name: "national form", req: req{From: "07400 123456", To: "07400 999888"}, action: "allow", from: ukMobile, to: callee},
		{name: "sip uri", req: req{From: "sip:+447400123456@sbc.example;user=phone", To: "sip:+447400999888@ims.example"}, action: "allow", from: ukMobile, to: callee},
		{name: "name-addr", req: req{From: `"Northbridge" <sip:+447400123456@x.example>;tag=9a`, To: "<tel:+44-7400-999888>"}, action: "allow", from: ukMobile, to: callee},
		{name: "tel uri with params", req: req{From: "tel:+447400123456;verstat=TN-Validation-Passed", To: callee}, action: "allow", from: ukMobile},
		{name: "letters", req: req{From: "HSBC", To: callee}, action: "block", codes: "numbering:invalid-number"},
		{name: "extension", req: req{From: "+447400123456 ext 12", To: callee}, action: "block", codes: "numbering:invalid-number"},
		{name: "too short", req: req{From: "+44123", To: callee}, action: "block", codes: "numbering:impossible-number", from: "+44123"},
		{name: "too long", req: req{From: "+4479111234567890", To: callee}, action: "block", codes: "numbering:impossible-number"},
		{name: "no area code", req: req{From: "123456", To: callee}, action: "block", codes: "numbering:impossible-number"},
		{name: "one digit after the country code", req: req{From: "+441", To: callee}, action: "block", codes: "numbering:impossible-number"},
		{name: "too long to parse", req: req{From: "+44123456789012345678", To: callee}, action: "block", codes: "numbering:impossible-number"},
		{name: "unknown country code", req: req{From: "+999 1234567", To: callee}, action: "block", codes: "numbering:invalid-number"},
		{name: "unallocated", req: req{From: "+449999123456", To: callee}, action: "block", codes: "numbering:invalid-number"},
		{name: "fictional mobile", req: req{From: "+447700900123", To: callee}, action: "flag", codes: "numbering:fictional-number"},
		{name: "fictional London", req: req{From: "020 7946 0123", To: callee}, action: "flag", codes: "numbering:fictional-number"},
		{name: "fictional NANP", req: req{From: "+12025550143", To: callee}, action: "flag", codes: "numbering:fictional-number"},
		{name: "withheld", req: req{From: "sip:anonymous@anonymous.invalid", To: callee}, action: "allow", from: ""},
		{name: "withheld empty", req: req{From: "", To: callee}, action: "allow"},
		{name: "numbering report-only", cfg: screen.Config{Modes: map[string]screen.Mode{"numbering": screen.ModeReportOnly}},
			req: req{From: "+44123", To: callee}, action: "allow", codes: "numbering:impossible-number(report-only)"},
		{name: "numbering off", cfg: screen.Config{Modes: map[string]screen.Mode{"numbering": screen.ModeOff}},
			req: req{From: "+44123", To: callee}, action: "allow"},
		{name: "region US", cfg: screen.Config{Region: "US"}, req: req{From: "(202) 456-1111", To: callee}, action: "block", codes: "dno:dno", from: "+12024561111"},
		{name: "bad callee is not judged", req: req{From: ukMobile, To: "HSBC"}, action: "allow", to: ""},

		// 2. dno
		{name: "dno number", req: req{From: "+443005551234", To: callee}, action: "block", codes: "dno:dno"},
		{name: "dno number dialled nationally", req: req{From: "0800 111 2222", To: callee}, action: "block", codes: "dno:dno"},
		{name: "dno range", req: req{From: "+442030001234", To: callee}, action: "block", codes: "dno:dno"},
		{name: "dno US", req: req{From: "+12024561111", To: callee}, action: "block", codes: "dno:dno"},
		{name: "next to dno", req: req{From: "+443005551235", To: callee}, action: "allow"},
		{name: "dno report-only", cfg: screen.Config{Modes: map[string]screen.Mode{"dno": screen.ModeReportOnly}},
			req: req{From: "+443005551234", To: callee}, action: "allow", codes: "dno:dno(report-only)"},
		{name: "dno off", cfg: screen.Config{Modes: map[string]screen.Mode{"dno": screen.ModeOff}},
			req: req{From: "+443005551234", To: callee}, action: "allow"},

		// 3. ingress
		{name: "UK fixed from abroad", req: req{From: ukFixed, To: callee, Ingress: intl}, action: "block", codes: "ingress:uk-cli-international"},
		{name: "UK fixed at home", req: req{From: ukFixed, To: callee, Ingress: unspoof.IngressDomestic}, action: "allow"},
		{name: "UK mobile from abroad", req: req{From: ukMobile, To: callee, Ingress: intl}, action: "flag", codes: "ingress:uk-mobile-international"},
		{name: "UK mobile from abroad, blocked", cfg: screen.Config{Ingress: screen.IngressConfig{MobileAction: "block"}},
			req: req{From: ukMobile, To: callee, Ingress: intl}, action: "block", codes: "ingress:uk-mobile-international"},
		{name: "UK mobile from abroad, allowed", cfg: screen.Config{Ingress: screen.IngressConfig{MobileAction: "allow"}},
			req: req{From: ukMobile, To: callee, Ingress: intl}, action: "allow"},
		{name: "UK personal number from abroad", req: req{From: "+447011123456", To: callee, Ingress: intl}, action: "block", codes: "ingress:uk-cli-international"},
		{name: "unallocated +44 from abroad", req: req{From: "+449999123456", To: callee, Ingress: intl}, action: "block", codes: "numbering:invalid-number ingress:uk-cli-international"},
		{name: "Jersey from abroad", req: req{From: "+441534123456", To: callee, Ingress: intl}, action: "allow"},
		{name: "French from abroad", req: req{From: "+33142685300", To: callee, Ingress: intl}, action: "allow"},
		{name: "exempt prefix", cfg: screen.Config{Ingress: screen.IngressConfig{ExemptPrefixes: []string{"+44 207"}}},
			req: req{From: ukFixed, To: callee, Ingress: intl}, action: "allow"},
		{name: "exempt trunk", cfg: screen.Config{Ingress: screen.IngressConfig{ExemptTrunks: []string{"partner-1"}}},
			req: req{From: ukFixed, To: callee, Ingress: intl, Trunk: "partner-1"}, action: "allow"},
		{name: "other trunk", cfg: screen.Config{Ingress: screen.IngressConfig{ExemptTrunks: []string{"partner-1"}}},
			req: req{From: ukFixed, To: callee, Ingress: intl, Trunk: "partner-2"}, action: "block", codes: "ingress:uk-cli-international"},
		{name: "dno from abroad", req: req{From: "+443005551234", To: callee, Ingress: intl}, action: "block", codes: "dno:dno ingress:uk-cli-international"},
		{name: "ingress report-only", cfg: screen.Config{Modes: map[string]screen.Mode{"ingress": screen.ModeReportOnly}},
			req: req{From: ukFixed, To: callee, Ingress: intl}, action: "allow", codes: "ingress:uk-cli-international(report-only)"},
		{name: "ingress off", cfg: screen.Config{Modes: map[string]screen.Mode{"ingress": screen.ModeOff}},
			req: req{From: ukFixed, To: callee, Ingress: intl}, action: "allow"},

		// 4. egress
		{name: "egress address", req: req{From: ukMobile, To: callee, SourceIP: "192.0.2.65"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "egress mapped address", req: req{From: ukMobile, To: callee, SourceIP: "::ffff:192.0.2.65"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "egress IPv6 address", req: req{From: ukMobile, To: callee, SourceIP: "2001:db8:891::47ff"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "egress network", req: req{From: ukMobile, To: callee, SourceIP: "198.51.100.200"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "egress IPv6 network", req: req{From: ukMobile, To: callee, SourceIP: "2001:db8:aa12::1"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "egress trunk", req: req{From: ukMobile, To: callee, Trunk: "spoofco-peer-1"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "clean address", req: req{From: ukMobile, To: callee, SourceIP: "203.0.113.5", Trunk: "partner-1"}, action: "allow"},
		{name: "egress with withheld CLI", req: req{From: "anonymous", To: callee, SourceIP: "192.0.2.65"}, action: "block", codes: "egress:spoofing-egress"},
		{name: "egress report-only", cfg: screen.Config{Modes: map[string]screen.Mode{"egress": screen.ModeReportOnly}},
			req: req{From: ukMobile, To: callee, SourceIP: "192.0.2.65"}, action: "allow", codes: "egress:spoofing-egress(report-only)"},
		{name: "egress off", cfg: screen.Config{Modes: map[string]screen.Mode{"egress": screen.ModeOff}},
			req: req{From: ukMobile, To: callee, SourceIP: "192.0.2.65"}, action: "allow"},

		// 5. stirshaken
		{name: "unsigned", verifier: &fakeVerifier{res: passed}, req: req{From: ukMobile, To: callee}, action: "allow", verstat: unspoof.VerstatNone},
		{name: "signed, no verifier", req: req{From: ukMobile, To: callee, Identity: sig}, action: "allow", verstat: unspoof.VerstatNone},
		{name: "signed, passed", verifier: &fakeVerifier{res: passed}, req: req{From: "07400 123456", To: callee, Identity: sig},
			action: "allow", verstat: unspoof.VerstatPassed},
		{name: "signed, stale", verifier: &fakeVerifier{res: stale}, req: req{From: ukMobile, To: callee, Identity: sig},
			action: "flag", codes: "stirshaken:passport-stale", verstat: unspoof.VerstatFailed},
		{name: "signed, failed without reason", verifier: &fakeVerifier{res: failed}, req: req{From: ukMobile, To: callee, Identity: sig},
			action: "flag", codes: "stirshaken:stirshaken-failed", verstat: unspoof.VerstatFailed},
		{name: "signed, passed, with a note", verifier: &fakeVerifier{res: passedNote}, req: req{From: ukMobile, To: callee, Identity: sig},
			action: "allow", codes: "stirshaken:passport-stale(report-only)", verstat: unspoof.VerstatPassed},
		{name: "signed, failed, only a note", verifier: &fakeVerifier{res: failedNote}, req: req{From: ukMobile, To: callee, Identity: sig},
			action: "flag", codes: "stirshaken:ppt-unsupported(report-only) stirshaken:stirshaken-failed", verstat: unspoof.VerstatFailed},
		{name: "signed, stale, blocking", cfg: screen.Config{VerifyFailAction: "block"}, verifier: &fakeVerifier{res: stale},
			req: req{From: ukMobile, To: callee, Identity: sig}, action: "block", codes: "stirshaken:passport-stale", verstat: unspoof.VerstatFailed},
		{name: "stirshaken report-only", cfg: screen.Config{Modes: map[string]screen.Mode{"stirshaken": screen.ModeReportOnly}},
			verifier: &fakeVerifier{res: stale}, req: req{From: ukMobile, To: callee, Identity: sig},
			action: "allow", codes: "stirshaken:passport-stale(report-only)", verstat: unspoof.VerstatFailed},
		{name: "stirshaken off", cfg: screen.Config{Modes: map[string]screen.Mode{"stirshaken": screen.ModeOff}},
			verifier: &fakeVerifier{res: stale}, req: req{From: ukMobile, To: callee, Identity: sig}, action: "allow", verstat: unspoof.VerstatNone},
		{name: "signed dno is not verified", verifier: &fakeVerifier{res: passed}, req: req{From: "+443005551234", To: callee, Identity: sig},
			action: "block", codes: "dno:dno", verstat: unspoof.VerstatNone},
		{name: "signed report-only dno is verified", cfg: screen.Config{Modes: map[string]screen.Mode{"dno": screen.ModeReportOnly}},
			verifier: &fakeVerifier{res: passed}, req: req{From: "+443005551234", To: callee, Identity: sig},
			action: "allow", codes: "dno:dno(report-only)", verstat: unspoof.VerstatPassed},
		{name: "signed fictional flagged and failed", verifier: &fakeVerifier{res: stale}, req: req{From: "+447700900123", To: callee, Identity: sig},
			action: "flag", codes: "numbering:fictional-number stirshaken:passport-stale", verstat: unspoof.VerstatFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			if tc.verifier != nil {
				cfg.Verifier = tc.verifier
			}
			e, _ := setup(t, cfg)
			v := e.Screen(context.Background(), &tc.req)
			if v.Action != tc.action || codes(v) != tc.codes {
				t.Errorf("%+v:\n got %s [%s]\nwant %s [%s]", tc.req, v.Action, codes(v), tc.action, tc.codes)
			}
			if tc.from != "" && v.From != tc.from || tc.req.From == "" && v.From != "" {
				t.Errorf("From %q, want %q", v.From, tc.from)
			}
			if tc.to != "" && v.To != tc.to {
				t.Errorf("To %q, want %q", v.To, tc.to)
			}
			if want := cmpOr(tc.verstat, unspoof.VerstatNone); v.Verstat != want {
				t.Errorf("Verstat %q, want %q", v.Verstat, want)
			}
			if v.FailedOpen || v.Latency <= 0 {
				t.Errorf("FailedOpen %v, Latency %v", v.FailedOpen, v.Latency)
			}
			for _, r := range v.Reasons {
				if r.Detail == "" || strings.Contains(r.Detail, tc.req.From) && tc.req.From != "" {
					t.Errorf("reason %+v: a detail is needed, without the number", r)
				}
			}
			if f := tc.verifier; f != nil && v.Verstat == unspoof.VerstatPassed {
				if v.Attest != f.res.Attest || v.OrigID != f.res.OrigID || v.SPC != f.res.SPC {
					t.Errorf("verified: attest %q origid %q spc %q", v.Attest, v.OrigID, v.SPC)
				}
				f.mu.Lock()
				if f.from != ukMobile && f.from != "+443005551234" || f.to != callee {
					t.Errorf("verifier asked about %q → %q, want the E.164 numbers", f.from, f.to)
				}
				f.mu.Unlock()
			}
			if f := tc.verifier; f != nil && tc.name == "signed dno is not verified" && f.calls.Load() != 0 {
				t.Errorf("a blocked call was verified")
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDNODetail: the reason names the organisation, never the number.
func TestDNODetail(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, screen.Config{})
	v := e.Screen(context.Background(), &unspoof.ScreenRequest{From: "+443005551234", To: "+447400999888"})
	if len(v.Reasons) != 1 || v.Reasons[0].Detail != "on the Do-Not-Originate list (Northbridge Bank)" {
		t.Errorf("reasons %+v", v.Reasons)
	}
	v = e.Screen(context.Background(), &unspoof.ScreenRequest{From: "+12024561111", To: "+447400999888"})
	if len(v.Reasons) != 1 || v.Reasons[0].Detail != "on the Do-Not-Originate list" {
		t.Errorf("reasons %+v", v.Reasons)
	}
	v = e.Screen(context.Background(), &unspoof.ScreenRequest{From: "+447400123456", To: "+447400999888", SourceIP: "192.0.2.65"})
	if len(v.Reasons) != 1 || v.Reasons[0].Detail != "from a known spoofing service's egress (account U0000001)" {
		t.Errorf("reasons %+v", v.Reasons)
	}
}

// TestConfigErrors: bad settings are EINVALID errors that name them.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  screen.Config
		want string
	}{
		{screen.Config{Modes: map[string]screen.Mode{"dnc": screen.ModeOff}}, `unknown rule "dnc"`},
		{screen.Config{Modes: map[string]screen.Mode{"dno": "shadow"}}, `unknown mode "shadow"`},
		{screen.Config{VerifyFailAction: "allow"}, `flag or block, not "allow"`},
		{screen.Config{Ingress: screen.IngressConfig{MobileAction: "drop"}}, `not "drop"`},
		{screen.Config{Ingress: screen.IngressConfig{ExemptPrefixes: []string{"0207"}}}, `exempt prefix "0207"`},
		{screen.Config{Velocity: screen.VelocityConfig{IPDestinations: 5000}}, "at most 500"},
		{screen.Config{Velocity: screen.VelocityConfig{NumberCalls: -1}}, "must be positive"},
	} {
		_, err := screen.New(tc.cfg)
		if unspoof.ErrorCode(err) != unspoof.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want EINVALID %q", tc.cfg, err, tc.want)
		}
	}
	e, err := screen.New(screen.Config{Modes: map[string]screen.Mode{"velocity": screen.ModeReportOnly}})
	if err != nil || e.Mode("velocity") != screen.ModeReportOnly || e.Mode("dno") != screen.ModeEnforce || e.Mode("x") != "" {
		t.Errorf("modes: %v", err)
	}
}

// TestVelocity: calls and distinct destinations per number and per address, in a window that
// slides.
func TestVelocity(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	e, _ := setup(t, screen.Config{Now: now, Velocity: screen.VelocityConfig{NumberCalls: 10, NumberDestinations: 5, IPCalls: 20, IPDestinations: 15}})
	call := func(from, to, ip string) *unspoof.Verdict {
		return e.Screen(context.Background(), &unspoof.ScreenRequest{From: from, To: to, SourceIP: ip})
	}
	callee := func(i int) string { return "+4474009" + pad(i, 5) }

	// Calls: ten a minute are fine, the eleventh is flagged; each call is 5 s apart.
	for i := range 10 {
		if v := call("+447400123456", callee(0), ""); v.Action != "allow" {
			t.Fatalf("call %d: %s %s", i+1, v.Action, codes(v))
		}
		advance(time.Second)
	}
	v := call("+447400123456", callee(0), "")
	if v.Action != "flag" || codes(v) != "velocity:velocity" || v.Reasons[0].Detail != "over 10 calls a minute from this number" {
		t.Fatalf("11th call: %s %+v", v.Action, v.Reasons)
	}
	// Another number is its own source.
	if v := call("+447400123457", callee(0), ""); v.Action != "allow" {
		t.Errorf("other number: %s", codes(v))
	}
	// A minute later the window has slid past them.
	advance(61 * time.Second)
	if v := call("+447400123456", callee(0), ""); v.Action != "allow" {
		t.Errorf("a minute later: %s", codes(v))
	}

	// Destinations: five distinct are fine, the calls to the eighth distinct are flagged.
	from := "+447400111111"
	for i := range 5 {
		if v := call(from, callee(i+1), ""); v.Action != "allow" {
			t.Fatalf("destination %d: %s", i+1, codes(v))
		}
	}
	for i := 5; i < 8; i++ {
		v = call(from, callee(i+1), "")
	}
	if v.Action != "flag" || v.Reasons[0].Detail != "over 5 numbers called a minute from this number" {
		t.Errorf("8 destinations: %s %+v", v.Action, v.Reasons)
	}

	// Per address: 20 calls from different numbers, then the 21st is flagged for the address.
	advance(2 * time.Minute)
	for i := range 20 {
		if v := call("+44740022"+pad(i, 4), callee(1), "203.0.113.9"); v.Action != "allow" {
			t.Fatalf("address call %d: %s", i+1, codes(v))
		}
	}
	v = call("+447400229999", callee(1), "203.0.113.9")
	if v.Action != "flag" || v.Reasons[0].Detail != "over 20 calls a minute from this address" {
		t.Errorf("21st call from the address: %s %+v", v.Action, v.Reasons)
	}

	// A request's own time wins over the clock.
	advance(2 * time.Minute)
	for range 11 {
		v = e.Screen(context.Background(), &unspoof.ScreenRequest{From: "+447400333333", To: callee(1), At: t0})
	}
	if v.Action != "flag" {
		t.Errorf("calls at a given time: %s", codes(v))
	}
}

// TestVelocityReportOnly: report-only velocity reasons do not flag.
func TestVelocityReportOnly(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, screen.Config{Modes: map[string]screen.Mode{"velocity": screen.ModeReportOnly},
		Velocity: screen.VelocityConfig{NumberCalls: 2}})
	var v *unspoof.Verdict
	for range 3 {
		v = e.Screen(context.Background(), &unspoof.ScreenRequest{From: "+447400123456", To: "+447400999888"})
	}
	if v.Action != "allow" || codes(v) != "velocity:velocity(report-only)" {
		t.Errorf("%s %s", v.Action, codes(v))
	}
}

// TestVelocityFixedMemory: far more sources than the table holds neither grow memory nor lose
// the busy source.
func TestVelocityFixedMemory(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, screen.Config{Velocity: screen.VelocityConfig{NumberCalls: 50, TrackedNumbers: 1024}})
	busy := &unspoof.ScreenRequest{From: "+447400123456", To: "+447400999888"}
	var v *unspoof.Verdict
	for i := range 100_000 {
		e.Screen(context.Background(), &unspoof.ScreenRequest{From: "+4474005" + pad(i, 5), To: "+447400999888"})
		if i%1000 == 0 {
			v = e.Screen(context.Background(), busy)
		}
	}
	for range 10 {
		v = e.Screen(context.Background(), busy)
	}
	// 100 + 10 calls from busy, all within the test's minute.
	if v.Action != "flag" {
		t.Errorf("the busy source was forgotten among 100,000 others: %s", codes(v))
	}
}

func pad(i, n int) string {
	s := strings.Repeat("0", n) + itoa(i)
	return s[len(s)-n:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// blockingVerifier never answers by itself: it waits for ctx, or (ignoring ctx) for release.
type blockingVerifier struct {
	ignoreCtx bool
	release   chan struct{}
}

func (b *blockingVerifier) VerifyCall(ctx context.Context, identity []string, from, to string) screen.IdentityResult {
	if b.ignoreCtx {
		<-b.release
	} else {
		<-ctx.Done()
	}
	return passed
}

// TestDeadline: a verifier that does not answer in time makes the call fail open at the
// deadline, whether or not it honours its context; so does a caller's own deadline.
func TestDeadline(t *testing.T) {
	t.Parallel()
	for _, ignore := range []bool{false, true} {
		b := &blockingVerifier{ignoreCtx: ignore, release: make(chan struct{})}
		t.Cleanup(func() { close(b.release) })
		e, reg := setup(t, screen.Config{Verifier: b, Deadline: 30 * time.Millisecond,
			Velocity: screen.VelocityConfig{NumberCalls: 1}})
		req := &unspoof.ScreenRequest{From: "+447700900123", To: "+447400999888", Identity: []string{"x"}}
		e.Screen(context.Background(), req) // counts one call for velocity
		start := time.Now()
		v := e.Screen(context.Background(), req)
		took := time.Since(start)
		if v.Action != "allow" || !v.FailedOpen || codes(v) != "numbering:fictional-number velocity:velocity screen:deadline" {
			t.Errorf("ignoring ctx %v: %s failed open %v [%s]", ignore, v.Action, v.FailedOpen, codes(v))
		}
		if took < 30*time.Millisecond || took > 500*time.Millisecond || v.Latency < 30*time.Millisecond || v.Latency > took {
			t.Errorf("ignoring ctx %v: answered after %v, latency %v; deadline 30ms", ignore, took, v.Latency)
		}
		if got := counter(t, reg, "unspoof_screen_verdicts_total", "action", "allow", "reason", "deadline"); got != 2 {
			t.Errorf("verdicts_total{allow,deadline} = %v, want 2", got)
		}
	}

	// The caller's deadline, shorter than the engine's.
	e, _ := setup(t, screen.Config{Verifier: &blockingVerifier{}, Deadline: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	v := e.Screen(ctx, &unspoof.ScreenRequest{From: "+443005551235", To: "+447400999888", Identity: []string{"x"}})
	if !v.FailedOpen || v.Action != "allow" || v.Latency > time.Second {
		t.Errorf("caller's deadline: %+v", v)
	}
}

// TestHotReload screens calls on four goroutines while the DNO list is replaced again and
// again: every call gets a complete verdict from one version or the other, and both versions
// are seen.
func TestHotReload(t *testing.T) {
	t.Parallel()
	e, reg := setup(t, screen.Config{Velocity: screen.VelocityConfig{NumberCalls: 1 << 30 / 2}})
	v1, err := os.ReadFile(filepath.Join("testdata", "dno.csv"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := os.ReadFile(filepath.Join("testdata", "dno-v2.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// +443005551234 is listed only in v1, +448001112222 in both.
	onlyV1 := &unspoof.ScreenRequest{From: "+443005551234", To: "+447400999888"}
	both := &unspoof.ScreenRequest{From: "+448001112222", To: "+447400999888"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var blockedV1, allowedV1, bad atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v unspoof.Verdict
			for {
				select {
				case <-stop:
					return
				default:
				}
				e.ScreenInto(context.Background(), onlyV1, &v)
				switch {
				case v.Action == "block" && codes(&v) == "dno:dno":
					blockedV1.Add(1)
				case v.Action == "allow" && len(v.Reasons) == 0:
					allowedV1.Add(1)
				default:
					bad.Add(1)
				}
				if e.ScreenInto(context.Background(), both, &v); v.Action != "block" || v.FailedOpen {
					bad.Add(1)
				}
			}
		}()
	}
	versions := map[string]int{}
	for i := range 200 {
		data := v1
		if i%2 == 1 {
			data = v2
		}
		l, err := e.LoadDNO(strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		versions[l.Version()]++
		if e.DNO().Version() != l.Version() {
			t.Errorf("DNO() is %q just after loading %q", e.DNO().Version(), l.Version())
		}
		if got := gauge(t, reg, "unspoof_screen_list_info", "list", "dno", "version", l.Version()); got != 1 {
			t.Errorf("list_info for %s: %v", l.Version(), got)
		}
		time.Sleep(200 * time.Microsecond)
	}
	// A broken list leaves the one in use.
	if _, err := e.LoadDNO(strings.NewReader("version,3\nnumber\nnot a number\n")); err == nil {
		t.Error("a broken list loaded")
	}
	close(stop)
	wg.Wait()
	if e.DNO().Version() != "2026-11-26.1" {
		t.Errorf("after a failed load the version is %q", e.DNO().Version())
	}
	if bad.Load() != 0 || blockedV1.Load() == 0 || allowedV1.Load() == 0 {
		t.Errorf("during reloads: %d blocked (v1), %d allowed (v2), %d inconsistent verdicts", blockedV1.Load(), allowedV1.Load(), bad.Load())
	}
	if len(versions) != 2 {
		t.Errorf("versions loaded: %v", versions)
	}
	t.Logf("%d verdicts by v1, %d by v2 during 200 reloads", blockedV1.Load(), allowedV1.Load())
}

// TestAllocs: an unsigned call screened into a reused Verdict allocates nothing; Screen
// allocates the Verdict only.
func TestAllocs(t *testing.T) {
	e, _ := setup(t, screen.Config{})
	req := &unspoof.ScreenRequest{From: "sip:+447400123456@sbc.example;user=phone", To: "+447400999888", SourceIP: "203.0.113.7",
		Trunk: "peer-1", Ingress: unspoof.IngressInternational}
	var v unspoof.Verdict
	e.ScreenInto(context.Background(), req, &v) // the Reasons' memory
	if n := testing.AllocsPerRun(1000, func() { e.ScreenInto(context.Background(), req, &v) }); n != 0 {
		t.Errorf("ScreenInto: %v allocations", n)
	}
	reqs := benchRequests(1000)
	i := 0
	if n := testing.AllocsPerRun(1000, func() { e.Screen(context.Background(), &reqs[i%len(reqs)]); i++ }); n != 1 {
		t.Errorf("Screen: %v allocations", n)
	}
	// So does a verdict with two reasons (a UK mobile from abroad; from the 61st call on, too
	// many calls from the number).
	two := &unspoof.ScreenRequest{From: req.From, To: req.To, Ingress: unspoof.IngressInternational}
	if n := testing.AllocsPerRun(1000, func() { e.Screen(context.Background(), two) }); n != 1 {
		t.Errorf("Screen with reasons: %v allocations", n)
	}
	if v := e.Screen(context.Background(), two); len(v.Reasons) != 2 {
		t.Errorf("reasons: %+v", v.Reasons)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"+447700900123": "+4477…123", "+44123": "…", "": "…", "+12025550143": "+1202…143"} {
		if got := screen.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// benchRequests are unsigned calls from n numbers and n/4 source addresses (so that velocity
// tracks many sources), none of them on a list. Each request's strings lie together in memory,
// as a request just decoded does, not scattered over the heap.
func benchRequests(n int) []unspoof.ScreenRequest {
	reqs := make([]unspoof.ScreenRequest, n)
	var b strings.Builder
	var ends [5]int
	for i := range reqs {
		b.Reset()
		for f, s := range []string{"+4474001" + pad(i*7919%100000, 5), "+4474009" + pad(i, 5),
			"10.1." + itoa(i/4%256) + "." + itoa(i%4*64), "peer-" + itoa(i%4), "c" + itoa(i)} {
			b.WriteString(s)
			ends[f] = b.Len()
		}
		all := b.String()
		reqs[i] = unspoof.ScreenRequest{From: all[:ends[0]], To: all[ends[0]:ends[1]], SourceIP: all[ends[1]:ends[2]],
			Trunk: all[ends[2]:ends[3]], CallID: all[ends[3]:ends[4]]}
	}
	return reqs
}

// benchClock is a clock that moves 100 µs a call: 10,000 calls a second, so that each of
// benchRequests(16384)'s numbers calls 37 times a minute and each address 146 times, under the
// velocity thresholds, as most sources are.
func benchClock() func() time.Time {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC).UnixNano()
	var n atomic.Int64
	return func() time.Time { return time.Unix(0, t0+n.Add(1)*int64(100*time.Microsecond)) }
}

// BenchmarkScreen screens unsigned calls with every rule on, as Screen does (one allocation:
// the Verdict) and as ScreenInto into a reused Verdict (none). Run with -cpu 1. Besides ns/op
// (wall time) it reports cpu-ns/op, the process's CPU time per call (GC included), which other
// work on a shared machine does not inflate.
func BenchmarkScreen(b *testing.B) {
	e, _ := setup(b, screen.Config{Now: benchClock()})
	reqs := benchRequests(1 << 14)
	warm := func(e *screen.Engine) { // a server's steady state: every source seen, tables in memory
		var v unspoof.Verdict
		for i := range reqs {
			e.ScreenInto(context.Background(), &reqs[i], &v)
		}
	}
	warm(e)
	b.Run("Screen", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		i := 0
		for b.Loop() {
			e.Screen(context.Background(), &reqs[i&(len(reqs)-1)])
			i++
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("ScreenInto", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		var v unspoof.Verdict
		i := 0
		for b.Loop() {
			e.ScreenInto(context.Background(), &reqs[i&(len(reqs)-1)], &v)
			i++
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		if v.Action != "allow" {
			b.Fatalf("benchmark calls are not clean: %s %+v", v.Action, v.Reasons)
		}
	})
	b.Run("national", func(b *testing.B) { // numbers as dialled at home: E.164 strings are made
		nat := slices.Clone(reqs)
		for i := range nat {
			nat[i].From = "0" + nat[i].From[3:]
			nat[i].To = "0" + nat[i].To[3:]
		}
		b.ReportAllocs()
		cpu := cpuTime()
		var v unspoof.Verdict
		i := 0
		for b.Loop() {
			e.ScreenInto(context.Background(), &nat[i&(len(nat)-1)], &v)
			i++
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
	// On every core (-cpu 2): the real clock (a shared fake one would be the bottleneck), so
	// thresholds out of reach.
	b.Run("parallel", func(b *testing.B) {
		e, _ := setup(b, screen.Config{Velocity: screen.VelocityConfig{NumberCalls: 1 << 30, NumberDestinations: screen.MaxDestinations,
			IPCalls: 1 << 30, IPDestinations: screen.MaxDestinations}})
		warm(e)
		b.ReportAllocs()
		b.ResetTimer()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			var v unspoof.Verdict
			i := int(n.Add(1)) * 4099
			for pb.Next() {
				e.ScreenInto(context.Background(), &reqs[i&(len(reqs)-1)], &v)
				i++
			}
			if v.Action != "allow" && v.Action != "" { // "": this goroutine had no call to make
				b.Errorf("benchmark calls are not clean: %s %+v", v.Action, v.Reasons)
			}
		})
	})
}

// cpuTime returns the CPU time the process has used, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
