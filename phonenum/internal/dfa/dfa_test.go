package dfa

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// accepts runs a over digits and returns the accept set reached.
func (a *DFA) accepts(digits string) uint64 {
	s := uint32(1)
	for i := 0; i < len(digits); i++ {
		s = a.Trans[int(s)*Digits+int(digits[i]-'0')]
	}
	return a.Accept[s]
}

// TestAgreesWithRegexp compiles every pattern of the metadata and checks the automaton against
// the regexp package on example numbers, their mutations and random digit strings.
func TestAgreesWithRegexp(t *testing.T) {
	t.Parallel()
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range coll.GetMetadata() {
		descs := []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(),
			m.GetTollFree(), m.GetPremiumRate(), m.GetSharedCost(), m.GetVoip(), m.GetUan()}
		var pats []string
		var inputs []string
		for _, d := range descs {
			pats = append(pats, d.GetNationalNumberPattern())
			if e := d.GetExampleNumber(); e != "" {
				inputs = append(inputs, e, e[:len(e)-1], e+"5", e[1:])
				for range 20 {
					b := []byte(e)
					b[r.IntN(len(b))] = byte('0' + r.IntN(10))
					inputs = append(inputs, string(b))
				}
			}
		}
		for range 200 {
			var b strings.Builder
			for range r.IntN(14) {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
			inputs = append(inputs, b.String())
		}
		a, err := Compile(pats)
		if err != nil {
			t.Fatalf("%s: %v", m.GetId(), err)
		}
		for i, p := range pats {
			re := regexp.MustCompile("^(?:" + p + ")$")
			for _, in := range inputs {
				if want, got := re.MatchString(in), a.accepts(in)>>i&1 != 0; want != got {
					t.Errorf("%s pattern %d on %q: automaton %t, regexp %t", m.GetId(), i, in, got, want)
				}
			}
		}
	}
}

func TestUnsupported(t *testing.T) {
	t.Parallel()
	if _, err := Compile([]string{`([2-9]\d{6})$|1`}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Compile with $: %v, want ErrUnsupported", err)
	}
	a, err := Compile([]string{"", "12|1234"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]uint64{"": 1, "12": 2, "1234": 2, "123": 0, "9": 0} {
		if got := a.accepts(in); got != want {
			t.Errorf("accepts(%q) = %b, want %b", in, got, want)
		}
	}
}
