package stirshaken_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/unspoof/unspoof/stirshaken"
)

// An originating network signs a call from +44 1632 960001 to +44 1632 960002; the
// terminating network verifies it, then sees the same header replayed on a call from another
// number.
func Example() {
	ca, spKey, spPEM := examplePKI() // an STI-CA and an SP certificate with SPC "1234"
	const x5u = "https://certs.example.org/sp.pem"

	signer := stirshaken.Signer{Key: spKey, X5U: x5u}
	header, err := signer.Sign("+441632960001", []string{"+441632960002"}, "A", "7d5a0c1e-5d1f-4b8e-9f1a-2c3d4e5f6a7b", time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}

	fetcher := stirshaken.NewFetcher(stirshaken.FetcherConfig{})
	fetcher.Preload(x5u, spPEM) // as if fetched from the x5u
	v := stirshaken.NewVerifier(stirshaken.Config{TrustAnchors: []*x509.Certificate{ca}, Fetcher: fetcher})

	r := v.VerifyCall(context.Background(), []string{header}, "+441632960001", "+441632960002")
	fmt.Println(r.Verstat, r.Attest, r.SPC, r.OrigID)
	r = v.VerifyCall(context.Background(), []string{header}, "+441632960003", "+441632960002")
	fmt.Println(r.Verstat, r.Reasons[0].Code)
	// Output:
	// TN-Validation-Passed A 1234 7d5a0c1e-5d1f-4b8e-9f1a-2c3d4e5f6a7b
	// TN-Validation-Failed orig-mismatch
}

// A header from libstirshaken's README, taken apart.
func ExampleParseIdentity() {
	id, err := stirshaken.ParseIdentity("eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9zaGFrZW4uc2lnbmFsd2lyZS5jbG91ZC9zcC5wZW0ifQ" +
		".eyJhdHRlc3QiOiJCIiwiZGVzdCI6eyJ0biI6WyIwMTI1NjcwMDgwMCJdfSwiaWF0IjoxNjE2NDQyNTIzLCJvcmlnIjp7InRuIjoiMDEyNTY1MDA2MDAifSwib3JpZ2lkIjoiZTMyZjQxODktY2I4Ni00NjBmLWJiOTItYmQzYWNiODlmMjljIn0" +
		".VT_KOQtrCS3WctNBFT7PKcUowTqHI1cZU3XhBaYEji8eH07XE5rYxomns1EnnePpw96zUF7cr-mBBro-wP65jg" +
		`;info=<https://shaken.signalwire.cloud/sp.pem>;alg=ES256;ppt="shaken"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := stirshaken.ParsePASSporT(id.Token)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := p.Claims
	fmt.Println(id.Info, id.Alg, id.PPT)
	fmt.Println(p.Header.PPT, c.Attest, c.Orig.TN, c.Dest.TN, time.Unix(c.IAT, 0).UTC().Format(time.RFC3339), c.OrigID)
	// Output:
	// https://shaken.signalwire.cloud/sp.pem ES256 shaken
	// shaken B 01256500600 [01256700800] 2021-03-22T19:48:43Z e32f4189-cb86-460f-bb92-bd3acb89f29c
}

// examplePKI issues a CA and a service provider certificate whose TNAuthList names SPC 1234.
func examplePKI() (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example STI-CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	tnAuthList, _ := stirshaken.MarshalTNAuthList(&stirshaken.TNAuthList{SPCs: []string{"1234"}})
	spTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Example STI-SP"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: stirshaken.OIDTNAuthList, Value: tnAuthList}}}
	spDER, _ := x509.CreateCertificate(rand.Reader, spTmpl, ca, &spKey.PublicKey, caKey)
	return ca, spKey, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: spDER})
}
