package stirshaken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// testPKI is an STI-CA and a service provider certificate issued by it, made for a test.
type testPKI struct {
	caKey  *ecdsa.PrivateKey
	ca     *x509.Certificate
	spKey  *ecdsa.PrivateKey
	sp     *x509.Certificate
	caPEM  []byte
	spPEM  []byte // the SP certificate, as an x5u serves it
	keyPEM []byte // the SP key, SEC 1
}

// pkiOpts changes what newPKI issues.
type pkiOpts struct {
	caCurve    elliptic.Curve // default P-256
	notBefore  time.Time      // of the SP certificate; default an hour ago
	notAfter   time.Time      // default in a year
	tnAuthList []byte         // DER of the extension; nil: SPC "1234"; empty: none
	critical   bool           // mark the TNAuthList critical
}

func newPKI(t testing.TB, o pkiOpts) *testPKI {
	t.Helper()
	if o.caCurve == nil {
		o.caCurve = elliptic.P256()
	}
	now := time.Now()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.AddDate(1, 0, 0)
	}
	if o.tnAuthList == nil {
		der, err := MarshalTNAuthList(&TNAuthList{SPCs: []string{"1234"}})
		if err != nil {
			t.Fatal(err)
		}
		o.tnAuthList = der
	}
	p := &testPKI{caKey: genKey(t, o.caCurve), spKey: genKey(t, elliptic.P256())}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "unspoof test STI-CA", Country: []string{"GB"}},
		NotBefore: now.AddDate(-5, 0, 0), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(caDER)
	spTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "unspoof test STI-SP", Country: []string{"GB"}},
		NotBefore: o.notBefore, NotAfter: o.notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if len(o.tnAuthList) > 0 {
		spTmpl.ExtraExtensions = []pkix.Extension{{Id: OIDTNAuthList, Critical: o.critical, Value: o.tnAuthList}}
	}
	spDER, err := x509.CreateCertificate(rand.Reader, spTmpl, p.ca, &p.spKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.sp, _ = x509.ParseCertificate(spDER)
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.spPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: spDER})
	kd, err := x509.MarshalECPrivateKey(p.spKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	return p
}

func genKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// write puts the PKI's files in dir: ca.pem, sp.pem, sp.key.
func (p *testPKI) write(t testing.TB, dir string) {
	t.Helper()
	for name, data := range map[string][]byte{"ca.pem": p.caPEM, "sp.pem": p.spPEM, "sp.key": p.keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// rawToken signs any header and claims with key the way a JWS does, so tests can make the
// tokens a careless or hostile signer would: another alg, odd claims.
func rawToken(t testing.TB, key *ecdsa.PrivateKey, header, claims any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// shakenHeader and shakenClaims are a well-formed PASSporT for rawToken to change.
func shakenHeader(x5u string) map[string]any {
	return map[string]any{"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u}
}

func shakenClaims(orig, dest string, iat time.Time) map[string]any {
	return map[string]any{"attest": "A", "dest": map[string]any{"tn": []string{dest}}, "iat": iat.Unix(),
		"orig": map[string]any{"tn": orig}, "origid": "123e4567-e89b-12d3-a456-426614174000"}
}

func identityValue(token, x5u string) string {
	return token + ";info=<" + x5u + ">;alg=ES256;ppt=shaken"
}

// codes lists the reason codes of r, report-only ones marked with a trailing "?".
func codes(rs []unspoof.Reason) string {
	var out []string
	for _, r := range rs {
		c := r.Code
		if r.ReportOnly {
			c += "?"
		}
		out = append(out, c)
	}
	return strings.Join(out, ",")
}

func decodeRaw(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

func enc64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
