package sipscreen_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
	"github.com/unspoof/unspoof/sipscreen"
	"github.com/unspoof/unspoof/sipscreen/siptest"
	"github.com/unspoof/unspoof/stirshaken"
)

// These tests run the redirect server against software nobody on the team wrote: sipp
// (Debian's sip-tester) as caller and callee, kamailio as the proxy, secsipidx signing the
// Identity headers. siptest starts them; without them the tests skip (fail in CI).
//
// The screener is the real engine (screen.Engine) with the real verifier (stirshaken), set as
// a network that blocks failed verifications would set it: a forged signature is declined.

// Numbers of the tests. The DNO number is a bank's inbound-only line; the others are in
// Ofcom's drama ranges, which the engine calls fictional: the numbering rule runs report-only
// here so that they are allowed (and the reason still shows in X-Unspoof-Report-Only).
const (
	numDNO    = "+441632960999" // on the DNO list
	numCaller = "+447700900123" // a caller with a good signature
	numCallee = "+441632960001"
)

// setupScreen starts a redirect server on the real engine, trusting pki's CA.
func setupScreen(t *testing.T, pki *siptest.PKI) *sipscreen.Server {
	t.Helper()
	dno, err := screen.ParseDNO(strings.NewReader("version,test-1\nnumber,org\n"+numDNO+",Test Bank\n"), "GB")
	if err != nil {
		t.Fatal(err)
	}
	var anchors []*x509.Certificate
	var client = pki.Client
	if pki != nil {
		anchors = append(anchors, pki.CA)
	}
	ver := stirshaken.NewVerifier(stirshaken.Config{
		TrustAnchors: anchors,
		// The test CA's x5u is on loopback, which a production fetcher refuses.
		Fetcher: stirshaken.NewFetcher(stirshaken.FetcherConfig{Client: client, AllowPrivate: true}),
	})
	eng, err := screen.New(screen.Config{
		DNO: dno,
		Verifier: screen.VerifierFunc(func(ctx context.Context, id []string, from, to string) screen.IdentityResult {
			r := ver.VerifyCall(ctx, id, from, to)
			return screen.IdentityResult{Verstat: r.Verstat, Attest: r.Attest, OrigID: r.OrigID, SPC: r.SPC, Reasons: r.Reasons}
		}),
		VerifyFailAction: unspoof.ActionBlock,
		Modes:            map[string]screen.Mode{screen.RuleNumbering: screen.ModeReportOnly},
		Deadline:         5 * time.Second, // a loaded test machine must not fail a forged call open
	})
	if err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return setup(t, sipscreen.Config{Screener: eng, Logger: logger})
}

// TestSippDirect: sipp, as a proxy would, asks the redirect server itself, over UDP and TCP.
func TestSippDirect(t *testing.T) {
	t.Parallel()
	pki := siptest.NewPKI(t, "1234")
	srv := setupScreen(t, pki)
	for _, tp := range []string{"u1", "t1"} {
		t.Run(tp, func(t *testing.T) {
			calls := make([]siptest.Call, 20)
			for i := range calls {
				calls[i] = siptest.Call{From: numCaller, To: numCallee}
			}
			res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-redirect.xml", Target: srv.Addr(),
				UAS: "127.0.0.1:5099", Transport: tp, Calls: calls, Rate: 50})
			if res.Exit != 0 {
				t.Fatalf("uac-redirect: sipp exit %d", res.Exit)
			}
			got := res.ReceivedMessages("SIP/2.0 302")
			if len(got) < len(calls) {
				t.Fatalf("%d 302s for %d calls", len(got), len(calls))
			}
			for h, want := range map[string]string{
				"Contact":                  "<sip:" + numCallee + "@127.0.0.1:5099;user=phone>",
				"P-Asserted-Identity":      "<sip:" + numCaller + ";verstat=No-TN-Validation@127.0.0.1;user=phone>",
				sipscreen.HeaderVerdict:    "allow",
				sipscreen.HeaderVerstat:    unspoof.VerstatNone,
				sipscreen.HeaderReportOnly: "fictional-number",
			} {
				if v := siptest.HeaderValue(got[0], h); v != want {
					t.Errorf("302 %s: %q, want %q\n%s", h, v, want, got[0])
				}
			}

			res = siptest.RunUAC(t, siptest.UAC{Scenario: "uac-dno.xml", Target: srv.Addr(), Transport: tp,
				Calls: []siptest.Call{{From: numDNO, To: numCallee}}})
			if res.Exit != 0 {
				t.Fatalf("uac-dno: sipp exit %d", res.Exit)
			}
			declined := res.ReceivedMessages("SIP/2.0 603")
			if len(declined) == 0 || siptest.HeaderValue(declined[0], "Reason") != `SIP;cause=603;text="dno"` {
				t.Errorf("DNO call: want 603 with Reason text dno, got %q", declined)
			}
		})
	}
}

// TestKamailio is the whole path a network would run: sipp calls through kamailio, kamailio
// asks the redirect server and follows its answer, sipp answers as the callee.
//
//   - a DNO-spoofed call is declined: the caller gets the 603 with its Reason; the callee
//     never sees it;
//   - a good call signed by secsipidx reaches the callee (200, ACK, BYE) carrying the verdict:
//     a P-Asserted-Identity with verstat=TN-Validation-Passed and X-Unspoof-Verdict: allow;
//   - a forged signature (another key) is declined.
func TestKamailio(t *testing.T) {
	t.Parallel()
	pki := siptest.NewPKI(t, "1234")
	srv := setupScreen(t, pki)
	k := siptest.StartKamailio(t, srv.Addr())
	uas := siptest.StartUAS(t)

	t.Run("dno", func(t *testing.T) {
		res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-dno.xml", Target: k.Addr, UAS: uas.Addr,
			Calls: []siptest.Call{{From: numDNO, To: numCallee}}})
		if res.Exit != 0 {
			t.Fatalf("sipp exit %d: the DNO call was not declined", res.Exit)
		}
		d := res.ReceivedMessages("SIP/2.0 603")
		if len(d) == 0 || siptest.HeaderValue(d[0], "Reason") != `SIP;cause=603;text="dno"` ||
			siptest.HeaderValue(d[0], sipscreen.HeaderReasons) != "dno" {
			t.Errorf("want the 603 relayed with Reason text dno, got %q", d)
		}
	})

	t.Run("signed", func(t *testing.T) {
		id := pki.Sign(t, numCaller, numCallee)
		before := len(uas.Invites())
		res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-signed.xml", Target: k.Addr, UAS: uas.Addr,
			Calls: []siptest.Call{{From: numCaller, To: numCallee, Identity: id}}})
		if res.Exit != 0 {
			t.Fatalf("sipp exit %d: the signed call did not go through", res.Exit)
		}
		invites := uas.Invites()
		if len(invites) != before+1 {
			t.Fatalf("the callee got %d INVITEs, want 1", len(invites)-before)
		}
		inv := invites[len(invites)-1]
		for h, want := range map[string]string{
			"P-Asserted-Identity":   "<sip:" + numCaller + ";verstat=TN-Validation-Passed@127.0.0.1;user=phone>",
			sipscreen.HeaderVerdict: "allow",
		} {
			if v := siptest.HeaderValue(inv, h); v != want {
				t.Errorf("callee's INVITE %s: %q, want %q", h, v, want)
			}
		}
		if v := siptest.HeaderValue(inv, "Identity"); v != id {
			t.Errorf("callee's INVITE lost the Identity header: %q", v)
		}
	})

	t.Run("forged", func(t *testing.T) {
		id := pki.Forge(t, numCaller, numCallee)
		before := len(uas.Invites())
		res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-forged.xml", Target: k.Addr, UAS: uas.Addr,
			Calls: []siptest.Call{{From: numCaller, To: numCallee, Identity: id}}})
		if res.Exit != 0 {
			t.Fatalf("sipp exit %d: the forged call was not declined", res.Exit)
		}
		d := res.ReceivedMessages("SIP/2.0 603")
		if len(d) == 0 || siptest.HeaderValue(d[0], sipscreen.HeaderVerstat) != unspoof.VerstatFailed {
			t.Errorf("want a 603 with verstat %s, got %q", unspoof.VerstatFailed, d)
		}
		if n := len(uas.Invites()) - before; n != 0 {
			t.Errorf("the callee got %d INVITEs of the forged call", n)
		}
	})
}

// TestSignedDirect: a header secsipidx signed, sent straight to the redirect server, verifies:
// the 302 carries the attestation and the SPC of the test certificate's TNAuthList.
func TestSignedDirect(t *testing.T) {
	t.Parallel()
	pki := siptest.NewPKI(t, "7H3X")
	srv := setupScreen(t, pki)
	p := dial(t, "udp", srv.Addr())
	p.send(invite(p.laddr(), "UDP", "signed-direct", numCaller, "Identity: "+pki.Sign(t, numCaller, numCallee)))
	res := p.recv()
	for h, want := range map[string]string{
		sipscreen.HeaderVerdict: "allow", sipscreen.HeaderVerstat: unspoof.VerstatPassed,
		sipscreen.HeaderAttest: "A", sipscreen.HeaderSPC: "7H3X",
	} {
		if got := header(res, h); got != want {
			t.Errorf("%s: %q, want %q\n%s", h, got, want, res)
		}
	}
}

// TestCommandKamailio runs the path with the real command, `unspoof screen serve --sip`, as a
// network would deploy it: a DNO-spoofed call through kamailio is declined, a good unsigned
// call reaches the callee with the verdict.
func TestCommandKamailio(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the unspoof command")
	}
	t.Parallel()
	siptest.Need(t, "kamailio", "kamailio")
	siptest.Need(t, "sipp", "sip-tester")
	bin := siptest.BuildUnspoof(t)
	dno := filepath.Join(t.TempDir(), "dno.csv")
	if err := os.WriteFile(dno, []byte("version,test-1\nnumber,org\n"+numDNO+",Test Bank\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := siptest.StartScreenServe(t, bin, "--dno", dno, "--report-only", "numbering")
	k := siptest.StartKamailio(t, srv.SIPAddr)
	uas := siptest.StartUAS(t)

	res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-dno.xml", Target: k.Addr, UAS: uas.Addr,
		Calls: []siptest.Call{{From: numDNO, To: numCallee}}})
	if res.Exit != 0 {
		t.Errorf("sipp exit %d: the DNO call was not declined", res.Exit)
	}
	res = siptest.RunUAC(t, siptest.UAC{Scenario: "uac-unsigned.xml", Target: k.Addr, UAS: uas.Addr,
		Calls: []siptest.Call{{From: numCaller, To: numCallee}}})
	if res.Exit != 0 {
		t.Fatalf("sipp exit %d: the unsigned call did not go through", res.Exit)
	}
	invites := uas.Invites()
	if len(invites) != 1 {
		t.Fatalf("the callee got %d INVITEs, want 1", len(invites))
	}
	if v := siptest.HeaderValue(invites[0], "P-Asserted-Identity"); v != "<sip:"+numCaller+";verstat=No-TN-Validation@127.0.0.1;user=phone>" {
		t.Errorf("callee's P-Asserted-Identity %q", v)
	}
	if v := siptest.HeaderValue(invites[0], sipscreen.HeaderVerdict); v != "allow" {
		t.Errorf("callee's %s %q", sipscreen.HeaderVerdict, v)
	}
}

// TestKamailioSigns: kamailio signs an unsigned call itself (its secsipid module, as an
// originating network's authentication service) before asking the screening server, which
// verifies a header that software nobody on the team wrote made.
func TestKamailioSigns(t *testing.T) {
	t.Parallel()
	pki := siptest.NewPKI(t, "4321")
	srv := setupScreen(t, pki)
	k := siptest.StartKamailio(t, srv.Addr(), siptest.KamailioSigner{KeyPath: pki.KeyPath, X5U: pki.X5U})
	uas := siptest.StartUAS(t)
	res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-unsigned.xml", Target: k.Addr, UAS: uas.Addr,
		Calls: []siptest.Call{{From: numCaller, To: numCallee}}})
	if res.Exit != 0 {
		t.Fatalf("sipp exit %d: the call did not go through", res.Exit)
	}
	invites := uas.Invites()
	if len(invites) != 1 {
		t.Fatalf("the callee got %d INVITEs, want 1", len(invites))
	}
	if siptest.HeaderValue(invites[0], "Identity") == "" {
		t.Errorf("kamailio did not sign the call:\n%s", invites[0])
	}
	if v := siptest.HeaderValue(invites[0], "P-Asserted-Identity"); v != "<sip:"+numCaller+";verstat=TN-Validation-Passed@127.0.0.1;user=phone>" {
		t.Errorf("callee's P-Asserted-Identity %q, want verstat TN-Validation-Passed\n%s", v, invites[0])
	}
}

// TestKamailioFailsOpen: with the screening server down, kamailio.cfg routes calls unscreened
// after its 2 s timer, as the server itself fails open.
func TestKamailioFailsOpen(t *testing.T) {
	t.Parallel()
	down := fmt.Sprintf("127.0.0.1:%d", siptest.FreePort(t)) // nothing listens there
	k := siptest.StartKamailio(t, down)
	uas := siptest.StartUAS(t)
	res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-unsigned.xml", Target: k.Addr, UAS: uas.Addr,
		Calls: []siptest.Call{{From: numCaller, To: numCallee}}})
	if res.Exit != 0 {
		t.Fatalf("sipp exit %d: the call was not routed unscreened", res.Exit)
	}
	invites := uas.Invites()
	if len(invites) != 1 || siptest.HeaderValue(invites[0], sipscreen.HeaderVerdict) != "" {
		t.Errorf("want one unscreened INVITE at the callee, got %q", invites)
	}
}
