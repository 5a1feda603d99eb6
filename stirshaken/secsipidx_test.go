package stirshaken

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// secsipidx returns the path of Debian's secsipidx (Kamailio's STIR/SHAKEN library, as a
// CLI). Without it the test is skipped, except in CI, where it fails.
func secsipidx(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("secsipidx")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("secsipidx not installed (Debian package secsipidx; scripts/test.sh installs it)")
		}
		t.Skip("secsipidx not installed (apt-get install secsipidx)")
	}
	return path
}

// runSecsipidx runs it and returns its exit code and output.
func runSecsipidx(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestSecsipidxSignsWeVerify: Identity headers secsipidx signs with our test SP's key verify
// here, fetched over HTTPS; changed numbers do not.
func TestSecsipidxSignsWeVerify(t *testing.T) {
	t.Parallel()
	bin := secsipidx(t)
	e := setup(t, pkiOpts{}, Config{})
	dir := t.TempDir()
	e.pki.write(t, dir)
	for _, attest := range []string{"A", "B", "C"} {
		code, out := runSecsipidx(t, bin, "-S", "-k", filepath.Join(dir, "sp.key"), "-o", "441632960001", "-d", "441632960002",
			"-a", attest, "-orig-id", "5b7a6d2e-2f7e-4c38-9d1b-58b1c2a1e001", "-x5u", e.x5u)
		header := strings.TrimSpace(out)
		if code != 0 {
			t.Fatalf("secsipidx -S: exit %d: %s", code, out)
		}
		got := e.verifier.VerifyCall(context.Background(), []string{header}, alice, bob)
		if got.Verstat != unspoof.VerstatPassed || got.Attest != attest || got.SPC != "1234" ||
			got.OrigID != "5b7a6d2e-2f7e-4c38-9d1b-58b1c2a1e001" || len(got.Reasons) != 0 {
			t.Errorf("secsipidx header (attest %s) %q: %+v", attest, header, got)
		}
		got = e.verifier.VerifyCall(context.Background(), []string{header}, "+441632960003", bob)
		if codes(got.Reasons) != "orig-mismatch" {
			t.Errorf("secsipidx header from another number: %s", codes(got.Reasons))
		}
	}
	if n := e.fetches.Load(); n != 1 {
		t.Errorf("%d certificate fetches, want 1", n)
	}
}

// TestWeSignSecsipidxVerifies: headers we sign pass secsipidx's check of signature, x5u/info,
// freshness and certificate chain (-cert-verify 5: validity times and our CA file), with the
// certificate from a file and over HTTP; a wrong key, a stale iat or another CA fail it.
func TestWeSignSecsipidxVerifies(t *testing.T) {
	t.Parallel()
	bin := secsipidx(t)
	p := newPKI(t, pkiOpts{})
	other := newPKI(t, pkiOpts{})
	dir := t.TempDir()
	p.write(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "other-ca.pem"), other.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(p.spPEM) }))
	defer srv.Close()
	x5u := srv.URL + "/sp.pem"
	sign := func(s Signer, iat time.Time) string {
		h, err := s.Sign(alice, []string{bob}, "A", "", iat)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	now := time.Now()
	good := Signer{Key: p.spKey, X5U: x5u}
	check := func(header, pub, ca string) (int, string) {
		return runSecsipidx(t, bin, "-c", "-identity", header, "-p", pub, "-expire", "60",
			"-cert-verify", "5", "-ca-file", filepath.Join(dir, ca))
	}
	for _, c := range []struct {
		name, header, pub, ca string
		ok                    bool
	}{
		{"certificate from file", sign(good, now), filepath.Join(dir, "sp.pem"), "ca.pem", true},
		{"certificate over HTTP", sign(good, now), x5u, "ca.pem", true},
		{"signed by another key", sign(Signer{Key: other.spKey, X5U: x5u}, now), filepath.Join(dir, "sp.pem"), "ca.pem", false},
		{"iat two minutes old", sign(good, now.Add(-2*time.Minute)), filepath.Join(dir, "sp.pem"), "ca.pem", false},
		{"trusting another CA", sign(good, now), filepath.Join(dir, "sp.pem"), "other-ca.pem", false},
	} {
		code, out := check(c.header, c.pub, c.ca)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if ok := code == 0 && lines[len(lines)-1] == "ok"; ok != c.ok {
			t.Errorf("%s: secsipidx exit %d: %s (want ok=%v)", c.name, code, strings.TrimSpace(out), c.ok)
		}
		t.Logf("%s: secsipidx exit %d: %s", c.name, code, strings.Join(lines, " / "))
	}
	// And the same headers here, for the record: they agree.
	v := NewVerifier(Config{TrustAnchors: []*x509.Certificate{p.ca}, Fetcher: NewFetcher(FetcherConfig{Client: refusingClient()})})
	if err := v.Fetcher().Preload(x5u, p.spPEM); err != nil {
		t.Fatal(err)
	}
	if got := v.VerifyCall(context.Background(), []string{sign(good, now)}, alice, bob); got.Verstat != unspoof.VerstatPassed {
		t.Errorf("our own verify: %s", codes(got.Reasons))
	}
}
