package phonenum_test

import (
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// fuzzRegions are the default regions FuzzParse picks from: every supported region, the empty
// one and an unknown one.
var fuzzRegions = func() []string {
	var r []string
	for reg := range phonenumbers.GetSupportedRegions() {
		r = append(r, reg)
	}
	slices.Sort(r)
	return append([]string{"GB", "US", "", "ZZ"}, r...)
}()

// FuzzParse asserts that Parse agrees with libphonenumber on any input and any default region.
// The seed corpus is in testdata/fuzz/FuzzParse; CI runs it for a bounded time with
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 30s ./phonenum/
func FuzzParse(f *testing.F) {
	for _, s := range []string{"07400 123456", "+44 7911 123456", "0044 20 7946 0123", "(202) 967-1717",
		"+1 202 555 0143", "001 212 555 0100", "+33 6 12 34 56 78", "0791", "+999 123", "+0044 20 7946 0123",
		"440201234567", "8 800 555 35 35", "011 54 9 11 1234 5678", "tel:+44-20-7946-0123;ext=12"} {
		f.Add(s, uint16(0))
		f.Add(s, uint16(1))
	}
	f.Fuzz(func(t *testing.T, raw string, region uint16) {
		reg := fuzzRegions[int(region)%len(fuzzRegions)]
		if want, got := oracle(raw, reg), describe(raw, reg); want != got {
			t.Errorf("Parse(%q, %q):\n got %s\nwant %s", raw, reg, got, want)
		}
	})
}
