package stirshaken

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// FuzzParseIdentity: no header value makes the parser or the verifier panic; what parses
// formats back to itself; every verdict is one of the three, and a failure has a reason.
func FuzzParseIdentity(f *testing.F) {
	p := newPKI(f, pkiOpts{})
	const x5u = "https://certs.example.org/sp.pem"
	fetcher := NewFetcher(FetcherConfig{Client: refusingClient(), AllowPrivate: true, MaxEntries: 100})
	if err := fetcher.Preload(x5u, p.spPEM); err != nil {
		f.Fatal(err)
	}
	v := NewVerifier(Config{TrustAnchors: []*x509.Certificate{p.ca}, Fetcher: fetcher})
	good, err := Signer{Key: p.spKey, X5U: x5u}.Sign(alice, []string{bob}, "A", "", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(strings.Replace(good, "ppt=shaken", `ppt="shaken";foo="a,b"`, 1))
	f.Fuzz(func(t *testing.T, value string) {
		id, err := ParseIdentity(value)
		if err == nil {
			again, err := ParseIdentity(id.String())
			if err != nil || again.String() != id.String() {
				t.Fatalf("%q formats as %q, which parses to %v, %v", value, id.String(), again, err)
			}
		}
		r := v.VerifyCall(context.Background(), []string{value}, alice, bob)
		switch r.Verstat {
		case unspoof.VerstatPassed, unspoof.VerstatNone:
		case unspoof.VerstatFailed:
			if len(r.Reasons) == 0 {
				t.Fatalf("%q failed without a reason", value)
			}
		default:
			t.Fatalf("verstat %q", r.Verstat)
		}
	})
}

// FuzzParsePASSporT: no token makes the parser panic, and what parses is consistent.
func FuzzParsePASSporT(f *testing.F) {
	f.Fuzz(func(t *testing.T, token string) {
		p, err := ParsePASSporT(token)
		if err != nil {
			return
		}
		if !strings.HasPrefix(token, p.SigningInput()+".") || p.Header.Alg == "" || p.Claims.IAT <= 0 {
			t.Fatalf("%q parsed to %+v", token, p)
		}
	})
}

// FuzzFastClaims: whenever the fast claims decoder accepts an input, encoding/json decodes it
// to the same Claims.
func FuzzFastClaims(f *testing.F) {
	for _, s := range []string{
		`{"attest":"A","dest":{"tn":["441632960002"]},"iat":1700000000,"orig":{"tn":"441632960001"},"origid":"123e4567-e89b-12d3-a456-426614174000"}`,
		` { "dest" : { "tn" : [ "1" , "2" ] , "uri" : [ ] } , "div" : { "tn" : "3" } , "iat" : 0 , "orig" : { "uri" : "sip:a@b" } } `,
		`{"attest":"B","dest":{"tn":["01256700800"]},"iat":1616442523,"orig":{"tn":"01256500600"},"origid":"e32f4189-cb86-460f-bb92-bd3acb89f29c"}`,
		`{"iat":01}`, `{"iat":1.5}`, `{"iat":-1}`, `{"attest":"\u0041"}`, `{"ATTEST":"A"}`, `{"attest":"A","attest":"B"}`,
		`{"dest":{"tn":null}}`, `{"rcd":{"nam":"x"}}`, `{}`, `{"iat":123456789012345678901}`,
		`{"attest":"A",}`, `{"dest":{"tn":["1",]}}`, `{"orig":{"tn":"1",}}`, `{"dest":{"tn":["1"],"tn":["2"]}}`,
		`{"orig":{"tn":"1"}} x`, `{"origid":"é"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Claims
		if !fastClaims(data, &fast) {
			return
		}
		var std Claims
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", data, err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q:\n fast %+v\n json %+v", data, fast, std)
		}
	})
}
