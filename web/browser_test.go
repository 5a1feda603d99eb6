package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/web"
	"github.com/unspoof/unspoof/web/webtest"
)

func off() *bool { b := false; return &b }
func on() *bool  { b := true; return &b }

// reportSteps files a report from the reference in the text, as a victim on a phone would:
// the start page, the form (first sent with nothing filled in, to see the errors), check your
// answers, and the confirmation with its report number.
func reportSteps(js *bool, viewport []int, code, shot string) []webtest.Step {
	return []webtest.Step{
		{Goto: "/", JavaScript: js, Viewport: viewport},
		{ExpectText: "You may have been called by fraudsters"},
		{Screenshot: shot + "-start"},
		{Click: "Report the call"},
		{ExpectURL: "/report"},
		{Click: "Continue"},
		{ExpectText: "There is a problem"},
		{ExpectText: "Enter the phone number that received the call"},
		{Screenshot: shot + "-errors"},
		{Fill: &webtest.Field{Label: "Reference from the text message (optional)", Value: code}},
		{Fill: &webtest.Field{Label: "Phone number that received the call", Value: "07911 123456"}},
		{Fill: &webtest.Field{Label: "Who did the caller say they were? (optional)", Value: "Northbridge Bank"}},
		{Check: "Yes"},
		{Fill: &webtest.Field{Label: "If you lost money, how much?", Value: "1,200"}},
		{Check: "Bank transfer"},
		{Fill: &webtest.Field{Label: "What happened? (optional)", Value: "They said my account was at risk and I had to move my savings."}},
		{Check: "Please do not contact me"},
		{Check: "I agree that the police may keep and use what I tell them to investigate this fraud"},
		{Click: "Continue"},
		{ExpectText: "Check your answers before sending your report"},
		{ExpectText: "Yes, £1,200, by bank transfer"},
		{Screenshot: shot + "-check"},
		{Click: "Send report"},
		{ExpectText: "Report sent"},
		{Capture: &webtest.Capture{Name: shot, Selector: ".govuk-panel__body strong"}},
		{Screenshot: shot + "-sent"},
	}
}

// TestBrowserPortal: in Debian's Chromium, a victim files a report on a 320-pixel-wide screen
// with JavaScript off, and another on a phone with it on; an analyst signs in and sees the
// report linked to the right calls and suspect; a comms officer cannot open the audit log.
// axe-core checks every page; every stylesheet and font must load under the strict CSP.
func TestBrowserPortal(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *web.Config) { c.ReportsPerMinute = -1 })
	code := f.codes["+447911123456"]
	steps := append(reportSteps(off(), []int{320, 640}, code, "victim-js-off"),
		reportSteps(on(), []int{375, 812}, code, "victim-js-on")...)
	steps = append(steps,
		webtest.Step{Goto: "/opt-out", Viewport: []int{320, 640}},
		webtest.Step{Fill: &webtest.Field{Label: "Mobile phone number", Value: "07911 999999"}},
		webtest.Step{Click: "Stop messages"},
		webtest.Step{ExpectText: "You will not get any more messages from us"},
		webtest.Step{Screenshot: "opt-out"},
	)
	got := webtest.RunBrowser(t, webtest.Scenario{BaseURL: f.base, AxeEveryPage: true, StrictResources: true, Steps: steps})
	for _, name := range []string{"victim-js-off", "victim-js-on"} {
		if !strings.HasPrefix(got[name], "R-") {
			t.Fatalf("%s: report number %q", name, got[name])
		}
	}
	if _, err := f.srv.LinkNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs, _, err := f.db.FindReports(context.Background(), unspoof.ReportFilter{})
	if err != nil || len(rs) != 2 {
		t.Fatalf("reports: %d, %v", len(rs), err)
	}
	id := rs[0].ID

	webtest.RunBrowser(t, webtest.Scenario{BaseURL: f.base, AxeEveryPage: true, StrictResources: true, Steps: []webtest.Step{
		{Context: &webtest.Context{Viewport: []int{1280, 900}}},
		{Goto: "/staff"},
		{ExpectURL: "/staff/login"},
		{Fill: &webtest.Field{Label: "Username", Value: "analyst1"}},
		{Fill: &webtest.Field{Label: "Password", Value: "analyst-password-1"}},
		{Click: "Sign in"},
		{ExpectText: "Headline figures"},
		{ExpectText: "reports received (2 matched)"},
		{Screenshot: "staff-dashboard"},
		{Goto: "/staff/reports?status=matched"},
		{ExpectText: got["victim-js-on"]},
		{Screenshot: "staff-reports"},
		{Goto: fmt.Sprintf("/staff/reports/%d", id)},
		{ExpectText: "matched by reference"},
		{ExpectText: "447911123456"},
		{ExpectText: "£1,200"},
		{Screenshot: "staff-report"},
		{Click: "U1"},
		{ExpectURL: "/staff/suspects/U1"},
		{ExpectText: "Reported losses linked £2,400"},
		{Screenshot: "staff-suspect"},
		{Goto: "/staff/suspects"},
		{Screenshot: "staff-suspects"},
		{Goto: "/staff/campaigns"},
		{Screenshot: "staff-campaigns"},
		{Goto: "/staff/audit"},
		{ExpectStatus: 403},

		{Context: &webtest.Context{Viewport: []int{1280, 900}}},
		{Goto: "/staff/login"},
		{Fill: &webtest.Field{Label: "Username", Value: "comms1"}},
		{Fill: &webtest.Field{Label: "Password", Value: "comms-password-1"}},
		{Click: "Sign in"},
		{ExpectText: "Headline figures"},
		{Goto: "/staff/audit"},
		{ExpectStatus: 403},
		{ExpectText: "Your role (comms) cannot see this page."},
		{Goto: fmt.Sprintf("/staff/reports/%d", id)},
		{ExpectStatus: 403},

		{Context: &webtest.Context{Viewport: []int{1280, 900}}},
		{Goto: "/staff/login"},
		{Fill: &webtest.Field{Label: "Username", Value: "admin1"}},
		{Fill: &webtest.Field{Label: "Password", Value: "admin-password-1"}},
		{Click: "Sign in"},
		{Goto: "/staff/audit"},
		{ExpectText: "report.view"},
		{Screenshot: "staff-audit"},
	}})
}
