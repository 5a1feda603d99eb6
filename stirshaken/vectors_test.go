package stirshaken

import (
	"bufio"
	"context"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// The reference PKI of signalwire/libstirshaken, unchanged (see ../shared/vectors/README.md).
const (
	vectors    = "../../shared/vectors/libstirshaken/"
	vectorsX5U = "https://shaken.signalwire.cloud/sp.pem" // the x5u in the README tokens
)

// vectorSetup returns the README tokens and a Verifier config trusting the test STI-CA, with
// sp.pem preloaded for the tokens' x5u.
func vectorSetup(t *testing.T) ([]string, Config) {
	t.Helper()
	f, err := os.Open(vectors + "sp/readme-passports.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tokens []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			tokens = append(tokens, line)
		}
	}
	if len(tokens) != 3 {
		t.Fatalf("%d tokens in readme-passports.txt, want 3", len(tokens))
	}
	return tokens, Config{TrustAnchors: readCerts(t, vectors+"ca/ca.pem"), Fetcher: preloaded(t, vectorsX5U, vectors+"sp/sp.pem")}
}

func readCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func preloaded(t *testing.T, x5u, path string) *Fetcher {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(FetcherConfig{Client: refusingClient()})
	if err := f.Preload(x5u, data); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLibstirshakenVectors: every README token carries a valid signature under the test SP's
// key, so with the clock at its iat only the certificate's malformed TNAuthList stands in the
// way; with the real clock each is stale; the one with "Alice" and "Bob" for numbers fails.
func TestLibstirshakenVectors(t *testing.T) {
	t.Parallel()
	tokens, cfg := vectorSetup(t)
	ctx := context.Background()
	for i, tok := range tokens {
		p, err := ParsePASSporT(tok)
		if err != nil {
			t.Fatalf("token %d: %v", i+1, err)
		}
		if p.Header.X5U != vectorsX5U || p.Claims.Attest != "B" {
			t.Fatalf("token %d: x5u %q attest %q", i+1, p.Header.X5U, p.Claims.Attest)
		}
		iat := time.Unix(p.Claims.IAT, 0)
		header := []string{identityValue(tok, vectorsX5U)}
		from, to := "+"+p.Claims.Orig.TN, "+"+p.Claims.Dest.TN[0] // the tokens' own numbers

		atIAT := cfg
		atIAT.Now = func() time.Time { return iat.Add(2 * time.Second) }
		if p.Claims.Orig.TN == "Bob" {
			got := NewVerifier(atIAT).VerifyCall(ctx, header, "+441632960001", "+441632960002")
			want := "orig-invalid,dest-invalid,tnauthlist-malformed"
			if got.Verstat != unspoof.VerstatFailed || codes(got.Reasons) != want {
				t.Errorf("token %d (TNs Bob → Alice): %s %s, want failed %s", i+1, got.Verstat, codes(got.Reasons), want)
			}
			continue
		}
		// Strict: a certificate without a valid TNAuthList proves no authority over numbers.
		got := NewVerifier(atIAT).VerifyCall(ctx, header, from, to)
		if got.Verstat != unspoof.VerstatFailed || codes(got.Reasons) != "tnauthlist-malformed" {
			t.Errorf("token %d at iat: %s %s %v, want failed on tnauthlist-malformed only", i+1, got.Verstat, codes(got.Reasons), got.Reasons)
		}
		// Lax (for test PKIs): signature, chain, freshness and claims all pass.
		lax := atIAT
		lax.LaxTNAuthList = true
		got = NewVerifier(lax).VerifyCall(ctx, header, from, to)
		if got.Verstat != unspoof.VerstatPassed || got.Attest != "B" || got.OrigID != p.Claims.OrigID ||
			codes(got.Reasons) != "tnauthlist-malformed?" || got.SPC != "" {
			t.Errorf("token %d at iat, lax: %s attest %q origid %q spc %q reasons %s", i+1, got.Verstat, got.Attest, got.OrigID, got.SPC, codes(got.Reasons))
		}
		if d := got.Reasons[0].Detail; !strings.Contains(d, "tnauthlist") {
			t.Errorf("token %d: TNAuthList detail %q", i+1, d)
		}
		// One bit off in the signature.
		bad := []byte(tok)
		bad[len(bad)-5] ^= 'A' ^ 'B'
		if bad[len(bad)-5] == tok[len(tok)-5] {
			t.Fatal("no change")
		}
		got = NewVerifier(lax).VerifyCall(ctx, []string{identityValue(string(bad), vectorsX5U)}, from, to)
		if got.Verstat != unspoof.VerstatFailed || !strings.Contains(codes(got.Reasons), "bad-signature") {
			t.Errorf("token %d with a changed signature: %s %s", i+1, got.Verstat, codes(got.Reasons))
		}
		// The UK reading of its national-format numbers is not what it signed.
		got = NewVerifier(lax).VerifyCall(ctx, header, "+44"+p.Claims.Orig.TN[1:], to)
		if codes(got.Reasons) != "orig-mismatch,tnauthlist-malformed?" {
			t.Errorf("token %d from +44…: %s", i+1, codes(got.Reasons))
		}
		// The real clock: years stale.
		real := cfg
		real.LaxTNAuthList = true
		got = NewVerifier(real).VerifyCall(ctx, header, from, to)
		if got.Verstat != unspoof.VerstatFailed || codes(got.Reasons) != "passport-stale,tnauthlist-malformed?" || got.Attest != "" {
			t.Errorf("token %d now: %s %s attest %q, want failed passport-stale", i+1, got.Verstat, codes(got.Reasons), got.Attest)
		}
	}
}

// TestLibstirshakenBadCerts: the malformed TNAuthList is a reason, not a crash; a certificate
// from another CA is untrusted and its key does not match the signature; the http:// x5u and
// string-valued dest of passport.txt are refused.
func TestLibstirshakenBadCerts(t *testing.T) {
	t.Parallel()
	certs := readCerts(t, vectors+"sp/sp.pem")
	if _, err := CertTNAuthList(certs[0]); err == nil || !strings.Contains(err.Error(), "SEQUENCE") {
		t.Errorf("sp.pem TNAuthList: %v, want a not-a-SEQUENCE error", err)
	}
	tokens, cfg := vectorSetup(t)
	p, _ := ParsePASSporT(tokens[0])
	cfg.Fetcher = preloaded(t, vectorsX5U, vectors+"sp/wrongsp.pem")
	cfg.Now = func() time.Time { return time.Unix(p.Claims.IAT, 0) }
	got := NewVerifier(cfg).VerifyCall(context.Background(), []string{identityValue(tokens[0], vectorsX5U)},
		"+"+p.Claims.Orig.TN, "+"+p.Claims.Dest.TN[0])
	if codes(got.Reasons) != "cert-untrusted,tnauthlist-malformed,bad-signature" {
		t.Errorf("token under wrongsp.pem: %s", codes(got.Reasons))
	}

	data, err := os.ReadFile(vectors + "sp/passport.txt")
	if err != nil {
		t.Fatal(err)
	}
	var header string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, ";info=<") {
			header = strings.TrimSpace(l)
		}
	}
	id, err := ParseIdentity(header)
	if err != nil || id.Info != "http://shaken.signalwire.cloud/sp.pem" || id.Alg != "ES256" || id.PPT != "shaken" {
		t.Fatalf("passport.txt header: %+v %v", id, err)
	}
	if _, err := ParsePASSporT(id.Token); err == nil || !strings.Contains(err.Error(), "claims") {
		t.Errorf("passport.txt token (dest is a string): %v, want a claims error", err)
	}
	got = NewVerifier(cfg).VerifyCall(context.Background(), []string{header}, "+01256789999", "+01256500600")
	if got.Verstat != unspoof.VerstatFailed || codes(got.Reasons) != "identity-malformed" {
		t.Errorf("passport.txt header: %s %s", got.Verstat, codes(got.Reasons))
	}
}
