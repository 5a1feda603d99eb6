package sipscreen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/unspoof/unspoof"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from what buildRequest reads now")

// readRequest parses testdata/name, written with LF line ends, as a request off the wire.
func readRequest(tb testing.TB, name string) *sip.Request {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := sip.ParseMessage(crlf(raw))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		tb.Fatalf("%s: not a request", name)
	}
	return req
}

func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// read is what the golden files hold: the ScreenRequest fields buildRequest fills, and the
// verstat identity a 302 would carry for the caller it chose.
type read struct {
	From, To, SourceIP, CallID string
	Identity                   []string
	PAI                        string
}

// TestBuildRequest reads each testdata/*.sip INVITE and compares with testdata/*.json.
func TestBuildRequest(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.sip")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, p := range files {
		name := filepath.Base(p)
		t.Run(strings.TrimSuffix(name, ".sip"), func(t *testing.T) {
			sr, c := buildRequest(readRequest(t, name))
			got := read{From: sr.From, To: sr.To, SourceIP: sr.SourceIP, CallID: sr.CallID,
				Identity: sr.Identity, PAI: verstatIdentity(c, "", unspoof.VerstatPassed)}
			gotJSON, _ := json.MarshalIndent(got, "", "  ")
			golden := strings.TrimSuffix(p, ".sip") + ".json"
			if *update {
				if err := os.WriteFile(golden, append(gotJSON, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantJSON, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if strings.TrimSpace(string(wantJSON)) != string(gotJSON) {
				t.Errorf("%s:\n got %s\nwant %s", name, gotJSON, wantJSON)
			}
		})
	}
}

// TestResponse checks every header of the 302 and the 603 against the package doc.
func TestResponse(t *testing.T) {
	t.Parallel()
	req := readRequest(t, "invite-signed.sip")
	_, c := buildRequest(req)
	tests := []struct {
		name   string
		v      unspoof.Verdict
		status int
		want   map[string]string // header → value; "" means absent
	}{{
		name:   "allow signed",
		v:      unspoof.Verdict{Action: unspoof.ActionAllow, Verstat: unspoof.VerstatPassed, Attest: "A", SPC: "1234", From: "+447700900123"},
		status: 302,
		want: map[string]string{
			"Contact":             "<sip:+441632960001@192.0.2.10:5060;user=phone>",
			"P-Asserted-Identity": "<sip:+447700900123;verstat=TN-Validation-Passed@carrier.example;user=phone>",
			HeaderVerdict:         "allow", HeaderVerstat: "TN-Validation-Passed", HeaderAttest: "A", HeaderSPC: "1234",
			HeaderReasons: "", HeaderReportOnly: "", HeaderFailedOpen: "", "Reason": "",
		},
	}, {
		name: "flag with report-only",
		v: unspoof.Verdict{Action: unspoof.ActionFlag, Verstat: unspoof.VerstatFailed, Reasons: []unspoof.Reason{
			{Code: "passport-stale", Rule: "stirshaken"}, {Code: "velocity", ReportOnly: true},
			{Code: "passport-stale", Rule: "stirshaken"}, {Code: "x5u-fetch", Rule: "stirshaken"}}},
		status: 302,
		want: map[string]string{
			HeaderVerdict: "flag", HeaderVerstat: "TN-Validation-Failed",
			HeaderReasons: "passport-stale,x5u-fetch", HeaderReportOnly: "velocity", HeaderAttest: "",
			"P-Asserted-Identity": "<sip:+447700900123;verstat=TN-Validation-Failed@carrier.example;user=phone>",
		},
	}, {
		name:   "block",
		v:      unspoof.Verdict{Action: unspoof.ActionBlock, Reasons: []unspoof.Reason{{Code: "dno", Rule: "dno"}, {Code: "invalid-number"}}},
		status: 603,
		want: map[string]string{
			"Reason": `SIP;cause=603;text="dno"`, HeaderVerdict: "block", HeaderVerstat: "No-TN-Validation",
			HeaderReasons: "dno,invalid-number", "Contact": "", "P-Asserted-Identity": "",
		},
	}, {
		name:   "block without reason",
		v:      unspoof.Verdict{Action: unspoof.ActionBlock},
		status: 603,
		want:   map[string]string{"Reason": `SIP;cause=603;text="blocked"`, HeaderReasons: ""},
	}, {
		name:   "hostile values are reduced to tokens",
		v:      unspoof.Verdict{Action: unspoof.ActionBlock, SPC: "12\r\nX-Evil: 1", Reasons: []unspoof.Reason{{Code: `dno"; x=<y>, z`}}},
		status: 603,
		want:   map[string]string{HeaderSPC: "12X-Evil1", "Reason": `SIP;cause=603;text="dnoxyz"`, "X-Evil": ""},
	}, {
		name:   "unknown action fails open",
		v:      unspoof.Verdict{Action: "maybe"},
		status: 302,
		want:   map[string]string{HeaderVerdict: "allow", HeaderFailedOpen: "true"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := response(req, c, &tt.v)
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d", res.StatusCode, tt.status)
			}
			// Through the wire format and back, as a proxy reads it.
			msg, err := sip.ParseMessage([]byte(res.String()))
			if err != nil {
				t.Fatalf("response does not parse: %v\n%s", err, res)
			}
			for h, want := range tt.want {
				got := ""
				if hh := msg.(*sip.Response).GetHeader(h); hh != nil {
					got = hh.Value()
				}
				if got != want {
					t.Errorf("%s: %q, want %q\n%s", h, got, want, res)
				}
			}
			if to := msg.(*sip.Response).To(); to == nil || !to.Params.Has("tag") {
				t.Errorf("To has no tag:\n%s", res)
			}
		})
	}
}

// TestVerstatIdentity covers the caller forms the 302's P-Asserted-Identity is built from.
func TestVerstatIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct{ uri, e164, want string }{
		{"sip:+447700900123@h.example", "", "<sip:+447700900123;verstat=V@h.example;user=phone>"},
		{"sip:07700900123;isub=1@h.example:5070", "+447700900123", "<sip:+447700900123;verstat=V@h.example:5070;user=phone>"},
		{"sips:+15550100@[2001:db8::2]", "", "<sips:+15550100;verstat=V@[2001:db8::2];user=phone>"},
		{"tel:+447700900123;verstat=No-TN-Validation", "", "<tel:+447700900123;verstat=V>"},
		{"sip:anonymous@anonymous.invalid", "", ""},
		{"urn:service:sos", "", ""},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.uri, &u); err != nil {
			t.Fatalf("%s: %v", tt.uri, err)
		}
		got := verstatIdentity(caller{uri: &u, number: uriNumber(&u)}, tt.e164, "V")
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.uri, got, tt.want)
		}
	}
}

// FuzzBuildRequest feeds arbitrary messages through the parser and, for requests, through
// buildRequest and both responses: nothing may panic, no header we add may carry a line break, the
// verdict header must be there and the P-Asserted-Identity must parse. (Whether the whole
// response parses back depends on the headers copied from the request, which are sipgo's.)
func FuzzBuildRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sip")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(crlf(b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.Via() == nil || req.CSeq() == nil || req.CallID() == nil || req.From() == nil || req.To() == nil {
			return // the transaction layer rejects these before a handler sees them
		}
		sr, c := buildRequest(req)
		for _, a := range []string{unspoof.ActionAllow, unspoof.ActionBlock} {
			v := &unspoof.Verdict{Action: a, From: sr.From, SPC: sr.To, Reasons: []unspoof.Reason{{Code: sr.CallID}}}
			res := response(req, c, v)
			for _, h := range res.Headers() {
				switch strings.ToLower(h.Name()) {
				case "via", "from", "to", "call-id", "cseq", "record-route", "content-length":
					continue // copied from the request by sipgo
				}
				if strings.ContainsAny(h.Value(), "\r\n") {
					t.Fatalf("%s carries a line break: %q", h.Name(), h.Value())
				}
			}
			if h := res.GetHeader(HeaderVerdict); h == nil || h.Value() != a {
				t.Fatalf("verdict header lost:\n%q", res.String())
			}
			if h := res.GetHeader("P-Asserted-Identity"); h != nil {
				var u sip.Uri
				if _, err := sip.ParseAddressValue(h.Value(), &u, nil); err != nil {
					t.Fatalf("P-Asserted-Identity %q does not parse: %v", h.Value(), err)
				}
			}
		}
	})
}
