package stirshaken

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Signer signs SHAKEN PASSporTs for an originating network.
type Signer struct {
	Key *ecdsa.PrivateKey // P-256, the key of the certificate at X5U
	X5U string            // where verifiers fetch the certificate (https)
}

// Sign signs a SHAKEN PASSporT for a call from orig to dest, numbers in E.164 with or without
// the +, and returns the Identity header value:
//
//	<PASSporT>;info=<X5U>;alg=ES256;ppt=shaken
//
// An empty origID gets a random UUID; a zero iat is now.
func (s Signer) Sign(orig string, dest []string, attest, origID string, iat time.Time) (identityHeader string, err error) {
	if s.Key == nil || s.Key.Curve != elliptic.P256() {
		return "", errors.New("sign: need an ECDSA P-256 key")
	}
	u, err := url.Parse(s.X5U)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("sign: x5u %q is not an absolute URL", s.X5U)
	}
	if attest != "A" && attest != "B" && attest != "C" {
		return "", fmt.Errorf("sign: attest %q: want A, B or C", attest)
	}
	c := Claims{Attest: attest, IAT: iat.Unix(), OrigID: origID}
	if iat.IsZero() {
		c.IAT = time.Now().Unix()
	}
	if c.OrigID == "" {
		c.OrigID = newUUID()
	}
	var ok bool
	if c.Orig.TN, ok = canonicalTN(orig); !ok {
		return "", fmt.Errorf("sign: orig %q is not a telephone number", orig)
	}
	if len(dest) == 0 {
		return "", errors.New("sign: no dest")
	}
	for _, d := range dest {
		tn, ok := canonicalTN(d)
		if !ok {
			return "", fmt.Errorf("sign: dest %q is not a telephone number", d)
		}
		c.Dest.TN = append(c.Dest.TN, tn)
	}
	// RFC 8225 §9: keys in lexicographic order, no white space (the struct's field order).
	var payload bytes.Buffer
	enc := json.NewEncoder(&payload)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	opts := (&jose.SignerOptions{}).WithType("passport").WithHeader("ppt", PPTShaken).WithHeader("x5u", s.X5U)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.Key}, opts)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	jws, err := signer.Sign(bytes.TrimSuffix(payload.Bytes(), []byte("\n")))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return (&Identity{Token: token, Info: s.X5U, Alg: "ES256", PPT: PPTShaken}).String(), nil
}

// ParsePrivateKey reads an ECDSA private key from PEM, SEC 1 ("EC PRIVATE KEY") or PKCS #8
// ("PRIVATE KEY").
func ParsePrivateKey(pemData []byte) (*ecdsa.PrivateKey, error) {
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("private key: no EC PRIVATE KEY or PRIVATE KEY PEM block")
		}
		switch block.Type {
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("private key: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("private key: %w", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key: %T, want ECDSA", k)
			}
			return ek, nil
		}
	}
}

// ParseCertificates reads PEM certificates, as for Config.TrustAnchors.
func ParseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
