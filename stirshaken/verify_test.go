package stirshaken

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

const (
	alice = "+441632960001" // Ofcom drama numbers
	bob   = "+441632960002"
)

// env is a test PKI whose SP certificate an HTTPS server on loopback serves, and a Verifier
// trusting its CA that fetches from there.
type env struct {
	pki      *testPKI
	srv      *httptest.Server
	x5u      string
	fetches  *atomic.Int64
	verifier *Verifier
	signer   Signer
}

func setup(t testing.TB, o pkiOpts, cfg Config) *env {
	t.Helper()
	e := &env{pki: newPKI(t, o), fetches: new(atomic.Int64)}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.fetches.Add(1)
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(e.pki.spPEM)
	}))
	t.Cleanup(e.srv.Close)
	e.x5u = e.srv.URL + "/sp.pem"
	if cfg.Fetcher == nil {
		cfg.Fetcher = NewFetcher(FetcherConfig{Client: onlyTo(t, e.srv), AllowPrivate: true, Now: cfg.Now})
	}
	if cfg.TrustAnchors == nil {
		cfg.TrustAnchors = []*x509.Certificate{e.pki.ca}
	}
	e.verifier = NewVerifier(cfg)
	e.signer = Signer{Key: e.pki.spKey, X5U: e.x5u}
	return e
}

func (e *env) sign(t testing.TB, iat time.Time) string {
	t.Helper()
	h, err := e.signer.Sign(alice, []string{bob}, "A", "", iat)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// onlyTo returns the test server's client, made unable to connect anywhere else: tests must
// never send a packet beyond loopback, whatever a URL in them says.
func onlyTo(t testing.TB, srv *httptest.Server) *http.Client {
	c := srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if a != addr {
			t.Errorf("test client asked to connect to %s", a)
			return nil, errors.New("test client connects only to its server")
		}
		return dial(ctx, network, a)
	}
	return &http.Client{Transport: tr}
}

// refusingClient is an http.Client that never reaches a network.
func refusingClient() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network in this test")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSignVerify(t *testing.T) {
	t.Parallel()
	e := setup(t, pkiOpts{}, Config{})
	h := e.sign(t, time.Now())
	id, err := ParseIdentity(h)
	if err != nil || id.Info != e.x5u || id.Alg != "ES256" || id.PPT != "shaken" {
		t.Fatalf("signed header %q: %+v %v", h, id, err)
	}
	p, err := ParsePASSporT(id.Token)
	if err != nil {
		t.Fatal(err)
	}
	if hd := p.Header; hd.Alg != "ES256" || hd.Typ != "passport" || hd.PPT != "shaken" || hd.X5U != e.x5u || hd.Crit != nil || p.Claims.Orig.TN != "441632960001" ||
		len(p.Claims.Dest.TN) != 1 || p.Claims.Dest.TN[0] != "441632960002" || len(p.Claims.OrigID) != 36 {
		t.Errorf("signed PASSporT: %+v", p)
	}
	// RFC 8225 §9: claims in lexicographic order, no white space.
	claims, _ := decodeRaw(strings.Split(id.Token, ".")[1])
	if !strings.HasPrefix(claims, `{"attest":"A","dest":{"tn":["441632960002"]},"iat":`) || strings.Contains(claims, " ") {
		t.Errorf("claims %s", claims)
	}
	got := e.verifier.VerifyCall(context.Background(), []string{h}, alice, bob)
	if got.Verstat != unspoof.VerstatPassed || got.Attest != "A" || got.SPC != "1234" || got.OrigID != p.Claims.OrigID || len(got.Reasons) != 0 {
		t.Fatalf("verify: %+v", got)
	}
	hr := got.Headers[0]
	if !hr.Passed || hr.Orig != "441632960001" || hr.X5U != e.x5u || hr.IAT.Unix() != p.Claims.IAT {
		t.Errorf("header result %+v", hr)
	}
	// The From and To in other spellings of the same numbers.
	if got := e.verifier.VerifyCall(context.Background(), []string{h}, "tel:+44-1632-960001", "441632960002"); got.Verstat != unspoof.VerstatPassed {
		t.Errorf("other spellings: %s %s", got.Verstat, codes(got.Reasons))
	}
	// No header.
	if got := e.verifier.VerifyCall(context.Background(), nil, alice, bob); got.Verstat != unspoof.VerstatNone || len(got.Reasons) != 0 {
		t.Errorf("no header: %+v", got)
	}
	if got := e.verifier.VerifyCall(context.Background(), []string{" "}, alice, bob); got.Verstat != unspoof.VerstatNone {
		t.Errorf("blank header: %+v", got)
	}
	if n := e.fetches.Load(); n != 1 {
		t.Errorf("%d fetches of the certificate, want 1 (cached)", n)
	}
}

// TestNegative holds the cases a weaker verifier accepts. Each must fail with exactly the
// reasons listed, and nothing else.
func TestNegative(t *testing.T) {
	t.Parallel()
	now := time.Now()
	e := setup(t, pkiOpts{}, Config{})
	other := newPKI(t, pkiOpts{})
	expired := setup(t, pkiOpts{notBefore: now.AddDate(-2, 0, 0), notAfter: now.Add(-time.Hour)}, Config{})
	notYet := setup(t, pkiOpts{notBefore: now.Add(time.Hour)}, Config{})
	noTN := setup(t, pkiOpts{tnAuthList: []byte{}}, Config{})
	tnOnly, _ := MarshalTNAuthList(&TNAuthList{TNs: []string{"441632960999"}, Ranges: []TNRange{{Start: "441632960100", Count: 100}}})
	numbers := setup(t, pkiOpts{tnAuthList: tnOnly, critical: true}, Config{})
	untrusted := setup(t, pkiOpts{}, Config{TrustAnchors: []*x509.Certificate{other.ca}})
	defaultFetcher := setup(t, pkiOpts{}, Config{Fetcher: NewFetcher(FetcherConfig{})})

	claims := func(mut func(c map[string]any)) map[string]any {
		c := shakenClaims("441632960001", "441632960002", now)
		if mut != nil {
			mut(c)
		}
		return c
	}
	header := func(mut func(h map[string]any)) map[string]any {
		h := shakenHeader(e.x5u)
		if mut != nil {
			mut(h)
		}
		return h
	}
	raw := func(h, c map[string]any) string {
		return identityValue(rawToken(t, e.pki.spKey, h, c), h["x5u"].(string))
	}
	signWith := func(s Signer) string {
		h, err := s.Sign(alice, []string{bob}, "A", "x", now)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	cases := []struct {
		name   string
		v      *Verifier
		header string
		from   string
		want   string
	}{
		{"iat 5 minutes ahead", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() })), alice, "passport-future"},
		{"iat 61 s ago", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["iat"] = now.Add(-61 * time.Second).Unix() })), alice, "passport-stale"},
		{"iat 50 s ago", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["iat"] = now.Add(-50 * time.Second).Unix() })), alice, ""},
		{"attest Z", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["attest"] = "Z" })), alice, "attest-invalid"},
		{"no attest", e.verifier, raw(header(nil), claims(func(c map[string]any) { delete(c, "attest") })), alice, "attest-invalid"},
		{"garbage orig", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["orig"] = map[string]any{"tn": "44163296OOO1"} })), alice, "orig-invalid"},
		{"orig a URI", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["orig"] = map[string]any{"uri": "sip:alice@example.org"} })), alice, "orig-invalid"},
		{"16-digit orig", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["orig"] = map[string]any{"tn": "4416329600011234"} })), alice, "orig-invalid"},
		{"empty origid", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["origid"] = "" })), alice, "origid-missing"},
		{"replayed to another From", e.verifier, raw(header(nil), claims(nil)), "+441632960003", "orig-mismatch"},
		{"From not a number", e.verifier, raw(header(nil), claims(nil)), "anonymous", "orig-mismatch"},
		{"another To", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["dest"] = map[string]any{"tn": []string{"441632960009"}} })), alice, "dest-mismatch"},
		{"no dest", e.verifier, raw(header(nil), claims(func(c map[string]any) { c["dest"] = map[string]any{} })), alice, "dest-invalid"},
		{"alg RS256", e.verifier, raw(header(func(h map[string]any) { h["alg"] = "RS256" }), claims(nil)), alice, "alg-unsupported"},
		{"alg none", e.verifier, raw(header(func(h map[string]any) { h["alg"] = "none" }), claims(nil)), alice, "alg-unsupported"},
		{"alg ES384", e.verifier, raw(header(func(h map[string]any) { h["alg"] = "ES384" }), claims(nil)), alice, "alg-unsupported"},
		{"alg=RS256 parameter", e.verifier, strings.Replace(e.sign(t, now), "alg=ES256", "alg=RS256", 1), alice, "alg-unsupported"},
		{"ppt foo", e.verifier, raw(header(func(h map[string]any) { h["ppt"] = "foo" }), claims(nil)), alice, "ppt-unsupported"},
		{"typ JWT", e.verifier, raw(header(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil)), alice, "identity-malformed"},
		{"crit header", e.verifier, raw(header(func(h map[string]any) { h["crit"] = []string{"foo"}; h["foo"] = 1 }), claims(nil)), alice, "identity-malformed"},
		{"info is not x5u", e.verifier, strings.Replace(e.sign(t, now), "info=<https://", "info=<https://x", 1), alice, "identity-malformed"},
		{"not base64", e.verifier, "eyJ!.eyJ.sig;info=<" + e.x5u + ">", alice, "identity-malformed"},
		{"signed by a key not in the certificate", e.verifier, signWith(Signer{Key: other.spKey, X5U: e.x5u}), alice, "bad-signature"},
		{"claims changed after signing", e.verifier, swapClaims(t, e.sign(t, now), raw(header(nil), claims(func(c map[string]any) { c["attest"] = "B" }))), alice, "bad-signature"},
		{"expired certificate", expired.verifier, signWith(expired.signer), alice, "cert-expired"},
		{"certificate not valid yet", notYet.verifier, signWith(notYet.signer), alice, "cert-expired"},
		{"certificate from an untrusted CA", untrusted.verifier, signWith(untrusted.signer), alice, "cert-untrusted"},
		{"certificate without TNAuthList", noTN.verifier, signWith(noTN.signer), alice, "tnauthlist-malformed"},
		{"TNAuthList of other numbers", numbers.verifier, signWith(numbers.signer), alice, "orig-unauthorized"},
		{"x5u over http", e.verifier, signWith(Signer{Key: e.pki.spKey, X5U: "http://certs.example.org/sp.pem"}), alice, "x5u-refused"},
		{"x5u to a private address", defaultFetcher.verifier, signWith(Signer{Key: e.pki.spKey, X5U: "https://10.20.30.40/sp.pem"}), alice, "x5u-refused"},
		{"x5u to loopback", defaultFetcher.verifier, signWith(defaultFetcher.signer), alice, "x5u-refused"},
		{"x5u to localhost", defaultFetcher.verifier, signWith(Signer{Key: e.pki.spKey, X5U: "https://localhost/sp.pem"}), alice, "x5u-refused"},
		{"x5u to IPv6 link-local", defaultFetcher.verifier, signWith(Signer{Key: e.pki.spKey, X5U: "https://[fe80::1]/sp.pem"}), alice, "x5u-refused"},
		{"x5u to mapped IPv4 loopback", defaultFetcher.verifier, signWith(Signer{Key: e.pki.spKey, X5U: "https://[::ffff:127.0.0.1]/sp.pem"}), alice, "x5u-refused"},
		{"x5u 404", e.verifier, signWith(Signer{Key: e.pki.spKey, X5U: e.srv.URL + "/nothing"}), alice, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.v.VerifyCall(context.Background(), []string{c.header}, c.from, bob)
			if codes(got.Reasons) != c.want {
				t.Errorf("reasons %s, want %s\n%v", codes(got.Reasons), c.want, got.Reasons)
			}
			wantVerstat := unspoof.VerstatFailed
			if c.want == "" {
				wantVerstat = unspoof.VerstatPassed
			}
			if got.Verstat != wantVerstat || (wantVerstat == unspoof.VerstatFailed) != (got.Attest == "") {
				t.Errorf("verstat %s attest %q", got.Verstat, got.Attest)
			}
			for _, r := range got.Reasons {
				if r.Rule != "stirshaken" || r.Detail == "" || strings.Contains(r.Detail, "960001") {
					t.Errorf("reason %+v: want rule stirshaken, a detail, no full number", r)
				}
			}
		})
	}
}

// swapClaims puts the claims of other's token into header's token, keeping header's signature.
func swapClaims(t *testing.T, header, other string) string {
	tok, params, _ := strings.Cut(header, ";")
	otok, _, _ := strings.Cut(other, ";")
	a, b := strings.Split(tok, "."), strings.Split(otok, ".")
	return a[0] + "." + b[1] + "." + a[2] + ";" + params
}

// TestChainAndKeys: an SP certificate under a P-384 root, with its TNAuthList critical,
// verifies; its SPC is reported; the chain is verified once.
func TestChainAndKeys(t *testing.T) {
	t.Parallel()
	e := setup(t, pkiOpts{caCurve: elliptic.P384(), critical: true}, Config{})
	for range 3 {
		got := e.verifier.VerifyCall(context.Background(), []string{e.sign(t, time.Now())}, alice, bob)
		if got.Verstat != unspoof.VerstatPassed || got.SPC != "1234" {
			t.Fatalf("P-384 root: %s %s spc %q", got.Verstat, codes(got.Reasons), got.SPC)
		}
	}
	if n := e.verifier.nchain.Load(); n != 1 {
		t.Errorf("chain verified %d times, want once", n)
	}
}

// TestCertExpiresWhileCached: a cached, verified chain stops verifying when its certificate
// expires; the clock moves, not the cache.
func TestCertExpiresWhileCached(t *testing.T) {
	t.Parallel()
	clock := time.Now()
	now := func() time.Time { return clock }
	e := setup(t, pkiOpts{notAfter: clock.Add(10 * time.Minute)}, Config{Now: now})
	if got := e.verifier.VerifyCall(context.Background(), []string{e.sign(t, clock)}, alice, bob); got.Verstat != unspoof.VerstatPassed {
		t.Fatalf("before expiry: %s", codes(got.Reasons))
	}
	clock = clock.Add(11 * time.Minute)
	got := e.verifier.VerifyCall(context.Background(), []string{e.sign(t, clock)}, alice, bob)
	if codes(got.Reasons) != "cert-expired" {
		t.Errorf("after expiry: %s", codes(got.Reasons))
	}
}

// TestSeveralHeaders: a call passes if one header verifies; the others' findings are kept,
// report-only; with none verifying, every header's reasons are given, each naming its header.
func TestSeveralHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t, pkiOpts{}, Config{})
	now := time.Now()
	good := e.sign(t, now)
	stale := e.sign(t, now.Add(-time.Hour))
	bSigned, _ := e.signer.Sign(alice, []string{bob}, "B", "b", now)
	got := e.verifier.VerifyCall(context.Background(), []string{stale, "garbage", bSigned + ", " + good}, alice, bob)
	if got.Verstat != unspoof.VerstatPassed || got.Attest != "A" || len(got.Headers) != 4 {
		t.Fatalf("%s attest %q, %d headers", got.Verstat, got.Attest, len(got.Headers))
	}
	if codes(got.Reasons) != "passport-stale?,identity-malformed?" || !strings.HasPrefix(got.Reasons[1].Detail, "Identity 2: ") {
		t.Errorf("reasons %v", got.Reasons)
	}
	got = e.verifier.VerifyCall(context.Background(), []string{stale, "garbage"}, alice, bob)
	if got.Verstat != unspoof.VerstatFailed || codes(got.Reasons) != "passport-stale,identity-malformed" || got.Attest != "" {
		t.Errorf("none good: %s %s", got.Verstat, codes(got.Reasons))
	}
}

// TestDiversion: a call from Alice to Bob, diverted by Bob's network to Carol, carries Alice's
// SHAKEN PASSporT (dest Bob) and a div PASSporT (orig Alice, dest Carol, div Bob). At Carol
// it verifies; without the div PASSporT it does not.
func TestDiversion(t *testing.T) {
	t.Parallel()
	e := setup(t, pkiOpts{}, Config{})
	const carol = "+441632960003"
	now := time.Now()
	shaken := e.sign(t, now)
	h := shakenHeader(e.x5u)
	h["ppt"] = "div"
	div := rawToken(t, e.pki.spKey, h, map[string]any{"dest": map[string]any{"tn": []string{"441632960003"}},
		"div": map[string]any{"tn": "441632960002"}, "iat": now.Unix(), "orig": map[string]any{"tn": "441632960001"}})
	divHeader := div + ";info=<" + e.x5u + ">;ppt=div"
	got := e.verifier.VerifyCall(context.Background(), []string{shaken, divHeader}, alice, carol)
	if got.Verstat != unspoof.VerstatPassed || got.Attest != "A" || !got.Headers[0].Diverted || got.Headers[1].Div != "441632960002" ||
		got.Headers[1].PPT != "div" || len(got.Reasons) != 0 {
		t.Errorf("diverted call: %s %s %+v", got.Verstat, codes(got.Reasons), got.Headers)
	}
	got = e.verifier.VerifyCall(context.Background(), []string{shaken}, alice, carol)
	if got.Verstat != unspoof.VerstatFailed || codes(got.Reasons) != "dest-mismatch" {
		t.Errorf("without div: %s %s", got.Verstat, codes(got.Reasons))
	}
	// A div PASSporT alone is no attestation.
	got = e.verifier.VerifyCall(context.Background(), []string{divHeader}, alice, carol)
	if got.Verstat != unspoof.VerstatFailed || !got.Headers[0].Passed {
		t.Errorf("div alone: %s %+v", got.Verstat, got.Headers)
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	p := newPKI(t, pkiOpts{})
	s := Signer{Key: p.spKey, X5U: "https://certs.example.org/sp.pem"}
	for _, c := range []struct {
		s            Signer
		orig, attest string
		dest         []string
	}{
		{Signer{X5U: s.X5U}, alice, "A", []string{bob}},
		{Signer{Key: genKey(t, elliptic.P384()), X5U: s.X5U}, alice, "A", []string{bob}},
		{Signer{Key: p.spKey, X5U: "sp.pem"}, alice, "A", []string{bob}},
		{s, "Bob", "A", []string{bob}},
		{s, alice, "D", []string{bob}},
		{s, alice, "A", nil},
		{s, alice, "A", []string{"+44 1632 96000x"}},
	} {
		if h, err := c.s.Sign(c.orig, c.dest, c.attest, "", time.Now()); err == nil || !strings.HasPrefix(err.Error(), "sign: ") {
			t.Errorf("Sign(%q, %q, %q) = %q, %v; want a sign: error", c.orig, c.dest, c.attest, h, err)
		}
	}
}

// TestConcurrentVerify: one Verifier, many goroutines, good and forged headers sharing a
// protected header and a certificate: each gets its own answer (run with -race).
func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	e := setup(t, pkiOpts{}, Config{})
	other := newPKI(t, pkiOpts{})
	now := time.Now()
	good := e.sign(t, now)
	forged, err := Signer{Key: other.spKey, X5U: e.x5u}.Sign(alice, []string{bob}, "A", "", now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				h, want := good, unspoof.VerstatPassed
				if (g+i)%3 == 0 {
					h, want = forged, unspoof.VerstatFailed
				}
				if got := e.verifier.VerifyCall(context.Background(), []string{h}, alice, bob); got.Verstat != want {
					t.Errorf("goroutine %d call %d: %s, want %s (%s)", g, i, got.Verstat, want, codes(got.Reasons))
					return
				}
			}
		})
	}
	wg.Wait()
	if n := e.fetches.Load(); n != 1 {
		t.Errorf("%d certificate fetches, want 1", n)
	}
}
