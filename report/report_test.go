package report

import (
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof/victim"
)

var now = time.Date(2022, 3, 10, 12, 0, 0, 0, time.UTC)

func TestCheckGood(t *testing.T) {
	t.Parallel()
	code := victim.NewCode()
	r, errs := Check(&Form{Reference: " " + strings.ToLower(strings.ReplaceAll(code, "-", " ")) + " ", Phone: "07911 123456", Day: "1", Month: "3", Year: "2022",
		Lost: "yes", Amount: "£1,250.5", PaidBy: "card", Story: "line one\nline\x00 two\xff", ContactBy: "email",
		Contact: "a.b@example.org", Consent: "yes"}, now)
	if len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if r.Reference != code || r.E164 != "+447911123456" || r.LossMinor != 125050 || !r.CalledOn.Equal(time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC)) ||
		r.Story != "line one\nline two\uFFFD" || r.PaidBy != "card" || !r.Consent {
		t.Errorf("report %+v", r)
	}
}

func TestCheckErrors(t *testing.T) {
	t.Parallel()
	code := victim.NewCode()
	typo := code[:len(code)-1] + string(victim.Alphabet[(strings.IndexByte(victim.Alphabet, code[len(code)-1])+1)%len(victim.Alphabet)])
	for _, tt := range []struct {
		f      Form
		fields string
	}{
		{Form{}, "phone lost contact-by consent"},
		{Form{Phone: "abc", Lost: "no", ContactBy: "none", Consent: "yes"}, "phone"},
		{Form{Phone: "07911123456", Day: "30", Month: "2", Year: "2022", Lost: "no", ContactBy: "none", Consent: "yes"}, "called-on"},
		{Form{Phone: "07911123456", Day: "1", Month: "4", Year: "2022", Lost: "no", ContactBy: "none", Consent: "yes"}, "called-on"},
		{Form{Phone: "07911123456", Lost: "yes", Amount: "ten", ContactBy: "none", Consent: "yes"}, "amount"},
		{Form{Phone: "07911123456", Lost: "yes", Amount: "0", ContactBy: "none", Consent: "yes"}, "amount"},
		{Form{Phone: "07911123456", Lost: "yes", ContactBy: "none", Consent: "yes"}, "amount"},
		{Form{Phone: "07911123456", Lost: "no", ContactBy: "email", Contact: "nope", Consent: "yes"}, "contact"},
		{Form{Phone: "07911123456", Lost: "no", ContactBy: "phone", Consent: "yes"}, "contact"},
		{Form{Reference: typo, Phone: "07911123456", Lost: "no", ContactBy: "none", Consent: "yes"}, "reference"},
		{Form{Phone: "07911123456", Lost: "no", ContactBy: "none", Consent: "yes", Story: strings.Repeat("é", MaxStory+1)}, "story"},
	} {
		_, errs := Check(&tt.f, now)
		var got []string
		for _, e := range errs {
			got = append(got, e.Field)
		}
		if strings.Join(got, " ") != tt.fields {
			t.Errorf("%+v: errors on %q, want %q", tt.f, got, tt.fields)
		}
	}
}

func TestParsePounds(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"250": 25000, "£1,250.50": 125050, "0.5": 50, ".99": 99, " £3,000,000 ": 300000000} {
		if got, err := ParsePounds(in); err != nil || got != want {
			t.Errorf("ParsePounds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "£", "1.234", "1.", "-5", "1e6", "12 34", "£1,250.5x"} {
		if _, err := ParsePounds(bad); err == nil {
			t.Errorf("ParsePounds(%q): no error", bad)
		}
	}
}

func TestNewNumber(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		n := NewNumber()
		if len(n) != 10 || !strings.HasPrefix(n, "R-") || strings.Trim(n[2:], NumberAlphabet) != "" || seen[n] {
			t.Fatalf("NewNumber = %q", n)
		}
		seen[n] = true
	}
}
