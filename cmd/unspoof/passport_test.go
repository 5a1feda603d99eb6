package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/stirshaken"
)

// passportPKI writes an STI-CA (ca.pem), a service provider certificate with SPC 0999 (sp.pem)
// and its key (sp.key) to dir.
func passportPKI(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e STI-CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	tn, _ := stirshaken.MarshalTNAuthList(&stirshaken.TNAuthList{SPCs: []string{"0999"}})
	spTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "e2e STI-SP"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: stirshaken.OIDTNAuthList, Value: tn}}}
	spDER, err := x509.CreateCertificate(rand.Reader, spTmpl, ca, &spKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(spKey)
	for name, b := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER},
		"sp.pem": {Type: "CERTIFICATE", Bytes: spDER}, "sp.key": {Type: "PRIVATE KEY", Bytes: kd}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// runEnv is run with extra environment variables.
func runEnv(t *testing.T, env []string, wantExit int, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantExit {
		t.Fatalf("unspoof %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantExit, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestPassportSignVerify: an originating network signs with "unspoof passport sign"; the
// terminating one verifies with "unspoof passport verify", fetching the certificate over
// HTTPS; a replay from another number, a stale header and a forged one fail with exit 1.
func TestPassportSignVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "unused.db")
	passportPKI(t, dir)
	spPEM, _ := os.ReadFile(filepath.Join(dir, "sp.pem"))
	var fetches atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(spPEM)
	}))
	defer srv.Close()
	// The binary trusts the test server's TLS certificate through SSL_CERT_FILE.
	tlsCA := filepath.Join(dir, "tls-ca.pem")
	os.WriteFile(tlsCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	env := []string{"SSL_CERT_FILE=" + tlsCA}
	x5u := srv.URL + "/sp.pem"

	out, _ := run(t, db, 0, "passport", "sign", "--key", filepath.Join(dir, "sp.key"), "--x5u", x5u,
		"--orig", "441632960001", "--dest", "441632960002", "--attest", "B", "--origid", "7d5a0c1e-5d1f-4b8e-9f1a-2c3d4e5f6a7b")
	header := strings.TrimSpace(out)
	if !strings.HasSuffix(header, ";info=<"+x5u+">;alg=ES256;ppt=shaken") || strings.Count(header, "\n") != 0 {
		t.Fatalf("sign printed %q", out)
	}
	verify := []string{"--db", db, "passport", "verify", "--identity", header, "--to", "+441632960002",
		"--ca", filepath.Join(dir, "ca.pem"), "--allow-private"}

	out, _ = runEnv(t, env, 0, append(verify, "--from", "+441632960001")...)
	for _, want := range []string{"verstat TN-Validation-Passed attest B origid 7d5a0c1e-5d1f-4b8e-9f1a-2c3d4e5f6a7b spc 0999",
		"identity 1 passed, ppt shaken, attest B, orig 441632960001, dest 441632960002, iat "} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("verify said:\n%s\nwant %q", out, want)
		}
	}
	if fetches.Load() != 1 {
		t.Errorf("%d certificate fetches, want 1", fetches.Load())
	}

	out, stderr := runEnv(t, env, 1, append(verify, "--from", "+441632960003")...)
	if !strings.Contains(squash(out), "verstat TN-Validation-Failed") || !strings.Contains(out, "reason: orig-mismatch: orig.tn 44163296···· is not the call's From 44163296····") ||
		!strings.Contains(stderr, "not verified: TN-Validation-Failed") {
		t.Errorf("replay from another number:\n%s%s", out, stderr)
	}

	// As at five minutes later, from the certificate file, as JSON.
	later := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	out, _ = run(t, db, 1, "passport", "verify", "--identity", header, "--from", "+441632960001", "--to", "+441632960002",
		"--ca", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "sp.pem"), "--at", later, "--json")
	var r stirshaken.IdentityResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if r.Verstat != unspoof.VerstatFailed || len(r.Reasons) != 1 || r.Reasons[0].Code != "passport-stale" || r.Headers[0].SPC != "0999" {
		t.Errorf("five minutes later: %+v", r)
	}

	// A changed claim under the original signature.
	parts := strings.SplitN(header, ".", 3)
	forged := parts[0] + "." + strings.Replace(parts[1], "eyJhdHRlc3QiOiJC", "eyJhdHRlc3QiOiJB", 1) + "." + parts[2]
	if forged == header {
		t.Fatal("forgery changed nothing")
	}
	out, _ = run(t, db, 1, "passport", "verify", "--identity", forged, "--from", "+441632960001", "--to", "+441632960002",
		"--ca", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "sp.pem"))
	if !strings.Contains(out, "reason: bad-signature") {
		t.Errorf("forged attest A:\n%s", out)
	}

	// Without --allow-private, a loopback x5u is refused before any connection.
	before := fetches.Load()
	out, _ = runEnv(t, env, 1, "--db", db, "passport", "verify", "--identity", header, "--from", "+441632960001",
		"--to", "+441632960002", "--ca", filepath.Join(dir, "ca.pem"))
	if !strings.Contains(out, "reason: x5u-refused") || fetches.Load() != before {
		t.Errorf("loopback x5u without --allow-private:\n%s", out)
	}
}

func TestPassportUsage(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "unused.db")
	out, _ := run(t, db, 0, "passport", "--help")
	if !strings.Contains(out, "Examples:") || !strings.Contains(out, "passport sign --key") {
		t.Errorf("passport --help:\n%s", out)
	}
	for _, sub := range []string{"sign", "verify"} {
		out, _ := run(t, db, 0, "passport", sub, "--help")
		if !strings.Contains(out, "Examples:\n  unspoof passport "+sub) {
			t.Errorf("passport %s --help:\n%s", sub, out)
		}
	}
	_, stderr := run(t, db, 2, "passport", "sign", "--x5u", "https://certs.example.org/sp.pem", "--orig", "441632960001", "--dest", "441632960002")
	if !strings.Contains(stderr, "--key FILE is required") {
		t.Errorf("sign without --key: %s", stderr)
	}
	_, stderr = run(t, db, 2, "passport", "verify", "--identity", "x", "--from", "+441632960001", "--to", "+441632960002")
	if !strings.Contains(stderr, "--ca FILE is required") {
		t.Errorf("verify without --ca: %s", stderr)
	}
}

// squash collapses runs of white space, for output aligned in columns.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
