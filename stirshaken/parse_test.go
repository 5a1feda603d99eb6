package stirshaken

import (
	"encoding/hex"
	"strings"
	"testing"
)

const tok = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9.c2ln"

func TestParseIdentity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want string // Token|Info|Alg|PPT|params, or "error: …"
	}{
		{tok + ";info=<https://cert.example.org/sp.pem>;alg=ES256;ppt=shaken", tok + "|https://cert.example.org/sp.pem|ES256|shaken|"},
		{tok + `;info=<https://cert.example.org/sp.pem>;alg=ES256;ppt="shaken"`, tok + "|https://cert.example.org/sp.pem|ES256|shaken|"},
		{tok + ";info=<https://cert.example.org/sp.pem>", tok + "|https://cert.example.org/sp.pem|||"},
		{" " + tok + " ; INFO = <https://c.example.org/a;b,c> ;PPT=shaken ;Alg=ES256 ", tok + "|https://c.example.org/a;b,c|ES256|shaken|"},
		{tok + `;info="<https://c.example.org/x>";ppt=div;foo;bar="a \"b\""`, tok + `|https://c.example.org/x||div|bar=a "b" foo=`},
		{tok + `;info="https://c.example.org/x"`, tok + "|https://c.example.org/x|||"},
		{tok, "error: no info parameter"},
		{tok + ";alg=ES256", "error: no info parameter"},
		{";info=<https://c.example.org/x>", "error: no PASSporT"},
		{"a.b;info=<https://c.example.org/x>", "error: 2 parts"},
		{"a..c;info=<https://c.example.org/x>", "error: compact-form"},
		{"a.b=.c;info=<https://c.example.org/x>", "error: PASSporT has '='"},
		{tok + ";info=<https://c.example.org/x", "error: unterminated <"},
		{tok + `;info=<https://c.example.org/x>;ppt="shaken`, "error: unterminated quoted"},
		{tok + ";info=<https://c.example.org/x>;info=<https://d.example.org/x>", "error: info twice"},
		{tok + ";info=<https://c.example.org/x>;foo=1;FOO=2", "error: foo twice"},
		{tok + ";info=<https://c.example.org/x>;alg=", "error: alg has no value"},
		{tok + ";info=<https://c.example.org/x>;ppt=sha\"ke\"n", "error: bad ppt"},
		{tok + ";info=<https://c.example.org/x>;ppt=sh@ken", "error: bad ppt"},
		{tok + ";info=<https://c.example.org/x>;=x", "error: bad parameter"},
		{tok + ";info=<>", "error: bad URI"},
		{tok + ";info=https://c.example.org/<x>", "error: bad URI"},
	} {
		id, err := ParseIdentity(c.in)
		var got string
		if err != nil {
			got = "error: " + err.Error()
			if !strings.HasPrefix(c.want, "error: ") || !strings.Contains(got, strings.TrimPrefix(c.want, "error: ")) {
				t.Errorf("ParseIdentity(%q): %s, want %s", c.in, got, c.want)
			}
			continue
		}
		var ps []string
		for _, k := range sortedKeys(id.Params) {
			ps = append(ps, k+"="+id.Params[k])
		}
		got = strings.Join([]string{id.Token, id.Info, id.Alg, id.PPT, strings.Join(ps, " ")}, "|")
		if got != c.want {
			t.Errorf("ParseIdentity(%q):\n got %s\nwant %s", c.in, got, c.want)
		}
		// String writes what parses back to the same.
		again, err := ParseIdentity(id.String())
		if err != nil || again.String() != id.String() {
			t.Errorf("round trip of %q: %q, %v", id.String(), again, err)
		}
	}
}

func TestSplitIdentities(t *testing.T) {
	t.Parallel()
	in := tok + `;info=<https://a.example.org/x,y>, ` + tok + `;info=<https://b.example.org/>;foo="p,q" ,`
	got := SplitIdentities(in)
	if len(got) != 2 || !strings.HasSuffix(got[0], "x,y>") || !strings.HasSuffix(got[1], `"p,q"`) {
		t.Errorf("SplitIdentities: %q", got)
	}
}

func TestParsePASSporT(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return enc64(s) }
	h := b64(`{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://c.example.org/sp.pem"}`)
	for _, c := range []struct {
		claims string
		want   string // "" for no error
	}{
		{`{"attest":"A","dest":{"tn":["441632960002","441632960003"]},"iat":1700000000,"orig":{"tn":"441632960001"},"origid":"x"}`, ""},
		{`{"dest":{"tn":["441632960003"]},"div":{"tn":"441632960002"},"iat":1700000000,"orig":{"tn":"441632960001"}}`, ""},
		{`{"attest":"A","dest":"{\"tn\":\"1\"}","iat":1700000000,"orig":{"tn":"1"}}`, "cannot unmarshal string"},
		{`{"attest":"A","dest":{"tn":"441632960002"},"iat":1700000000,"orig":{"tn":"1"}}`, "cannot unmarshal string"},
		{`{"attest":"A","iat":1.5,"orig":{"tn":"1"}}`, "cannot unmarshal number"},
		{`{"attest":"A","iat":"1700000000"}`, "cannot unmarshal string"},
		{`{"attest":"A","orig":{"tn":"1"}}`, "no iat"},
		{`{"attest":1,"iat":1}`, "cannot unmarshal number"},
		{`[1,2]`, "not a JSON object"},
		{`{"iat":1`, "unexpected end"},
	} {
		tokn := h + "." + b64(c.claims) + ".c2ln"
		p, err := ParsePASSporT(tokn)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.claims, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.claims, err, c.want)
		case err == nil && (p.Header.X5U != "https://c.example.org/sp.pem" || p.Claims.IAT != 1700000000 || string(p.Signature) != "sig" ||
			p.SigningInput() != h+"."+b64(c.claims)):
			t.Errorf("%s: %+v", c.claims, p)
		}
	}
	p, _ := ParsePASSporT(h + "." + b64(`{"dest":{"tn":["3"]},"div":{"tn":"2"},"iat":1,"orig":{"tn":"1"}}`) + ".c2ln")
	if p.Claims.Div == nil || p.Claims.Div.TN != "2" {
		t.Errorf("div claim: %+v", p.Claims.Div)
	}
	for _, bad := range []string{"", "a.b", "a.b.c.d", h + ".!!.c2ln", b64(`{"typ":"passport"}`) + "." + b64(`{"iat":1}`) + ".c2ln", h + "." + b64(`{"iat":1}`) + ".c2ln="} {
		if _, err := ParsePASSporT(bad); err == nil || !strings.HasPrefix(err.Error(), "passport: ") {
			t.Errorf("ParsePASSporT(%q): %v", bad, err)
		}
	}
}

func TestTNAuthList(t *testing.T) {
	t.Parallel()
	// The ATIS-1000080 example: SPC "709J".
	der, _ := hex.DecodeString("3008a0061604373039" + "4a")
	l, err := ParseTNAuthList(der)
	if err != nil || l.SPC() != "709J" || !l.Authorizes("441632960001") {
		t.Fatalf("ATIS example: %+v %v", l, err)
	}
	in := &TNAuthList{SPCs: []string{"1234", "5678"}, TNs: []string{"441632960001"}, Ranges: []TNRange{{"441632960100", 100}}}
	der, err = MarshalTNAuthList(in)
	if err != nil {
		t.Fatal(err)
	}
	l, err = ParseTNAuthList(der)
	if err != nil || l.SPC() != "1234" || len(l.SPCs) != 2 || l.TNs[0] != "441632960001" || l.Ranges[0] != in.Ranges[0] {
		t.Fatalf("round trip: %+v %v", l, err)
	}
	numbers := &TNAuthList{TNs: in.TNs, Ranges: in.Ranges}
	for tn, want := range map[string]bool{"441632960001": true, "441632960100": true, "441632960199": true,
		"441632960200": false, "441632960099": false, "4416329601000": false, "x": false} {
		if numbers.Authorizes(tn) != want {
			t.Errorf("Authorizes(%s) = %v", tn, !want)
		}
	}
	for name, h := range map[string]string{
		"empty sequence":        "3000",
		"IA5String not wrapped": "300616043730394a",
		"implicit spc":          "300680043730394a",
		"unknown tag":           "3006a3041602414141",
		"trailing bytes":        "3008a0061604373039" + "4a00",
		"range count 1":         "300da10b3009160331323302020001",
		"non-ASCII SPC":         "3006a0041602c3a9",
		"letters as TN":         "3007a2051603616263",
		"truncated":             "3008a006160437",
		"libstirshaken sp.pem":  "163163612e7368616b656e",
	} {
		b, _ := hex.DecodeString(h)
		if l, err := ParseTNAuthList(b); err == nil || !strings.HasPrefix(err.Error(), "tnauthlist: ") {
			t.Errorf("%s: %+v, %v", name, l, err)
		}
	}
}

// TestFastClaims: the claims our Signer, secsipidx and libstirshaken write take the fast path;
// JSON it does not handle still decodes, through encoding/json.
func TestFastClaims(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`{"attest":"A","dest":{"tn":["441632960002"]},"iat":1700000000,"orig":{"tn":"441632960001"},"origid":"123e4567-e89b-12d3-a456-426614174000"}`,
		`{"attest":"B","dest":{"tn":["01256700800"]},"iat":1616442523,"orig":{"tn":"01256500600"},"origid":"e32f4189-cb86-460f-bb92-bd3acb89f29c"}`,
		`{"dest":{"tn":["441632960003"]},"div":{"tn":"441632960002"},"iat":1700000000,"orig":{"tn":"441632960001"}}`,
	} {
		var c Claims
		if !fastClaims([]byte(s), &c) || c.IAT == 0 || c.Orig.TN == "" || len(c.Dest.TN) != 1 {
			t.Errorf("fast path refused or misread %s: %+v", s, c)
		}
	}
	p := &PASSporT{}
	if err := p.decodeClaims([]byte(`{"attest":"\u0041","dest":{"tn":["1"]},"iat":5,"orig":{"tn":"2"},"rcd":{"nam":"Bank"}}`)); err != nil || p.Claims.Attest != "A" {
		t.Errorf("fallback: %+v %v", p.Claims, err)
	}
}
