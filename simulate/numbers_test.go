package simulate

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/unspoof/unspoof/phonenum"
)

var wantLineType = map[lineType]phonenum.LineType{
	lineMobile:        phonenum.Mobile,
	lineFixed:         phonenum.FixedLine,
	lineFixedOrMobile: phonenum.FixedLineOrMobile,
	lineTollFree:      phonenum.TollFree,
	lineUAN:           phonenum.UAN,
}

// checkRange parses n numbers drawn from rg in every style and reports the share that are not
// valid numbers of the plan's region and the range's line type, or that are fictional.
func checkRange(t *testing.T, r *rand.Rand, plan *numberPlan, rg *numberRange, n int) (bad int) {
	t.Helper()
	for i := 0; i < n; i++ {
		nsn := rg.nsn(nil, r.Uint64N(rg.size))
		style := i % int(numStyles)
		raw := string(formatNumber(nil, plan, rg, nsn, style))
		num, err := phonenum.Parse(raw, "GB")
		want := "+" + plan.cc + string(nsn)
		switch {
		case err != nil, !num.Valid, num.Region != plan.region, num.Type != wantLineType[rg.kind],
			num.E164 != want, num.Fictional:
			bad++
			if bad <= 5 {
				t.Logf("%s %q: %+v %v (want %s)", plan.region, raw, num, err, want)
			}
		}
		if plan.trunk == "" && style <= styleNatDotted && raw[0] != '+' && raw[:2] != "00" {
			t.Errorf("foreign number %q written without its country code", raw)
		}
	}
	return bad
}

// TestNumbersValid checks the number ranges against libphonenumber (through phonenum): numbers
// drawn from them, written in every style, read back with default region GB, must be valid
// numbers of the intended region and line type, outside the ranges reserved for fiction.
func TestNumbersValid(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	n := 4000
	if testing.Short() {
		n = 500
	}
	check := func(plan *numberPlan, rg *numberRange) {
		if bad := checkRange(t, r, plan, rg, n); float64(bad) > 0.001*float64(n) {
			t.Errorf("%s range %v…: %d of %d numbers not valid as intended", plan.region, rg.prefixes[0], bad, n)
		}
	}
	for _, plan := range victimPlans() {
		for _, rg := range plan.ranges {
			check(plan, rg)
		}
	}
	gb, us := planOf("GB"), planOf("US")
	for _, rg := range ukOrgRanges {
		check(gb, rg)
	}
	for _, rg := range usOrgRanges {
		check(us, rg)
	}
}

// TestNumbersEveryPrefix parses a few numbers of every prefix of every range: a block that
// libphonenumber does not know would otherwise hide among the thousands of good ones.
func TestNumbersEveryPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	prefixSamples := 3
	if os.Getenv("SIMULATE_PREFIX_SAMPLES") != "" {
		prefixSamples, _ = strconv.Atoi(os.Getenv("SIMULATE_PREFIX_SAMPLES"))
	}
	plans := victimPlans()
	for _, plan := range plans {
		for _, rg := range plan.ranges {
			for pi, p := range rg.prefixes {
				for range prefixSamples {
					k := uint64(pi)*rg.pow + r.Uint64N(rg.pow)
					nsn := rg.nsn(nil, k)
					num, err := phonenum.Parse("+"+plan.cc+string(nsn), "GB")
					if err != nil || !num.Valid || num.Region != plan.region || num.Fictional {
						t.Errorf("%s prefix %s: %s not valid (%+v, %v)", plan.region, p, nsn, num, err)
						break
					}
				}
			}
		}
	}
}

// TestImpossibleNumbers checks that the numbers injected as impossible are never read as
// possible numbers (ingest's test), let alone valid ones (Check's).
func TestImpossibleNumbers(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	gb, us := planOf("GB"), planOf("US")
	type pr struct {
		plan *numberPlan
		rg   *numberRange
	}
	var all []pr
	for _, plan := range victimPlans() {
		for _, rg := range plan.ranges {
			all = append(all, pr{plan, rg})
		}
	}
	for _, rg := range ukOrgRanges {
		all = append(all, pr{gb, rg})
	}
	for _, rg := range usOrgRanges {
		all = append(all, pr{us, rg})
	}
	for _, x := range all {
		for range 1000 {
			nsn := x.rg.nsn(nil, r.Uint64N(x.rg.size))
			raw := string(impossibleNumber(r, x.plan, nsn))
			if num, err := phonenum.Parse(raw, "GB"); err == nil && (num.Valid || num.Possible == phonenum.IsPossible) {
				t.Errorf("impossible number %q of %s is possible: %+v", raw, x.plan.region, num)
			}
		}
	}
}

// TestPoolDistinct checks that a pool's indices give distinct numbers.
func TestPoolDistinct(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	for _, plan := range victimPlans() {
		p := newPool(r, plan, 0, 50_000, 0.1)
		seen := map[string]bool{}
		for i := range p.n {
			e := string(p.e164(nil, i))
			if seen[e] {
				t.Fatalf("%s: %s twice", plan.region, e)
			}
			seen[e] = true
		}
		ranks := map[uint32]bool{}
		for k := range p.n {
			ranks[p.byRank(k)] = true
		}
		if len(ranks) != int(p.n) {
			t.Fatalf("%s: rank permutation is not one", plan.region)
		}
	}
}
