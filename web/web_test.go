package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/suspect"
	"github.com/unspoof/unspoof/victim"
	"github.com/unspoof/unspoof/web"
)

var t0 = time.Date(2022, 3, 1, 9, 30, 0, 0, time.UTC)

// fixture is a small case: accounts U1 (GB, paid £150: an identified suspect) and U2, calls to
// two mobiles, ranked met-2022 (so +447911123456 and +447911123457 are victims with codes), and
// the harm ranking of suspects; staff of every role, each with password "<role>-password-1".
type fixture struct {
	db      *sqlite.DB
	srv     *web.Server
	base    string
	codes   map[string]string // victim number → reference code
	cfg     web.Config
	stopped bool
}

func setup(t *testing.T, mod func(*web.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "unspoof.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := func(kind unspoof.Kind) *unspoof.Source {
		return &unspoof.Source{Kind: kind, Name: string(kind), SHA256: string(kind), Region: "GB", IngestedBy: "test"}
	}
	must(t, db.Load(ctx, src(unspoof.KindAccounts), func(l unspoof.Loader) error {
		for _, ext := range []string{"U1", "U2"} {
			if err := l.AddAccount(ctx, &unspoof.Account{ExternalID: ext, Country: "GB", Username: "user" + ext}); err != nil {
				return err
			}
		}
		return nil
	}))
	ids, err := db.AccountIDs(ctx)
	must(t, err)
	must(t, db.Load(ctx, src(unspoof.KindPayments), func(l unspoof.Loader) error {
		return l.AddPayment(ctx, &unspoof.Payment{ExternalID: "P1", AccountID: ids["U1"], PaidAt: t0, AmountMinor: 15000, Currency: "GBP", Method: "BTC"})
	}))
	mobile := func(e164 string) unspoof.Phone {
		return unspoof.Phone{Raw: e164, E164: e164, Region: "GB", LineType: "mobile", Valid: true}
	}
	must(t, db.Load(ctx, src(unspoof.KindCalls), func(l unspoof.Loader) error {
		for i, c := range []struct {
			acct, to string
			secs     int
		}{{"U1", "+447911123456", 120}, {"U2", "+447911123456", 30}, {"U1", "+447911123457", 90}, {"U2", "+447911123458", 75}} {
			if err := l.AddCall(ctx, &unspoof.Call{ExternalID: fmt.Sprint("C", i), AccountID: ids[c.acct], StartedAt: t0.Add(time.Duration(i) * time.Hour),
				Duration: time.Duration(c.secs) * time.Second, CLI: unspoof.Phone{Raw: "03456000001", E164: "+443456000001"},
				Callee: mobile(c.to), Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	r, err := victim.Rank(ctx, db, victim.Config{Rule: victim.RuleMet2022})
	must(t, err)
	must(t, victim.Save(ctx, db, r))
	sr, err := suspect.Rank(ctx, db, suspect.Config{Rule: suspect.RuleHarm})
	must(t, err)
	must(t, suspect.Save(ctx, db, sr))
	f := &fixture{db: db, codes: map[string]string{}}
	vs, _, err := db.FindVictims(ctx, unspoof.VictimFilter{})
	must(t, err)
	for _, v := range vs {
		f.codes[v.E164] = v.Code
	}
	if len(f.codes) != 2 {
		t.Fatalf("fixture ranks %d victims, want 2", len(f.codes))
	}
	for _, role := range unspoof.Roles {
		must(t, db.CreateStaff(ctx, &unspoof.Staff{Username: role + "1", Name: "A " + role, Role: role,
			PasswordHash: web.HashPassword(role + "-password-1"), CreatedAt: t0}))
	}
	f.cfg = web.Config{Addr: "127.0.0.1:0", Store: db, Portal: "police.example/ispoof", FiguresEvery: time.Hour}
	if mod != nil {
		mod(&f.cfg)
	}
	f.srv, err = web.New(f.cfg)
	must(t, err)
	must(t, f.srv.Open())
	t.Cleanup(func() { f.srv.Close(context.Background()) })
	f.base = "http://" + f.srv.Addr()
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// browser is a client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	must(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads a page and returns its form's CSRF token.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body, _ := b.get(path)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	must(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func reportForm(csrf string, kv ...string) url.Values {
	v := url.Values{"csrf": {csrf}, "phone": {"07911 123456"}, "lost": {"no"}, "contact-by": {"none"}, "consent": {"yes"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// send files a report the way a browser does: form, continue, check your answers, send.
// It returns the report number.
func (b *browser) send(kv ...string) string {
	b.t.Helper()
	csrf := b.csrf("/report")
	code, body, _ := b.post("/report", reportForm(csrf, kv...))
	if code != 200 || !strings.Contains(body, "Check your answers before sending your report") {
		b.t.Fatalf("continue: %d\n%s", code, body)
	}
	code, _, h := b.post("/report/send", reportForm(csrf, kv...))
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/report/sent?n=R-") {
		b.t.Fatalf("send: %d, Location %q", code, h.Get("Location"))
	}
	code, body, _ = b.get(h.Get("Location"))
	m := regexp.MustCompile(`<strong>(R-[0-9A-Z]{8})</strong>`).FindStringSubmatch(body)
	if code != 200 || m == nil || !strings.Contains(body, "Report sent") {
		b.t.Fatalf("confirmation: %d\n%s", code, body)
	}
	return m[1]
}

func (b *browser) login(user, password string) {
	b.t.Helper()
	csrf := b.csrf("/staff/login")
	code, body, h := b.post("/staff/login", url.Values{"csrf": {csrf}, "username": {user}, "password": {password}})
	if code != http.StatusSeeOther || h.Get("Location") != "/staff" {
		b.t.Fatalf("login %s: %d\n%s", user, code, body)
	}
}

func TestReportIsLinked(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := f.browser(t)
	code := f.codes["+447911123456"]
	number := b.send("reference", strings.ToLower(code), "phone", "07911 123456", "lost", "yes", "amount", "£2,500.50",
		"paid-by", "bank-transfer", "org", "Northbridge Bank", "story", "He knew my name", "called-on-day", "1",
		"called-on-month", "3", "called-on-year", "2022", "contact-by", "email", "contact", "victim@example.org")
	if n, err := f.srv.LinkNow(context.Background()); err != nil || n != 0 {
		// The server links in the background as soon as a report arrives; by now it may be done.
		t.Logf("LinkNow linked %d (the background linker had not yet), %v", n, err)
	}
	rs, _, err := f.db.FindReports(context.Background(), unspoof.ReportFilter{})
	must(t, err)
	if len(rs) != 1 || rs[0].Number != number {
		t.Fatalf("reports stored: %+v", rs)
	}
	r, err := f.db.FindReportByID(context.Background(), rs[0].ID)
	must(t, err)
	if r.Status != unspoof.ReportMatched || r.Match != unspoof.MatchReference || r.VictimE164 != "+447911123456" ||
		r.LossMinor != 250050 || r.Reference != code || !r.CalledOn.Equal(time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC)) ||
		len(r.Accounts) != 2 || r.Accounts[0].ExternalID != "U1" || r.Accounts[0].LossMinor != 250050 || r.LinkedCalls != 2 {
		t.Errorf("linked report: %+v %v", r, r.Accounts)
	}

	// An analyst sees it, linked to the calls and the account; the view is audited.
	a := f.browser(t)
	a.login("analyst1", "analyst-password-1")
	_, body, _ := a.get(fmt.Sprintf("/staff/reports/%d", r.ID))
	for _, want := range []string{number, "matched by reference", "447911123456", `href="/staff/suspects/U1"`, "£2,500.50", "He knew my name"} {
		if !strings.Contains(body, want) {
			t.Errorf("report page lacks %q", want)
		}
	}
	_, body, _ = a.get("/staff/suspects")
	if !strings.Contains(body, "£2,500.50") {
		t.Error("the suspects list does not show U1's linked loss")
	}
	es, _ := f.db.FindAudit(context.Background(), 0)
	var seen []string
	for _, e := range es {
		seen = append(seen, e.Actor+" "+e.Action)
	}
	for _, want := range []string{"analyst1 staff.login", "analyst1 report.view", "analyst1 suspects.list"} {
		if !slices.Contains(seen, want) {
			t.Errorf("audit log %q lacks %q", seen, want)
		}
	}
}

func TestReportFormErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := f.browser(t)
	csrf := b.csrf("/report")
	code, body, _ := b.post("/report", url.Values{"csrf": {csrf}, "reference": {"K7QM-3XHT-9PXD"}, "phone": {"12"},
		"called-on-day": {"31"}, "called-on-month": {"2"}, "called-on-year": {"2022"}, "lost": {"yes"}, "amount": {"lots"},
		"contact-by": {"email"}, "contact": {"not-an-email"}})
	if code != 200 || !strings.Contains(body, "There is a problem") {
		t.Fatalf("errors page: %d", code)
	}
	for _, want := range []string{`href="#reference"`, `href="#phone"`, `href="#called-on"`, `href="#amount"`, `href="#contact"`,
		`href="#consent"`, "Enter a real date", "Enter the amount in pounds", `<title>Error: Report a call`, `value="not-an-email"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the error page lacks %q", want)
		}
	}
}

// TestNoEnumeration: a reference code or number in the evidence and one that is not give the
// same answer, byte for byte apart from the report number, and in about the same time.
func TestNoEnumeration(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *web.Config) { c.ReportsPerMinute = -1 })
	var stranger string
	pages := func(kv ...string) (string, time.Duration) {
		b := f.browser(t)
		csrf := b.csrf("/report")
		_, check, _ := b.post("/report", reportForm(csrf, kv...))
		start := time.Now()
		_, _, h := b.post("/report/send", reportForm(csrf, kv...))
		took := time.Since(start)
		_, sent, _ := b.get(h.Get("Location"))
		norm := regexp.MustCompile(`R-[0-9A-Z]{8}|value="[A-Z0-9]{52}"`).ReplaceAllString(check+sent, "X")
		for _, kv := range [][2]string{{f.codes["+447911123456"], "CODE"}, {stranger, "CODE"}, {"07911 123456", "PHONE"}, {"07911 999999", "PHONE"}} {
			norm = strings.ReplaceAll(norm, kv[0], kv[1])
		}
		return norm, took
	}
	var known, unknown []time.Duration
	var kb, ub string
	stranger = victim.NewCode() // well-formed, in no text we sent
	// Which goes first alternates, so that neither always follows the other.
	for i := range 21 {
		if i%2 == 1 {
			b2, d2 := pages("reference", stranger, "phone", "07911 999999")
			unknown, ub = append(unknown, d2), b2
		}
		b1, d1 := pages("reference", f.codes["+447911123456"], "phone", "07911 123456")
		known, kb = append(known, d1), b1
		if i%2 == 0 {
			b2, d2 := pages("reference", stranger, "phone", "07911 999999")
			unknown, ub = append(unknown, d2), b2
		}
	}
	if kb != ub {
		t.Errorf("known and unknown references give different pages:\n%s\n---\n%s", kb, ub)
	}
	slices.Sort(known)
	slices.Sort(unknown)
	if ratio := float64(known[10]) / float64(unknown[10]); ratio < 0.67 || ratio > 1.5 {
		t.Errorf("median of 21 reports: known %s, unknown %s: a timing difference a stranger could measure", known[10], unknown[10])
	}
	b := f.browser(t)
	csrf := b.csrf("/opt-out")
	_, in, _ := b.post("/opt-out", url.Values{"csrf": {csrf}, "phone": {"07911 123456"}})
	_, out, _ := b.post("/opt-out", url.Values{"csrf": {csrf}, "phone": {"07911 999999"}})
	if in != out || !strings.Contains(in, "You will not get any more messages from us") {
		t.Error("opting out a number in the evidence and one not give different pages")
	}
	if o, err := f.db.FindOptOut(context.Background(), "+447911123456"); err != nil || o.Source != "portal" {
		t.Errorf("opt-out not recorded: %+v %v", o, err)
	}
	audit, err := f.db.FindAudit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	for _, a := range audit {
		if a.Actor == "portal" && a.Action == "optout" {
			logged[a.Object] = true
		}
	}
	if !logged["+447911123456"] || !logged["+447911999999"] {
		t.Errorf("the audit log lacks the portal's opt-outs: %v", logged)
	}
}

func TestCSRFAndRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *web.Config) { c.ReportsPerMinute, c.ReportsBurst = 1, 2 })
	b := f.browser(t)
	csrf := b.csrf("/report")
	if code, _, _ := b.post("/report/send", reportForm("")); code != http.StatusForbidden {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := b.post("/report/send", reportForm(strings.Repeat("A", 52))); code != http.StatusForbidden {
		t.Errorf("a wrong token: %d", code)
	}
	stranger := f.browser(t) // another site's form: our cookie is not sent (SameSite=Strict), so no match
	if code, _, _ := stranger.post("/report/send", reportForm(csrf)); code != http.StatusForbidden {
		t.Errorf("a token without its cookie: %d", code)
	}
	b.send()
	b.send()
	code, body, h := b.post("/report/send", reportForm(csrf))
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "Wait a minute") {
		t.Errorf("third report in a minute: %d", code)
	}
	if n, _, _ := f.db.FindReports(context.Background(), unspoof.ReportFilter{}); len(n) != 2 {
		t.Errorf("%d reports stored, want 2", len(n))
	}
	if code, _, _ := b.post("/report", url.Values{"csrf": {csrf}, "story": {strings.Repeat("x", 70<<10)}}); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KB body: %d", code)
	}
}

func TestXSSInert(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *web.Config) { c.ReportsPerMinute = -1 })
	payloads := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `javascript:alert(1)`, `{{.CSRF}}`, `=HYPERLINK("http://x")`}
	b := f.browser(t)
	for _, p := range payloads {
		b.send("org", p, "story", p, "contact-by", "email", "contact", "a@example.org", "reference", "", "phone", "07911 123456")
		// The form re-rendered with errors must escape too.
		csrf := b.csrf("/report")
		_, body, _ := b.post("/report", reportForm(csrf, "phone", p, "org", p))
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("payload %q rendered unescaped on the form", p)
		}
	}
	a := f.browser(t)
	a.login("admin1", "admin-password-1")
	rs, _, _ := f.db.FindReports(context.Background(), unspoof.ReportFilter{})
	for _, r := range rs {
		_, body, _ := a.get(fmt.Sprintf("/staff/reports/%d", r.ID))
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || !strings.Contains(body, "&lt;") && strings.Contains(r.Story, "<") {
			t.Errorf("report %d: payload %q unescaped on the staff page", r.ID, r.Story)
		}
	}
	_, csv, h := a.get("/staff/reports.csv")
	if !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || strings.Contains(csv, `,=HYPERLINK`) || !strings.Contains(csv, `'=HYPERLINK`) {
		t.Errorf("CSV export does not defuse formulas:\n%s", csv)
	}
}

func TestStaffRolesAndLockout(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	anon := f.browser(t)
	if code, _, h := anon.get("/staff/reports"); code != http.StatusSeeOther || h.Get("Location") != "/staff/login" {
		t.Errorf("anonymous: %d %s", code, h.Get("Location"))
	}
	comms := f.browser(t)
	comms.login("comms1", "comms-password-1")
	if code, _, _ := comms.get("/staff"); code != 200 {
		t.Errorf("comms on the figures: %d", code)
	}
	for _, p := range []string{"/staff/audit", "/staff/reports", "/staff/victims", "/staff/reports.csv"} {
		if code, _, _ := comms.get(p); code != http.StatusForbidden {
			t.Errorf("comms on %s: %d, want 403", p, code)
		}
	}
	admin := f.browser(t)
	admin.login("admin1", "admin-password-1")
	code, body, _ := admin.get("/staff/audit")
	if code != 200 || !strings.Contains(body, "comms1") || !strings.Contains(body, "staff.login") {
		t.Errorf("admin on the audit log: %d", code)
	}

	// Five wrong passwords lock the account, even against the right one.
	m := f.browser(t)
	for range 5 {
		csrf := m.csrf("/staff/login")
		if code, body, _ := m.post("/staff/login", url.Values{"csrf": {csrf}, "username": {"analyst1"}, "password": {"guess"}}); code != http.StatusUnauthorized ||
			!strings.Contains(body, "not right") {
			t.Fatalf("a wrong password: %d", code)
		}
	}
	csrf := m.csrf("/staff/login")
	code, _, _ = m.post("/staff/login", url.Values{"csrf": {csrf}, "username": {"analyst1"}, "password": {"analyst-password-1"}})
	if code != http.StatusUnauthorized {
		t.Errorf("the right password on a locked account: %d", code)
	}

	// The API: same auth, same roles.
	resp, err := http.Post(f.base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"supervisor1","password":"supervisor-password-1"}`))
	must(t, err)
	var tok struct{ Token, Role string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" || tok.Role != "supervisor" {
		t.Fatalf("API login: %+v", tok)
	}
	req, _ := http.NewRequest("GET", f.base+"/api/v1/figures", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	var figs map[string]any
	json.NewDecoder(resp.Body).Decode(&figs)
	resp.Body.Close()
	if resp.StatusCode != 200 || figs["victims"] != float64(2) {
		t.Errorf("API figures: %d %v", resp.StatusCode, figs)
	}
	if resp, _ := http.Get(f.base + "/api/v1/reports"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without a token: %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	b := f.browser(t)
	for _, p := range []string{"/", "/report", "/opt-out", "/staff/login", "/assets/app.css", "/nope"} {
		_, _, h := b.get(p)
		if h.Get("Content-Security-Policy") == "" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	for _, p := range []string{"/assets/govuk/govuk-frontend.min.css", "/assets/app.css"} {
		if code, body, h := b.get(p); code != 200 || len(body) < 100 || !strings.HasPrefix(h.Get("Content-Type"), "text/css") {
			t.Errorf("%s: %d, %d bytes, %s", p, code, len(body), h.Get("Content-Type"))
		}
	}
	if code, _, _ := b.get("/report/sent?n=<script>"); code != http.StatusNotFound {
		t.Errorf("a made-up report number page: %d", code)
	}
}

// TestCampaignReasons: the campaigns page says why messages did not arrive, in words, to every
// role (reasons are not personal data).
func TestCampaignReasons(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	rs, err := f.db.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	c := &unspoof.Campaign{Name: "first alert", Template: "ref {{reference}}", SenderID: "POLICE", Selection: "all",
		QuietStart: 9, QuietEnd: 20, CreatedBy: "analyst1", CreatedAt: t0}
	var ms []*unspoof.Message
	for _, r := range rs {
		ms = append(ms, &unspoof.Message{E164: r.E164, Reference: r.Reference, Text: "ref " + r.Reference, Parts: 1, TZ: "Europe/London"})
	}
	must(t, f.db.CreateCampaign(ctx, c, ms))
	claimed, err := f.db.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, Limit: 1}, t0)
	must(t, err)
	if _, err := f.db.UpdateMessages(ctx, []unspoof.MessageUpdate{{ID: claimed[0].ID, From: unspoof.MessageSubmitting,
		To: unspoof.MessageFailed, Reason: "ESME_RINVDSTADR", Attempts: 1, At: t0}}); err != nil {
		t.Fatal(err)
	}
	comms := f.browser(t)
	comms.login("comms1", "comms-password-1")
	code, body, _ := comms.get("/staff/campaigns")
	if code != 200 || !strings.Contains(body, "Why messages did not arrive") || !strings.Contains(body, "ESME_RINVDSTADR") ||
		!strings.Contains(body, unspoof.ReasonMeaning("ESME_RINVDSTADR")) {
		t.Errorf("campaigns page: %d\n%s", code, body)
	}
	for e164 := range f.codes {
		if strings.Contains(body, e164) || strings.Contains(body, e164[1:]) {
			t.Errorf("campaigns page shows a number to comms")
		}
	}
}
