package stirshaken

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// PASSporT types (the ppt header parameter).
const (
	PPTShaken = "shaken" // RFC 8588: attestation of the calling number
	PPTDiv    = "div"    // RFC 8946: a call diverted by the network that signed this one
)

// PASSporT is a parsed, not yet verified, PASSporT (RFC 8225) in compact JWS form.
type PASSporT struct {
	Header    Header
	Claims    Claims
	Token     string // the token as received
	Signature []byte // the JWS signature (r‖s for ES256)
	claims    []byte // the claims JSON, when the Verifier parsed it
}

// Header is the PASSporT's protected JOSE header.
type Header struct {
	Alg  string   `json:"alg"`
	Typ  string   `json:"typ,omitempty"`
	PPT  string   `json:"ppt,omitempty"`
	X5U  string   `json:"x5u,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// Claims are the PASSporT claims SHAKEN (RFC 8588) and diversion (RFC 8946) define, in the
// lexicographic order RFC 8225 signs them in.
type Claims struct {
	Attest string `json:"attest,omitempty"` // A, B or C (SHAKEN)
	Dest   Dest   `json:"dest"`
	Div    *Orig  `json:"div,omitempty"` // the original destination of a diverted call (RFC 8946)
	IAT    int64  `json:"iat"`           // issued at, seconds since the epoch
	Orig   Orig   `json:"orig"`
	OrigID string `json:"origid,omitempty"` // SHAKEN origination identifier, usually a UUID
}

// Orig is a PASSporT originator (and the shape of the div claim): a telephone number or a URI.
type Orig struct {
	TN  string `json:"tn,omitempty"`
	URI string `json:"uri,omitempty"`
}

// Dest is a PASSporT's destinations.
type Dest struct {
	TN  []string `json:"tn,omitempty"`
	URI []string `json:"uri,omitempty"`
}

// ParsePASSporT decodes a compact PASSporT: three base64url parts, a JSON header and JSON
// claims of the types RFC 8225 gives them. It checks form only; Verifier checks content and
// signature.
func ParsePASSporT(token string) (*PASSporT, error) {
	if len(token) > maxIdentityLen {
		return nil, fmt.Errorf("passport: %d bytes is too long", len(token))
	}
	h, rest, ok1 := strings.Cut(token, ".")
	c, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, errors.New("passport: want 3 dot-separated parts")
	}
	p := &PASSporT{Token: token}
	if err := decodeJSON(h, &p.Header); err != nil {
		return nil, fmt.Errorf("passport: header: %w", err)
	}
	claims, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("passport: claims: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("passport: signature: %w", err)
	}
	p.Signature = sig
	if p.Header.Alg == "" {
		return nil, errors.New("passport: header has no alg")
	}
	return p, p.decodeClaims(claims)
}

// decodeClaims decodes the claims JSON into p.Claims and checks their form.
func (p *PASSporT) decodeClaims(data []byte) error {
	if !fastClaims(data, &p.Claims) {
		p.Claims = Claims{}
		if err := jsonObject(data, &p.Claims); err != nil {
			return fmt.Errorf("passport: claims: %w", err)
		}
	}
	if p.Claims.IAT <= 0 {
		return errors.New("passport: claims have no iat")
	}
	return nil
}

func decodeJSON(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return jsonObject(b, v)
}

func jsonObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// passportHeader reads the PASSporT header fields from a header go-jose has parsed.
func passportHeader(h jose.Header) (*PASSporT, error) {
	p := &PASSporT{Header: Header{Alg: h.Algorithm}}
	for k, v := range h.ExtraHeaders {
		var ok bool
		switch k {
		case "typ":
			p.Header.Typ, ok = v.(string)
		case "ppt":
			p.Header.PPT, ok = v.(string)
		case "x5u":
			p.Header.X5U, ok = v.(string)
		case "crit":
			var list []any
			list, ok = v.([]any)
			for _, c := range list {
				s, isString := c.(string)
				ok = ok && isString
				p.Header.Crit = append(p.Header.Crit, s)
			}
		default:
			ok = true
		}
		if !ok {
			return nil, fmt.Errorf("passport: header: %s is not a string", k)
		}
	}
	return p, nil
}

// SigningInput is the part of the token the signature covers: header.claims.
func (p *PASSporT) SigningInput() string {
	i := strings.LastIndexByte(p.Token, '.')
	if i < 0 {
		return ""
	}
	return p.Token[:i]
}
