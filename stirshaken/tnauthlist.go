package stirshaken

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OIDTNAuthList is the TNAuthList certificate extension (RFC 8226, id-pe-TNAuthList).
var OIDTNAuthList = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 26}

// TNAuthList is what a certificate's TNAuthorizationList authorises: service provider codes,
// single numbers and ranges of numbers.
type TNAuthList struct {
	SPCs   []string
	TNs    []string
	Ranges []TNRange
}

// TNRange is Count consecutive numbers from Start.
type TNRange struct {
	Start string
	Count int64
}

// SPC returns the first service provider code, or "".
func (l *TNAuthList) SPC() string {
	if l == nil || len(l.SPCs) == 0 {
		return ""
	}
	return l.SPCs[0]
}

// Authorizes reports whether tn (digits) is one of the list's numbers or ranges. A list that
// names a service provider code authorises any number: SHAKEN leaves that to the code's owner.
func (l *TNAuthList) Authorizes(tn string) bool {
	if len(l.SPCs) > 0 {
		return true
	}
	for _, t := range l.TNs {
		if t == tn {
			return true
		}
	}
	n, ok := new(big.Int).SetString(tn, 10)
	if !ok {
		return false
	}
	for _, r := range l.Ranges {
		start, ok := new(big.Int).SetString(r.Start, 10)
		if !ok || len(r.Start) != len(tn) {
			continue
		}
		end := new(big.Int).Add(start, big.NewInt(r.Count))
		if n.Cmp(start) >= 0 && n.Cmp(end) < 0 {
			return true
		}
	}
	return false
}

// CertTNAuthList reads the TNAuthList extension of cert. It returns an error if the extension
// is absent or is not a DER TNAuthorizationList (RFC 8226 §9, explicitly tagged).
func CertTNAuthList(cert *x509.Certificate) (*TNAuthList, error) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDTNAuthList) {
			return ParseTNAuthList(e.Value)
		}
	}
	return nil, errors.New("tnauthlist: certificate has no TNAuthList extension")
}

// ParseTNAuthList parses the DER value of a TNAuthList extension:
//
//	TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
//	TNEntry ::= CHOICE { spc [0] ServiceProviderCode, range [1] TelephoneNumberRange,
//	                     one [2] TelephoneNumber }
func ParseTNAuthList(der []byte) (*TNAuthList, error) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("tnauthlist: not a DER SEQUENCE")
	}
	l := &TNAuthList{}
	for n := 1; !seq.Empty(); n++ {
		var entry cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&entry, &tag) {
			return nil, fmt.Errorf("tnauthlist: entry %d: bad DER", n)
		}
		switch tag {
		case cbasn1.Tag(0).ContextSpecific().Constructed():
			s, err := readIA5(&entry)
			if err != nil || s == "" || !entry.Empty() {
				return nil, fmt.Errorf("tnauthlist: entry %d: spc is not an IA5String", n)
			}
			l.SPCs = append(l.SPCs, s)
		case cbasn1.Tag(1).ContextSpecific().Constructed():
			var r cryptobyte.String
			var count int64
			if !entry.ReadASN1(&r, cbasn1.SEQUENCE) || !entry.Empty() {
				return nil, fmt.Errorf("tnauthlist: entry %d: range is not a SEQUENCE", n)
			}
			start, err := readIA5(&r)
			if err != nil || !isTN(start) || !r.ReadASN1Int64WithTag(&count, cbasn1.INTEGER) || count < 2 || !r.Empty() {
				return nil, fmt.Errorf("tnauthlist: entry %d: bad range", n)
			}
			l.Ranges = append(l.Ranges, TNRange{Start: start, Count: count})
		case cbasn1.Tag(2).ContextSpecific().Constructed():
			tn, err := readIA5(&entry)
			if err != nil || !isTN(tn) || !entry.Empty() {
				return nil, fmt.Errorf("tnauthlist: entry %d: bad telephone number", n)
			}
			l.TNs = append(l.TNs, tn)
		default:
			return nil, fmt.Errorf("tnauthlist: entry %d: unknown tag %#x", n, uint8(tag))
		}
	}
	if len(l.SPCs)+len(l.TNs)+len(l.Ranges) == 0 {
		return nil, errors.New("tnauthlist: empty")
	}
	return l, nil
}

// readIA5 reads one IA5String from s.
func readIA5(s *cryptobyte.String) (string, error) {
	var v cryptobyte.String
	if !s.ReadASN1(&v, cbasn1.IA5String) {
		return "", errors.New("not an IA5String")
	}
	for _, c := range v {
		if c > 0x7f {
			return "", errors.New("not an IA5String")
		}
	}
	return string(v), nil
}

// isTN reports whether s is a TelephoneNumber of RFC 8226: 1 to 15 of 0-9 # *.
func isTN(s string) bool {
	if len(s) < 1 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '#' || c == '*') {
			return false
		}
	}
	return true
}

// MarshalTNAuthList encodes a TNAuthList as the DER value of its certificate extension, for
// issuing test and delegate certificates.
func MarshalTNAuthList(l *TNAuthList) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, s := range l.SPCs {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.IA5String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
			})
		}
		for _, r := range l.Ranges {
			b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.IA5String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.Start)) })
					b.AddASN1Int64(r.Count)
				})
			})
		}
		for _, t := range l.TNs {
			b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.IA5String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(t)) })
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tnauthlist: %w", err)
	}
	return der, nil
}
