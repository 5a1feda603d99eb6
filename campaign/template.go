package campaign

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/smpp"
)

// Placeholders a template may use.
const (
	PlaceReference = "{{reference}}" // the victim's reference code: required
	PlaceOrg       = "{{org}}"       // the organisation impersonated in most calls to them
	PlacePortal    = "{{portal}}"    // the portal's address, as plain text to type (never a link)
)

// NoOrg is what {{org}} says when no organisation was impersonated in the calls to a number.
const NoOrg = "a bank or other organisation"

var placeholder = regexp.MustCompile(`\{\{\s*([a-zA-Z_]+)\s*\}\}`)

// Render fills t's placeholders for one recipient. portal is the portal's address ("" when the
// template has no {{portal}}).
func Render(t string, r *unspoof.Recipient, portal string) string {
	org := r.Org
	if org == "" {
		org = NoOrg
	}
	return placeholder.ReplaceAllStringFunc(t, func(p string) string {
		switch strings.ToLower(strings.TrimSpace(p[2 : len(p)-2])) {
		case "reference":
			return r.Reference
		case "org":
			return org
		case "portal":
			return portal
		}
		return p
	})
}

// Lint is what the template linter found. A template with Errors is refused.
type Lint struct {
	Errors   []string
	Warnings []string
	Worst    string // the longest rendering: the longest organisation name and a full reference
	Parts    int    // SMS segments of Worst
	Coding   string // "GSM-7" or "UCS-2"
}

// OK reports whether the template may be used.
func (l *Lint) OK() bool { return len(l.Errors) == 0 }

var (
	// A link, with or without a scheme: phones turn "example.org/x" into a link too.
	linkRE = regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:uk|com|org|net|gov|info|io|co|me|ly|app|police|link|xyz|site|online)\b(?:/\S*)?`)
	// A number to call back: seven digits or more, however spaced.
	phoneRE = regexp.MustCompile(`\+?\(?\d[\d\s().-]{5,}\d`)
)

// LintTemplate checks a template before a campaign is created: it refuses links and phone
// numbers (a police alert must not look like the scam it warns about: the victim is told where
// to go, never given something to tap or call), refuses a template without {{reference}} or with
// an unknown placeholder, checks the sender ID, and warns when the worst-case rendering takes
// more than one SMS or needs UCS-2. orgs are the organisation names recipients may see;
// portal is the address {{portal}} stands for.
func LintTemplate(t, senderID, portal string, orgs []string) *Lint {
	l := &Lint{}
	if strings.TrimSpace(t) == "" {
		l.Errors = append(l.Errors, "the template is empty")
		return l
	}
	hasRef := false
	for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
		switch strings.ToLower(m[1]) {
		case "reference":
			hasRef = true
		case "org":
		case "portal":
			if portal == "" {
				l.Errors = append(l.Errors, "{{portal}} is used but no portal address is set (--portal)")
			}
		default:
			l.Errors = append(l.Errors, fmt.Sprintf("unknown placeholder %s: use {{reference}}, {{org}} or {{portal}}", m[0]))
		}
	}
	if !hasRef {
		l.Errors = append(l.Errors, "the template must include {{reference}}: it is how a victim proves the text is ours")
	}
	bare := placeholder.ReplaceAllString(t, " ")
	for _, link := range linkRE.FindAllString(bare, -1) {
		l.Errors = append(l.Errors, fmt.Sprintf("no links: %q (name the portal with {{portal}}, which is shown as text to type)", link))
	}
	for _, n := range phoneRE.FindAllString(bare, -1) {
		l.Errors = append(l.Errors, fmt.Sprintf("no phone numbers to call back: %q (victims of spoofing were called from trusted numbers; tell them to call the number on their card)", strings.TrimSpace(n)))
	}
	if err := CheckSenderID(senderID); err != nil {
		l.Errors = append(l.Errors, err.Error())
	} else if !isNumericSender(senderID) {
		l.Warnings = append(l.Warnings, fmt.Sprintf("sender %q is alphanumeric: recipients cannot reply STOP to it; say how to opt out on the portal", senderID))
	}

	longest := ""
	for _, o := range orgs {
		if utf8.RuneCountInString(o) > utf8.RuneCountInString(longest) {
			longest = o
		}
	}
	if utf8.RuneCountInString(NoOrg) > utf8.RuneCountInString(longest) {
		longest = NoOrg
	}
	l.Worst = Render(t, &unspoof.Recipient{Reference: "XXXX-XXXX-XXXX", Org: longest}, portal)
	l.Parts = smpp.Parts(l.Worst)
	l.Coding = "GSM-7"
	if smpp.Coding(l.Worst) == smpp.CodingUCS2 {
		l.Coding = "UCS-2"
		var odd []string
		for _, r := range l.Worst {
			if smpp.Coding(string(r)) == smpp.CodingUCS2 && !strings.ContainsRune(strings.Join(odd, ""), r) {
				odd = append(odd, string(r))
			}
		}
		l.Warnings = append(l.Warnings, fmt.Sprintf("needs UCS-2 because of %s: 70 characters a part instead of 160",
			strings.Join(odd, " ")))
	}
	if l.Parts > 1 {
		l.Warnings = append(l.Warnings, fmt.Sprintf("the worst case takes %d SMS parts (%d characters, %s): each part is paid and counted by the throttle",
			l.Parts, utf8.RuneCountInString(l.Worst), l.Coding))
	}
	return l
}

// CheckSenderID checks an SMS sender ID: up to 11 letters, digits and spaces with at least one
// letter (alphanumeric), or a number of up to 15 digits.
func CheckSenderID(s string) error {
	switch {
	case s == "":
		return unspoof.Errorf(unspoof.EINVALID, "no sender ID (--sender-id)")
	case isNumericSender(s):
		if n := len(strings.TrimPrefix(s, "+")); n > 15 || n < 3 {
			return unspoof.Errorf(unspoof.EINVALID, "sender ID %q: a number has 3 to 15 digits", s)
		}
		return nil
	case len(s) > 11:
		return unspoof.Errorf(unspoof.EINVALID, "sender ID %q: an alphanumeric sender ID has at most 11 characters", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' ') {
			return unspoof.Errorf(unspoof.EINVALID, "sender ID %q: only letters, digits and spaces", s)
		}
	}
	return nil
}

func isNumericSender(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
