package phonenum_test

// The differential test: Parse must give libphonenumber's answer (nyaruka/phonenumbers, the
// library it compiles) for every field and every error, on over a million inputs built from the
// metadata's own example numbers, the FTC complaints file and simulator-style numbers.
//
// FuzzParse asserts the same on generated input; CI runs it for a bounded time with
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 30s ./phonenum/

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/unspoof/unspoof/phonenum"
)

// oracle describes libphonenumber's answer for raw in the form describe gives ours.
func oracle(raw, region string) string {
	pn, err := phonenumbers.Parse(raw, region)
	if err != nil {
		var kind string
		switch {
		case errors.Is(err, phonenumbers.ErrNotANumber):
			kind = "not a number"
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			kind = "invalid country code"
		case errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
			kind = "too short after IDD"
		case errors.Is(err, phonenumbers.ErrTooShortNSN):
			kind = "too short"
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			kind = "too long"
		default:
			kind = "other: " + err.Error()
		}
		return "error: " + kind
	}
	e164 := phonenumbers.Format(pn, phonenumbers.E164)
	return fmt.Sprintf("%s cc=%d region=%q type=%d valid=%t possible=%d fictional=%t", e164, pn.GetCountryCode(),
		phonenumbers.GetRegionCodeForNumber(pn), phonenumbers.GetNumberType(pn), phonenumbers.IsValidNumber(pn),
		phonenumbers.IsPossibleNumberWithReason(pn), phonenum.IsFictional(e164))
}

// describe describes Parse's answer, checking on the way that ParseCompact agrees with it.
func describe(raw, region string) string {
	n, err := phonenum.Parse(raw, region)
	c, cerr := phonenum.ParseCompact(raw, region)
	if err != cerr || (err == nil && c.Number() != n) {
		return fmt.Sprintf("Parse %+v %v and ParseCompact %+v %v disagree", n, err, c.Number(), cerr)
	}
	if err != nil {
		var kind string
		switch {
		case errors.Is(err, phonenum.ErrNotANumber):
			kind = "not a number"
		case errors.Is(err, phonenum.ErrInvalidCountryCode):
			kind = "invalid country code"
		case errors.Is(err, phonenum.ErrTooShortAfterIDD):
			kind = "too short after IDD"
		case errors.Is(err, phonenum.ErrTooShort):
			kind = "too short"
		case errors.Is(err, phonenum.ErrTooLong):
			kind = "too long"
		default:
			kind = "other: " + err.Error()
		}
		return "error: " + kind
	}
	return fmt.Sprintf("%s cc=%d region=%q type=%d valid=%t possible=%d fictional=%t", n.E164, n.CountryCode,
		n.Region, libType(n.Type), n.Valid, libPossible(n.Possible), n.Fictional)
}

type input struct{ raw, region string }

// corpus builds the differential test's inputs, deterministically.
func corpus(t testing.TB) []input {
	r := rand.New(rand.NewPCG(4, 2026))
	in := make([]input, 0, 1_150_000)
	add := func(raw string, regions ...string) {
		for _, reg := range regions {
			in = append(in, input{raw, reg})
		}
	}

	// The FTC complaints, as the US reads them (and as the UK would).
	f, err := os.Open("../../shared/data/ftc-dnc-complaints-2021-07-08.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		add(row[0], "US", "GB")
		add("+"+row[0], "US")
		add(format(r, row[0]), "US")
	}

	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	var allRegions []string
	for reg := range phonenumbers.GetSupportedRegions() {
		allRegions = append(allRegions, reg)
	}
	sortStrings(allRegions)
	someRegions := func(own string) []string {
		other := []string{"DE", "FR", allRegions[r.IntN(len(allRegions))], "", "ZZ", "gb"}
		return []string{own, "GB", "US", other[r.IntN(len(other))]}
	}

	// Every territory's example numbers, mutated.
	for _, m := range coll.GetMetadata() {
		cc := strconv.Itoa(int(m.GetCountryCode()))
		own := m.GetId()
		if own == "001" {
			own = "US"
		}
		np := m.GetNationalPrefix()
		var examples []string
		for _, d := range []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(),
			m.GetTollFree(), m.GetPremiumRate(), m.GetSharedCost(), m.GetPersonalNumber(), m.GetVoip(),
			m.GetPager(), m.GetUan(), m.GetVoicemail(), m.GetNoInternationalDialling()} {
			if e := d.GetExampleNumber(); e != "" {
				examples = append(examples, e)
			}
		}
		for _, e := range examples {
			variants := []string{e, e[:len(e)-1], e + strconv.Itoa(r.IntN(10)), mutate(r, e), mutate(r, e),
				e[1:], strconv.Itoa(r.IntN(10)) + e}
			for _, v := range variants {
				for _, shape := range []string{
					"+" + cc + v, "+" + cc + " " + format(r, v), "00" + cc + v, "011 " + cc + " " + format(r, v),
					np + v, format(r, np+v), v, cc + v, "+" + cc + np + v, "00" + cc + " (" + np + ") " + format(r, v),
					"+" + v, "+" + format(r, cc+v), "0" + v, "1" + v, "8" + v, "810" + cc + v, "001" + cc + v,
				} {
					add(shape, someRegions(own)...)
				}
				// Dialled from its own territory with that territory's international prefix.
				idd := strings.ReplaceAll(m.GetPreferredInternationalPrefix(), "~", "")
				if idd == "" && strings.Trim(m.GetInternationalPrefix(), "0123456789") == "" {
					idd = m.GetInternationalPrefix()
				}
				if idd != "" && m.GetId() != "001" {
					add(idd+cc+v, own)
					add(idd+" "+cc+" "+format(r, v), own)
				}
			}
		}
	}

	// Simulator-style numbers.
	for range 7000 {
		uk := ukNumber(r)
		add("0"+uk, "GB")
		add("0"+format(r, uk), "GB")
		add("+44"+uk, "GB", "US")
		add("+44 "+format(r, uk), "GB")
		add("0044"+uk, "GB", "FR")
		add("44"+uk, "GB")
		add(corrupt(r, uk), "GB", "US")
		add(corrupt(r, uk)+strings.Repeat("a", r.IntN(3)), "GB")
		us := usNumber(r)
		add(us, "US")
		add("1"+us, "US")
		add("+1"+us, "GB", "US")
		add("001"+us, "GB")
		add("011 1 "+format(r, us), "US")
		add("("+us[:3]+") "+us[3:6]+"-"+us[6:], "US", "GB")
		for _, c := range []struct{ cc, region, np string }{
			{"33", "FR", "0"}, {"49", "DE", "0"}, {"34", "ES", ""}, {"39", "IT", ""}, {"31", "NL", "0"},
			{"353", "IE", "0"}, {"61", "AU", "0"}, {"91", "IN", "0"}, {"48", "PL", ""}, {"32", "BE", "0"},
		} {
			nsn := randDigits(r, 8+r.IntN(4))
			add("+"+c.cc+nsn, "GB")
			add("00"+c.cc+" "+format(r, nsn), "GB", c.region)
			add(c.np+format(r, nsn), c.region)
		}
	}

	// Noise: odd characters, letters, extensions, RFC 3966, unicode digits.
	for range 100000 {
		add(noise(r), allRegions[r.IntN(len(allRegions))])
	}
	return in
}

func sortStrings(s []string) {
	// Sorted, so the corpus is the same on every run.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func randDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// ukNumber returns a UK national significant number: mobile, London, or other geographic.
func ukNumber(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0, 1, 2:
		return "7" + randDigits(r, 9)
	case 3:
		return "20" + randDigits(r, 8)
	case 4:
		return "1" + randDigits(r, 9)
	}
	return randDigits(r, 10)
}

func usNumber(r *rand.Rand) string {
	return strconv.Itoa(2+r.IntN(8)) + randDigits(r, 9)
}

// format splits digits into groups with spaces, dashes, dots or brackets.
func format(r *rand.Rand, digits string) string {
	seps := []string{" ", "-", ".", " ", "/", ""}
	var b strings.Builder
	i := 0
	if len(digits) > 4 && r.IntN(3) == 0 {
		n := 2 + r.IntN(3)
		b.WriteString("(" + digits[:n] + ") ")
		i = n
	}
	sep := seps[r.IntN(len(seps))]
	for i < len(digits) {
		n := min(2+r.IntN(3), len(digits)-i)
		if b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
			b.WriteString(sep)
		}
		b.WriteString(digits[i : i+n])
		i += n
	}
	return b.String()
}

// mutate changes, drops or adds a random digit.
func mutate(r *rand.Rand, s string) string {
	if len(s) < 2 {
		return s
	}
	i := r.IntN(len(s))
	d := strconv.Itoa(r.IntN(10))
	switch r.IntN(3) {
	case 0:
		return s[:i] + d + s[i+1:]
	case 1:
		return s[:i] + s[i+1:]
	}
	return s[:i] + d + s[i:]
}

var noiseParts = []string{
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "00", "44", "+", "+", " ", "-", ".", "(", ")", "/", "[", "]",
	"~", "*", "#", ",", ";", ":", "x", "X", "ext", " ext. ", "tel:", ";phone-context=", ";isub=", ";ext=", "a",
	"ABC", "Tel", "٣", "１", "＋", "\u00a0", "\u2010", "–", "&&", "\t", "'", "\"", "07700", "0800", "+44",
	"+1", "011", "0044", "9", "x123", "#", ",,", "é", "\xff", "O", "l", "S", "B", "i", "int", "Z", "e",
}

func noise(r *rand.Rand) string {
	var b strings.Builder
	n := 1 + r.IntN(12)
	for range n {
		if r.IntN(3) == 0 {
			b.WriteString(randDigits(r, 1+r.IntN(6)))
		} else {
			b.WriteString(noiseParts[r.IntN(len(noiseParts))])
		}
	}
	return b.String()
}

// TestDifferential compares every field Parse returns with libphonenumber's on over a million
// inputs (about 20 s on two cores). -short checks one in twenty of them.
func TestDifferential(t *testing.T) {
	t.Parallel()
	start := time.Now()
	in := corpus(t)
	built := time.Since(start)
	step := 1
	if testing.Short() {
		step = 20
	}
	fast0, fallback0 := phonenum.Stats()
	var checked, failed atomic.Int64
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * step; i < len(in); i += workers * step {
				x := in[i]
				want, got := oracle(x.raw, x.region), describe(x.raw, x.region)
				checked.Add(1)
				if want != got && failed.Add(1) <= 30 {
					t.Errorf("Parse(%q, %q):\n got %s\nwant %s", x.raw, x.region, got, want)
				}
			}
		}()
	}
	wg.Wait()
	fast, fallback := phonenum.Stats()
	t.Logf("%d inputs (%d built in %v), %d disagreements, %v; fast path %d, fallback %d (counters shared with parallel tests)",
		checked.Load(), len(in), built.Round(time.Millisecond), failed.Load(), time.Since(start).Round(time.Millisecond),
		fast-fast0, fallback-fallback0)
	if !testing.Short() && checked.Load() < 1_000_000 {
		t.Errorf("only %d inputs checked", checked.Load())
	}
}
