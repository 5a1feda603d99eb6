package screen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
	"github.com/valyala/fasthttp"
)

// httpServers are the HTTP servers a screen.Server runs; every test of the server runs on each.
var httpServers = []string{screen.FastHTTP, screen.NetHTTP}

// openServer serves s on the HTTP server impl over a real listener on a free loopback port until
// the test ends.
func openServer(t *testing.T, impl string, s unspoof.Screener) *screen.Server {
	t.Helper()
	srv := &screen.Server{Addr: "127.0.0.1:0", HTTP: impl, Screener: s}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv
}

func post(t *testing.T, url, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestServerScreen(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			testServerScreen(t, impl)
		})
	}
}

func testServerScreen(t *testing.T, impl string) {
	e, reg := setup(t, screen.Config{Verifier: &fakeVerifier{res: passed}})
	srv := &screen.Server{Addr: "127.0.0.1:0", HTTP: impl, Screener: e, Gatherer: reg}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	url := srv.URL() + "/v1/screen"

	for _, tc := range []struct {
		body   string
		action string
		codes  []string
		from   string
	}{
		{`{"from":"sip:+443005551234@carrier.example;user=phone","to":"+447400123456","ingress":"international","source_ip":"192.0.2.65","call_id":"c1"}`,
			"block", []string{"dno", "uk-cli-international", "spoofing-egress"}, "+443005551234"},
		{`{"from":"07400 123456","to":"+447400999888","call_id":"c2"}`, "allow", nil, "+447400123456"},
		{`{"from":"+447400123456","to":"+447400999888","trunk":"spoofco-peer-1","call_id":"c3"}`, "block", []string{"spoofing-egress"}, "+447400123456"},
		// The pooled request of the call before must not leak its trunk into this one.
		{`{"from":"+447400123456","to":"+447400999888","call_id":"c4"}`, "allow", nil, "+447400123456"},
		{`{"from":"anonymous","to":"+447400999888","call_id":"c5","identity":["a.b.c;info=<https://x.example/c.pem>"]}`, "allow", nil, ""},
	} {
		resp, b := post(t, url, "application/json", tc.body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %s %s\n%s", tc.body, resp.Status, resp.Header.Get("Content-Type"), b)
		}
		var v screen.VerdictJSON
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		var got []string
		for _, r := range v.Reasons {
			got = append(got, r.Code)
		}
		var in screen.ScreenRequestJSON
		json.Unmarshal([]byte(tc.body), &in)
		if v.Action != tc.action || !slices.Equal(got, tc.codes) || v.From != tc.from || v.CallID != in.CallID || v.LatencyUS < 0 {
			t.Errorf("%s:\n%s", tc.body, b)
		}
		if in.CallID == "c5" && (v.Verstat != unspoof.VerstatPassed || v.Attest != "A" || v.SPC != "1234") {
			t.Errorf("signed call: %s", b)
		}
	}

	// Health and metrics.
	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"dno":{"version":"2026-11-25.1","entries":4}`) {
		t.Errorf("healthz: %s %s", resp.Status, b)
	}
	resp, err = http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`unspoof_screen_verdicts_total{action="block",reason="dno"} 1`,
		`unspoof_screen_verdicts_total{action="allow",reason="none"} 3`, "unspoof_screen_latency_seconds_bucket"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestServerErrors: every error is an ErrorJSON whose code matches the status.
func TestServerErrors(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			testServerErrors(t, impl)
		})
	}
}

func testServerErrors(t *testing.T, impl string) {
	e, _ := setup(t, screen.Config{})
	srv := openServer(t, impl, e)
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		code, message             string
	}{
		{"POST", "/v1/screen", "application/json", `{"from":`, 400, "invalid", "not a screening request"},
		{"POST", "/v1/screen", "application/json", `{"from":"+447400123456","to":"+447400999888","source-ip":"192.0.2.1"}`, 400, "invalid", `unknown field "source-ip"`},
		{"POST", "/v1/screen", "application/json", `{"to":"+447400999888"}`, 400, "invalid", `"from" is required`},
		{"POST", "/v1/screen", "application/json", `{"from":"+447400123456"}`, 400, "invalid", `"to" is required`},
		{"POST", "/v1/screen", "application/json", `{"from":"+447400123456","to":"1","ingress":"abroad"}`, 400, "invalid", `"ingress" must be`},
		{"POST", "/v1/screen", "application/json", `{"from":"+447400123456","to":"1","source_ip":"10.0.0.300"}`, 400, "invalid", `not an IP address`},
		{"POST", "/v1/screen", "application/json", `{"from":"+447400123456","to":"1","identity":[""]}`, 400, "invalid", `empty value`},
		{"POST", "/v1/screen", "application/json", `{"from":"+447400123456","to":"1"} {}`, 400, "invalid", `more than one`},
		{"POST", "/v1/screen", "application/json", `{"from":"` + strings.Repeat("1", screen.MaxRequestBytes) + `","to":"1"}`, 413, "too_large", "64 KiB"},
		{"POST", "/v1/screen", "text/plain", `{}`, 415, "unsupported_media_type", "application/json"},
		{"GET", "/v1/screen", "", ``, 405, "method_not_allowed", "Allow"},
		{"DELETE", "/healthz", "", ``, 405, "method_not_allowed", "Allow"},
		{"GET", "/metrics", "", ``, 404, "not_found", "no metrics"},
		{"GET", "/v2/screen", "", ``, 404, "not_found", "no such path"},
	} {
		req, err := http.NewRequest(tc.method, srv.URL()+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e screen.ErrorJSON
		if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != tc.status || e.Error != tc.code || !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s %s %.60s: %s %s, want %d %s %q", tc.method, tc.path, tc.body, resp.Status, b, tc.status, tc.code, tc.message)
		}
		if tc.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
}

// screenerFunc is an unspoof.Screener that is not an Engine.
type screenerFunc func(context.Context, *unspoof.ScreenRequest) *unspoof.Verdict

func (f screenerFunc) Screen(ctx context.Context, r *unspoof.ScreenRequest) *unspoof.Verdict {
	return f(ctx, r)
}

// TestServerAnyScreener: the server serves any Screener, and escapes whatever its verdict
// holds.
func TestServerAnyScreener(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			testServerAnyScreener(t, impl)
		})
	}
}

func testServerAnyScreener(t *testing.T, impl string) {
	s := screenerFunc(func(ctx context.Context, r *unspoof.ScreenRequest) *unspoof.Verdict {
		return &unspoof.Verdict{Action: unspoof.ActionFlag, Verstat: unspoof.VerstatNone, From: r.From,
			Reasons: []unspoof.Reason{{Code: "x", Rule: "test", Detail: "quote \" backslash \\ <b>&\n\x01 é \xff \u2028"}}}
	})
	srv := openServer(t, impl, s)
	resp, b := post(t, srv.URL()+"/v1/screen", "application/json; charset=utf-8", `{"from":"HSBC","to":"+447400999888","call_id":"\u0000"}`)
	var v screen.VerdictJSON
	if err := json.Unmarshal(b, &v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %v", resp.Status, b, err)
	}
	if v.Action != "flag" || v.From != "HSBC" || v.CallID != "\x00" || v.Reasons[0].Detail != "quote \" backslash \\ <b>&\n\x01 é \ufffd \u2028" {
		t.Errorf("%s", b)
	}
	resp, b = post(t, srv.URL()+"/healthz", "", "")
	if resp.StatusCode != 405 {
		t.Errorf("POST /healthz: %s %s", resp.Status, b)
	}
	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != `{"status":"ok"}` {
		t.Errorf("healthz of another screener: %s", b)
	}
}

// TestOpenAPI: the OpenAPI document parses, names every route the server has, and documents
// exactly the fields the handler reads and writes.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "docs", "api", "screen.openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Type                 string            `json:"type"`
		Required             []string          `json:"required"`
		Properties           map[string]schema `json:"properties"`
		Enum                 []string          `json:"enum"`
		Ref                  string            `json:"$ref"`
		AdditionalProperties *bool             `json:"additionalProperties"`
		Items                *schema           `json:"items"`
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("screen.openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for path, method := range map[string]string{"/v1/screen": "post", "/healthz": "get", "/metrics": "get"} {
		if _, ok := doc.Paths[path][method]; !ok || len(doc.Paths[path]) != 1 {
			t.Errorf("%s %s: not documented alone (%v)", method, path, doc.Paths[path])
		}
	}
	if len(doc.Paths) != 3 {
		t.Errorf("%d paths documented, the server has 3", len(doc.Paths))
	}
	// Every $ref resolves.
	for _, m := range regexpRefs(string(data)) {
		name := strings.TrimPrefix(m, "#/components/schemas/")
		if _, ok := doc.Comps.Schemas[name]; !ok && !strings.HasPrefix(m, "#/components/responses/") {
			t.Errorf("unresolved $ref %s", m)
		}
	}
	s := doc.Comps.Schemas
	check := func(name string, typ reflect.Type, wantRequired []string) {
		t.Helper()
		sc, ok := s[name]
		if !ok {
			t.Errorf("no schema %s", name)
			return
		}
		var fields []string
		for f := range typ.Fields() {
			fields = append(fields, strings.Split(f.Tag.Get("json"), ",")[0])
		}
		var props []string
		for p := range sc.Properties {
			props = append(props, p)
		}
		slices.Sort(fields)
		slices.Sort(props)
		if !slices.Equal(fields, props) {
			t.Errorf("schema %s documents %v; %s has %v", name, props, typ, fields)
		}
		req := slices.Clone(sc.Required)
		slices.Sort(req)
		slices.Sort(wantRequired)
		if !slices.Equal(req, wantRequired) {
			t.Errorf("schema %s requires %v, want %v", name, req, wantRequired)
		}
	}
	check("ScreenRequest", reflect.TypeFor[screen.ScreenRequestJSON](), []string{"from", "to"})
	if ap := s["ScreenRequest"].AdditionalProperties; ap == nil || *ap {
		t.Error("ScreenRequest must say additionalProperties: false: the handler refuses unknown fields")
	}
	vfields := []string{}
	for f := range reflect.TypeFor[screen.VerdictJSON]().Fields() {
		vfields = append(vfields, strings.Split(f.Tag.Get("json"), ",")[0])
	}
	check("Verdict", reflect.TypeFor[screen.VerdictJSON](), vfields)
	check("Reason", reflect.TypeFor[screen.ReasonJSON](), []string{"code", "rule", "detail", "report_only"})
	check("Error", reflect.TypeFor[screen.ErrorJSON](), []string{"error", "message"})
	if got := s["ScreenRequest"].Properties["ingress"].Enum; !slices.Equal(got, []string{unspoof.IngressDomestic, unspoof.IngressInternational}) {
		t.Errorf("ingress enum %v", got)
	}
	if got := s["Verdict"].Properties["action"].Enum; !slices.Equal(got, []string{"allow", "flag", "block"}) {
		t.Errorf("action enum %v", got)
	}
	if got := s["Reason"].Properties["rule"].Enum; !slices.Equal(got, append(slices.Clone(screen.Rules), screen.RuleDeadline)) {
		t.Errorf("rule enum %v, want %v and screen", got, screen.Rules)
	}

	// The handler's real answer has exactly the documented fields.
	e, _ := setup(t, screen.Config{})
	srv := openServer(t, screen.FastHTTP, e)
	_, b := post(t, srv.URL()+"/v1/screen", "application/json", `{"from":"+443005551234","to":"+447400999888"}`)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(vfields)
	if !slices.Equal(keys, vfields) {
		t.Errorf("the handler writes %v; documented %v", keys, vfields)
	}
	reason := m["reasons"].([]any)[0].(map[string]any)
	if len(reason) != len(s["Reason"].Properties) {
		t.Errorf("a reason has %v; documented %v", reason, s["Reason"].Properties)
	}
	// Every error code the server gives is in the Error schema's enum.
	for _, code := range []string{"invalid", "not_found", "method_not_allowed", "too_large", "unsupported_media_type", "internal"} {
		if !slices.Contains(s["Error"].Properties["error"].Enum, code) {
			t.Errorf("error code %s undocumented", code)
		}
	}
}

func regexpRefs(s string) []string {
	var refs []string
	for {
		i := strings.Index(s, `"$ref": "`)
		if i < 0 {
			return refs
		}
		s = s[i+len(`"$ref": "`):]
		j := strings.IndexByte(s, '"')
		refs = append(refs, s[:j])
		s = s[j:]
	}
}

// FuzzAppendVerdict: the hand-written JSON encoder writes what encoding/json reads back, byte
// for byte what encoding/json itself would write.
func FuzzAppendVerdict(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<>&", "\x00\x1f\x7f", "é€😀", "\xff\xfe", "\u2028\u2029", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := &unspoof.Verdict{Action: s, Reasons: []unspoof.Reason{{Code: s, Detail: s, ReportOnly: true}}, From: s, Latency: 1500 * time.Nanosecond}
		b := screen.AppendVerdict(nil, s, v)
		var got screen.VerdictJSON
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v\n%s", s, err, b)
		}
		want := screen.VerdictJSON{CallID: s, Action: s, Reasons: []screen.ReasonJSON{{Code: s, Detail: s, ReportOnly: true}}, From: s, LatencyUS: 1}
		if !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Errorf("%q: decoded %+v", s, got)
		}
		std, _ := json.Marshal(want)
		if string(b) != string(std)+"\n" {
			t.Errorf("%q:\n got %s\nwant %s", s, b, std)
		}
	})
}

// normalise turns invalid UTF-8 into what encoding/json reads back for it.
func normalise(v screen.VerdictJSON) screen.VerdictJSON {
	b, _ := json.Marshal(v)
	var out screen.VerdictJSON
	json.Unmarshal(b, &out)
	return out
}

// FuzzDecodeRequest: the request decoder agrees with encoding/json (DisallowUnknownFields) on
// every object: what it accepts, encoding/json accepts the same way; what encoding/json accepts
// with field names as documented, it accepts.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"from":"+447400123456","to":"07400 999888","identity":["a.b.c;info=<https://x/y>"],"ingress":"international","source_ip":"192.0.2.1","trunk":"t","call_id":"c"}`,
		`{}`, ` { "from" : null , "identity" : null } `, `{"identity":[null,"x",""]}`, `{"from":"a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x"}`,
		`{"from":"é\xff"}`, `{"FROM":"x"}`, `{"from":1}`, `{"identity":"x"}`, `{"from":"x"} {}`, `{"from":"x",}`, `[]`, `null`,
		`{"from":"x","from":"y"}`, `{"identity":["a"],"identity":["b","c"]}`, `{"\u0066rom":"x"}`, `{"from":"\u12"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got screen.ScreenRequestJSON
		err := screen.DecodeRequest([]byte(s), &got)
		var want screen.ScreenRequestJSON
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(&want)
		trimmed := strings.TrimLeft(s, " \t\r\n")
		stdOK := stdErr == nil && json.Valid([]byte(s)) && strings.HasPrefix(trimmed, "{")
		if err == nil {
			if !stdOK {
				t.Fatalf("%q: accepted; encoding/json: %v", s, stdErr)
			}
			if len(got.Identity) == 0 && len(want.Identity) == 0 {
				got.Identity, want.Identity = nil, nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q:\n got %+v\nwant %+v", s, got, want)
			}
			return
		}
		if stdOK {
			var keys map[string]json.RawMessage
			json.Unmarshal([]byte(s), &keys)
			exact := true
			for k := range keys {
				if !slices.Contains([]string{"from", "to", "identity", "ingress", "source_ip", "trunk", "call_id"}, k) {
					exact = false
				}
			}
			if exact {
				t.Fatalf("%q: refused (%v); encoding/json accepts it", s, err)
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkHandler times POST /v1/screen's net/http handler without the network: decoding the
// body, screening (every rule on), encoding the verdict.
func BenchmarkHandler(b *testing.B) {
	e, _ := setup(b, screen.Config{Now: benchClock()})
	h := (&screen.Server{Screener: e}).Handler()
	reqs := benchRequests(1 << 12)
	bodies := make([][]byte, len(reqs))
	for i, r := range reqs {
		bodies[i], _ = json.Marshal(screen.ScreenRequestJSON{From: r.From, To: r.To, SourceIP: r.SourceIP, Trunk: r.Trunk, CallID: r.CallID})
	}
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(nil)
	req, _ := http.NewRequest("POST", "/v1/screen", rd)
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rd.Reset(bodies[i&(len(bodies)-1)])
		req.Body = io.NopCloser(rd)
		h.ServeHTTP(w, req)
		i++
	}
}

// BenchmarkFastHandler is BenchmarkHandler on the FastHTTP server's handler: the request as
// fasthttp has read it, the response as it would write it.
func BenchmarkFastHandler(b *testing.B) {
	e, _ := setup(b, screen.Config{Now: benchClock()})
	h := screen.FastHandler(&screen.Server{Screener: e})
	reqs := benchRequests(1 << 12)
	bodies := make([][]byte, len(reqs))
	for i, r := range reqs {
		bodies[i], _ = json.Marshal(screen.ScreenRequestJSON{From: r.From, To: r.To, SourceIP: r.SourceIP, Trunk: r.Trunk, CallID: r.CallID})
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/screen")
	ctx.Request.Header.SetContentType("application/json")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ctx.Request.SetBodyRaw(bodies[i&(len(bodies)-1)])
		ctx.Response.Reset()
		h(&ctx)
		i++
	}
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}
