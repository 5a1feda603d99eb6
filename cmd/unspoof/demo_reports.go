package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/campaign"
)

// demoReport is one report the demo files as a victim would: through the portal's forms.
type demoReport struct {
	reference, phone string
	calledOn         time.Time
	org              string
	lossPence        int64
	paidBy, story    string
}

// demoReports files n reports through the portal at addr, then waits until the portal has linked
// them to the evidence and prints what it found. Most come from alerted victims the simulator's
// truth says were defrauded and would report, quoting the reference in their text; one gives
// no reference (the portal links it by the number); one is from a number the service never
// called (linked to nothing).
func demoReports(ctx context.Context, g *globals, store caseStore, addr string, c *unspoof.Campaign, truthPath string, n int) error {
	w := g.stdout
	if n <= 0 {
		return nil
	}
	t, err := readTruth(truthPath)
	if err != nil {
		return err
	}
	var ms []*unspoof.Message
	if c != nil {
		delivered := unspoof.MessageDelivered
		if ms, _, err = store.FindMessages(ctx, unspoof.MessageFilter{CampaignID: c.ID, State: &delivered}); err != nil {
			return err
		}
	}
	var reps []demoReport
	add := func(e164, reference string) error {
		r := demoReport{phone: nationalUK(e164), reference: reference, paidBy: "bank-transfer",
			lossPence: int64(t.defrauded[e164]*100 + 0.5)}
		v, err := store.FindVictimByNumber(ctx, e164)
		switch {
		case err == nil:
			r.calledOn, r.org = v.LastCall, v.Org
		case unspoof.ErrorCode(err) != unspoof.ENOTFOUND:
			return err
		}
		r.story = fmt.Sprintf("A man said he was from %s's fraud team and that my account was under attack. "+
			"The number on my phone was theirs, so I believed him and moved my savings to a 'safe account'.", or(r.org, "my bank"))
		if r.lossPence == 0 {
			r.story = "Someone claiming to be from " + or(r.org, "my bank") + " kept asking for a code from a text. I hung up."
		}
		reps = append(reps, r)
		return nil
	}
	// Alerted victims who would report first, then other defrauded ones, then anyone alerted;
	// with no campaign, UK victims who would report, giving their number only.
	for pass := 0; pass < 3 && len(reps) < n-1; pass++ {
		for _, m := range ms {
			if len(reps) >= n-1 {
				break
			}
			_, defrauded := t.defrauded[m.E164]
			if (pass == 0 && t.reporters[m.E164]) || (pass == 1 && defrauded && !t.reporters[m.E164]) || (pass == 2 && !defrauded) {
				if err := add(m.E164, m.Reference); err != nil {
					return err
				}
			}
		}
	}
	if len(reps) > 0 && n >= 2 { // one who lost the text: no reference, just their number
		reps[len(reps)-1].reference = ""
	}
	for _, e164 := range slices.Sorted(maps.Keys(t.reporters)) {
		if len(reps) >= n-1 {
			break
		}
		if err := add(e164, ""); err != nil {
			return err
		}
	}
	reps = append(reps, demoReport{phone: "07700 900461", calledOn: time.Date(2022, 5, 3, 0, 0, 0, 0, time.UTC),
		org: "HMRC", story: "A recorded message said I owed tax and would be arrested. I did not pay anything."})
	if len(reps) > n {
		reps = reps[len(reps)-n:]
	}

	fmt.Fprintf(w, "\n4. Victim reports: filing %d through the portal's forms at http://%s/report\n", len(reps), addr)
	pc, err := newPortalClient(addr)
	if err != nil {
		return err
	}
	filed := map[string]bool{}
	for _, r := range reps {
		num, err := pc.file(ctx, r)
		if err != nil {
			return fmt.Errorf("file a report: %w", err)
		}
		filed[num] = true
		ref := "no reference"
		if r.reference != "" {
			ref = "reference " + r.reference
		}
		loss := "no loss"
		if r.lossPence > 0 {
			loss = "lost " + pounds(r.lossPence)
		}
		fmt.Fprintf(w, "   %s from %s (%s, %s)\n", num, campaign.Mask(r.phone), ref, loss)
	}
	// The portal links reports in the background, a little after each arrives (so that its answer
	// and timing say nothing about the evidence): wait for it.
	linked, err := waitLinked(ctx, store, filed)
	if err != nil {
		return err
	}
	var matched, byRef, byNumber int
	var loss int64
	accounts := map[int64]bool{}
	for _, r := range linked {
		if r.Status != unspoof.ReportMatched {
			continue
		}
		matched++
		if r.Match == unspoof.MatchReference {
			byRef++
		} else {
			byNumber++
		}
		loss += r.LossMinor
		for _, a := range r.Accounts {
			accounts[a.AccountID] = true
		}
	}
	fmt.Fprintf(w, "   linked: %d of %d to victims in the evidence (%d by reference, %d by number), %s reported lost, attributed to %d account%s of the service\n",
		matched, len(linked), byRef, byNumber, pounds(loss), len(accounts), plural(len(accounts)))
	return nil
}

// waitLinked waits until every report numbered in filed has been linked (or found unlinkable).
func waitLinked(ctx context.Context, store caseStore, filed map[string]bool) ([]*unspoof.Report, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, _, err := store.FindReports(ctx, unspoof.ReportFilter{})
		if err != nil {
			return nil, err
		}
		var ours []*unspoof.Report
		waiting := 0
		for _, r := range all {
			if !filed[r.Number] {
				continue
			}
			if r.Status == unspoof.ReportNew {
				waiting++
			}
			full, err := store.FindReportByID(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			ours = append(ours, full)
		}
		if waiting == 0 && len(ours) == len(filed) {
			return ours, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the portal linked %d of %d reports within 30 s", len(ours)-waiting, len(filed))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// portalClient fills in the portal's report form as a browser without JavaScript does: it loads
// the form for its CSRF cookie and token, posts the answers, confirms them on "check your
// answers", and follows the redirect to the confirmation page.
type portalClient struct {
	base string
	http *http.Client
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	reportNumber = regexp.MustCompile(`R-[0-9A-Z]{8}`)
)

func newPortalClient(addr string) (*portalClient, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &portalClient{base: "http://" + addr, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// do sends a request and returns the response's status, body and redirect target.
func (pc *portalClient) do(ctx context.Context, method, path string, form url.Values) (int, string, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, pc.base+path, body)
	if err != nil {
		return 0, "", "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := pc.http.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), resp.Header.Get("Location"), err
}

// file submits r and returns the report number the portal gave.
func (pc *portalClient) file(ctx context.Context, r demoReport) (string, error) {
	code, page, _, err := pc.do(ctx, http.MethodGet, "/report", nil)
	if err != nil {
		return "", err
	}
	m := csrfField.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET /report: %d, no form token", code)
	}
	form := url.Values{"csrf": {m[1]}, "reference": {r.reference}, "phone": {r.phone}, "org": {r.org}, "story": {r.story},
		"contact-by": {"none"}, "consent": {"yes"}, "lost": {"no"}}
	if !r.calledOn.IsZero() {
		form.Set("called-on-day", fmt.Sprint(r.calledOn.Day()))
		form.Set("called-on-month", fmt.Sprint(int(r.calledOn.Month())))
		form.Set("called-on-year", fmt.Sprint(r.calledOn.Year()))
	}
	if r.lossPence > 0 {
		form.Set("lost", "yes")
		form.Set("amount", fmt.Sprintf("%d.%02d", r.lossPence/100, r.lossPence%100))
		form.Set("paid-by", r.paidBy)
	}
	code, page, _, err = pc.do(ctx, http.MethodPost, "/report", form)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK || !strings.Contains(page, "Check your answers") {
		return "", fmt.Errorf("POST /report: %d, the form was not accepted:\n%s", code, formErrors(page))
	}
	code, _, loc, err := pc.do(ctx, http.MethodPost, "/report/send", form)
	if err != nil {
		return "", err
	}
	if code != http.StatusSeeOther || loc == "" {
		return "", fmt.Errorf("POST /report/send: %d, not sent", code)
	}
	code, page, _, err = pc.do(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return "", err
	}
	num := reportNumber.FindString(page)
	if code != http.StatusOK || num == "" {
		return "", errors.New("the confirmation page shows no report number")
	}
	return num, nil
}

// formErrors picks the error summary's messages out of a form page.
func formErrors(page string) string {
	var msgs []string
	for _, m := range regexp.MustCompile(`<a href="#[^"]+">([^<]+)</a>`).FindAllStringSubmatch(page, -1) {
		msgs = append(msgs, m[1])
	}
	return strings.Join(msgs, "\n")
}

// nationalUK writes a +44 number as people in the UK type it (07911 123456).
func nationalUK(e164 string) string {
	if rest, ok := strings.CutPrefix(e164, "+44"); ok && len(rest) == 10 {
		return "0" + rest[:4] + " " + rest[4:]
	}
	return e164
}

func pounds(pence int64) string {
	return fmt.Sprintf("£%s.%02d", count(pence/100), pence%100)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
