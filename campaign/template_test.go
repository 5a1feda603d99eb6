package campaign

import (
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

const goodTemplate = "Metropolitan Police: you may have been called by fraudsters pretending to be {{org}}. Your reference is {{reference}}. To tell us what happened type {{portal}} into your browser."

func TestRender(t *testing.T) {
	t.Parallel()
	r := &unspoof.Recipient{E164: "+447700900001", Reference: "K7QM-3XHT-9PXC", Org: "Northbridge Bank"}
	got := Render("Ref {{reference}} ({{ org }}) at {{portal}} {{unknown}}", r, "police.example/ispoof")
	if want := "Ref K7QM-3XHT-9PXC (Northbridge Bank) at police.example/ispoof {{unknown}}"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if got := Render("{{org}}", &unspoof.Recipient{}, ""); got != NoOrg {
		t.Errorf("Render with no organisation = %q, want %q", got, NoOrg)
	}
}

func TestLintTemplate(t *testing.T) {
	t.Parallel()
	orgs := []string{"Northbridge Bank", "HM Revenue Office"}
	tests := []struct {
		name, template, sender, portal string
		errors                         []string // substrings, one per error, in order
		warnings                       []string
		parts                          int
	}{
		{name: "good", template: goodTemplate, sender: "447700900999", portal: "met.police.uk/ispoof", parts: 2,
			warnings: []string{"2 SMS parts"}},
		{name: "short and alphanumeric sender", template: "Police alert ref {{reference}}", sender: "MetPolice", parts: 1,
			warnings: []string{"cannot reply STOP"}},
		{name: "no reference", template: "Police alert: call us", sender: "MetPolice",
			errors: []string{"must include {{reference}}"}, warnings: []string{"cannot reply STOP"}, parts: 1},
		{name: "link with scheme", template: "Ref {{reference}}: https://bit.ly/x1", sender: "MetPolice",
			errors: []string{`no links: "https://bit.ly/x1"`}, warnings: []string{"STOP"}, parts: 1},
		{name: "bare domain", template: "Ref {{reference}} see met.police.uk/ispoof", sender: "MetPolice",
			errors: []string{`no links: "met.police.uk/ispoof"`}, warnings: []string{"STOP"}, parts: 1},
		{name: "www", template: "Ref {{reference}} www.example.com", sender: "MetPolice",
			errors: []string{`no links: "www.example.com"`}, warnings: []string{"STOP"}, parts: 1},
		{name: "phone number", template: "Ref {{reference}} call 0207 946 0123 now", sender: "MetPolice",
			errors: []string{`no phone numbers to call back: "0207 946 0123"`}, warnings: []string{"STOP"}, parts: 1},
		{name: "international number", template: "Ref {{reference}} ring +44 20 7946 0123", sender: "MetPolice",
			errors: []string{`"+44 20 7946 0123"`}, warnings: []string{"STOP"}, parts: 1},
		{name: "unknown placeholder", template: "Ref {{reference}} {{name}}", sender: "MetPolice",
			errors: []string{"unknown placeholder {{name}}"}, warnings: []string{"STOP"}, parts: 1},
		{name: "portal not set", template: "Ref {{reference}} {{portal}}", sender: "MetPolice",
			errors: []string{"no portal address"}, warnings: []string{"STOP"}, parts: 1},
		{name: "bad sender", template: "Ref {{reference}}", sender: "Metropolitan Police",
			errors: []string{"at most 11 characters"}, parts: 1},
		{name: "welsh needs UCS-2", template: "Cyfeirnod {{reference}}: ŵyr yr heddlu", sender: "447700900999",
			warnings: []string{"needs UCS-2 because of ŵ"}, parts: 1},
		{name: "euro counts two", template: "Ref {{reference}} " + strings.Repeat("€", 71), sender: "447700900999",
			warnings: []string{"2 SMS parts"}, parts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := LintTemplate(tt.template, tt.sender, tt.portal, orgs)
			check := func(what string, got, want []string) {
				if len(got) != len(want) {
					t.Errorf("%s = %q, want %d matching %q", what, got, len(want), want)
					return
				}
				for i := range want {
					if !strings.Contains(got[i], want[i]) {
						t.Errorf("%s[%d] = %q, want it to say %q", what, i, got[i], want[i])
					}
				}
			}
			check("errors", l.Errors, tt.errors)
			check("warnings", l.Warnings, tt.warnings)
			if l.Parts != tt.parts {
				t.Errorf("parts = %d, want %d (worst case %q)", l.Parts, tt.parts, l.Worst)
			}
			if l.OK() != (len(tt.errors) == 0) {
				t.Errorf("OK = %v with errors %q", l.OK(), l.Errors)
			}
		})
	}
	// The worst case uses the longest organisation name a recipient may see.
	l := LintTemplate("{{org}} {{reference}}", "MetPolice", "", []string{"A", "Much Longer Building Society Name Ltd"})
	if l.Worst != "Much Longer Building Society Name Ltd XXXX-XXXX-XXXX" {
		t.Errorf("worst case = %q", l.Worst)
	}
}

func TestIsStop(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"STOP": true, "stop": true, " Stop. ": true, "STOP!!": true, "stop all": true, "Unsubscribe": true,
		"STOP texting me": true, "stopio": true, "Dim mwy": true, "end": true, "opt-out": true,
		"": false, "Thanks": false, "Please don't stop": false, "nonstop": false, "STOPPED": false, "Who is this?": false,
	} {
		if got := IsStop(text); got != want {
			t.Errorf("IsStop(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestHours(t *testing.T) {
	t.Parallel()
	h := DefaultHours
	winter := time.Date(2026, 1, 15, 8, 59, 0, 0, time.UTC) // London is UTC in winter
	summer := time.Date(2026, 7, 15, 7, 59, 0, 0, time.UTC) // and UTC+1 in summer
	for _, tt := range []struct {
		zone string
		at   time.Time
		open bool
		next time.Time
	}{
		{"Europe/London", winter, false, winter.Add(time.Minute)},
		{"Europe/London", winter.Add(time.Minute), true, winter.Add(time.Minute)},
		{"Europe/London", summer, false, summer.Add(time.Minute)},
		{"Europe/London", time.Date(2026, 1, 15, 20, 0, 0, 0, time.UTC), false, time.Date(2026, 1, 16, 9, 0, 0, 0, time.UTC)},
		{"Europe/London", time.Date(2026, 1, 15, 19, 59, 0, 0, time.UTC), true, time.Date(2026, 1, 15, 19, 59, 0, 0, time.UTC)},
		// Two zones: open only when it is sending time in both (New York 5 h behind London).
		{"America/New_York Europe/London", time.Date(2026, 1, 15, 13, 0, 0, 0, time.UTC), false, time.Date(2026, 1, 15, 14, 0, 0, 0, time.UTC)},
		{"America/New_York Europe/London", time.Date(2026, 1, 15, 14, 30, 0, 0, time.UTC), true, time.Date(2026, 1, 15, 14, 30, 0, 0, time.UTC)},
	} {
		if got := h.Open(tt.zone, tt.at); got != tt.open {
			t.Errorf("Open(%q, %s) = %v, want %v", tt.zone, tt.at, got, tt.open)
		}
		if got := h.NextOpen(tt.zone, tt.at); !got.Equal(tt.next) {
			t.Errorf("NextOpen(%q, %s) = %s, want %s", tt.zone, tt.at, got, tt.next)
		}
	}
	for _, bad := range []Hours{{20, 9}, {9, 9}, {-1, 5}, {9, 25}} {
		if bad.Check() == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestZone(t *testing.T) {
	t.Parallel()
	for e164, want := range map[string]string{
		"+447911123456": "Europe/Guernsey Europe/Isle_of_Man Europe/London", // libphonenumber's answer for UK mobiles
		"+12125550123":  "America/New_York",
		"+442071234567": "Europe/London",
		"+33612345678":  "Europe/Paris",
		"+999":          DefaultZone,
	} {
		if got := Zone(e164); got != want {
			t.Errorf("Zone(%s) = %q, want %q", e164, got, want)
		}
	}
}

func TestParseSelect(t *testing.T) {
	t.Parallel()
	f, err := ParseSelect("tier=high, channel=sms,limit=500")
	if err != nil || *f.Tier != "high" || *f.Channel != unspoof.ChannelSMS || f.Limit != 500 {
		t.Errorf("ParseSelect = %+v, %v", f, err)
	}
	if f, err := ParseSelect(""); err != nil || *f.Channel != unspoof.ChannelSMS || f.Tier != nil {
		t.Errorf("ParseSelect(\"\") = %+v, %v: want every SMS victim", f, err)
	}
	for _, bad := range []string{"tier=top", "channel=letter", "limit=0", "colour=red", "tier"} {
		if _, err := ParseSelect(bad); unspoof.ErrorCode(err) != unspoof.EINVALID {
			t.Errorf("ParseSelect(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestCheckSMSC(t *testing.T) {
	t.Parallel()
	synth := &unspoof.Campaign{Name: "sim", Synthetic: true}
	for addr, ok := range map[string]bool{"127.0.0.1:2775": true, "[::1]:2775": true, "localhost:2775": true,
		"10.0.0.5:2775": false, "smsc.example.net:2775": false} {
		if err := CheckSMSC(synth, addr, false); (err == nil) != ok {
			t.Errorf("CheckSMSC(synthetic, %s) = %v", addr, err)
		}
	}
	if err := CheckSMSC(synth, "10.0.0.5:2775", true); err != nil {
		t.Errorf("allowed explicitly: %v", err)
	}
	if err := CheckSMSC(&unspoof.Campaign{}, "10.0.0.5:2775", false); err != nil {
		t.Errorf("real evidence: %v", err)
	}
}
