package siptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// OIDTNAuthList is the TNAuthList certificate extension (RFC 8226): the numbers or service
// provider code a STIR/SHAKEN certificate may sign for.
var OIDTNAuthList = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 26}

// PKI is a throwaway STIR/SHAKEN PKI: a root CA and a service provider's certificate (ECDSA
// P-256, with a TNAuthList naming SPC) issued by it, published over HTTPS at X5U by an
// httptest TLS server.
type PKI struct {
	SPC     string            // the service provider code in the TNAuthList
	CA      *x509.Certificate // the trust anchor
	CAPEM   []byte
	Cert    *x509.Certificate // the signing certificate, served at X5U (PEM, followed by nothing else)
	Key     *ecdsa.PrivateKey // its key
	KeyPath string            // the key as a PEM file (SEC1 "EC PRIVATE KEY"), for secsipidx
	X5U     string            // https://127.0.0.1:port/sp.pem
	Client  *http.Client      // trusts the TLS server's certificate (not the STIR/SHAKEN CA)
	Server  *httptest.Server

	otherKeyPath string // a key the certificate does not hold, for forgeries
}

// NewPKI makes the CA and certificate and starts the HTTPS server for the test's lifetime.
func NewPKI(t testing.TB, spc string) *PKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "unspoof test STI-CA", Organization: []string{"unspoof tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca := mustCert(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)

	tn, err := TNAuthListSPC(spc)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	spTmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(2),
		Subject:         pkix.Name{CommonName: "SHAKEN " + spc, Organization: []string{"unspoof tests"}},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: OIDTNAuthList, Value: tn}},
	}
	cert := mustCert(t, spTmpl, ca, &key.PublicKey, caKey)

	p := &PKI{SPC: spc, CA: ca, Cert: cert, Key: key,
		CAPEM:        pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		KeyPath:      writeKey(t, filepath.Join(dir, "sp-key.pem"), key),
		otherKeyPath: writeKey(t, filepath.Join(dir, "other-key.pem"), newKey(t)),
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sp.pem" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(certPEM)
	}))
	t.Cleanup(p.Server.Close)
	p.X5U = p.Server.URL + "/sp.pem"
	p.Client = p.Server.Client()
	return p
}

// Roots returns a pool holding the CA, for a verifier's trust anchors.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// Sign returns an Identity header value for a call from orig to dest (E.164, with or without
// "+"), attestation A, signed now by Debian's secsipidx CLI with the certificate's key.
func (p *PKI) Sign(t testing.TB, orig, dest string) string {
	t.Helper()
	return p.secsipidx(t, p.KeyPath, orig, dest)
}

// Forge returns an Identity header like Sign's, naming the same certificate, but signed with
// another key: its signature does not verify.
func (p *PKI) Forge(t testing.TB, orig, dest string) string {
	t.Helper()
	return p.secsipidx(t, p.otherKeyPath, orig, dest)
}

func (p *PKI) secsipidx(t testing.TB, keyPath, orig, dest string) string {
	t.Helper()
	bin := Need(t, "secsipidx", "secsipidx")
	out, err := exec.Command(bin, "-sign-full", "-attest", "A",
		"-orig-tn", strings.TrimPrefix(orig, "+"), "-dest-tn", strings.TrimPrefix(dest, "+"),
		"-orig-id", "6d9b7d0e-5a1f-4c36-9f0e-1b2c3d4e5f60",
		"-x5u", p.X5U, "-k", keyPath).CombinedOutput()
	if err != nil {
		t.Fatalf("siptest: secsipidx: %v\n%s", err, out)
	}
	v := strings.TrimSpace(string(out))
	if strings.Count(v, ".") < 2 || !strings.Contains(v, ";info=<") {
		t.Fatalf("siptest: secsipidx printed no Identity header: %q", v)
	}
	return v
}

// TNAuthListSPC encodes a TNAuthList (RFC 8226, explicit tags) holding one service provider
// code: SEQUENCE { [0] EXPLICIT IA5String spc }.
func TNAuthListSPC(spc string) ([]byte, error) {
	ia5, err := asn1.MarshalWithParams(spc, "ia5")
	if err != nil {
		return nil, err
	}
	entry, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ia5})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: entry})
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeKey(t testing.TB, path string, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
