package simulate

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
)

// preset is a calibration: the size of the real case and the published figures the generated
// data must reproduce at scale 1.
type preset struct {
	name       string
	start, end time.Time

	calls    float64 // over the period
	accounts float64
	paidGBP  float64 // the service's takings

	dest []destShare // where calls went

	// Callee pools: a country's pool holds poolPerCall numbers per call made to it; hotShare of
	// them are on many lead lists and get hotP of the picks.
	poolPerCall float64
	hotShare    float64
	hotP        float64

	payers float64 // paying accounts expected (not a target: Compare's tolerances use it)

	identifiedShare float64 // share of new UK targets called by identified UK users
	trialShare      float64 // share of new targets called by non-paying trial accounts

	// Published figures.
	ukCalls             float64
	ukCallsOver60       float64
	ukNumbersOver60     float64
	ukNumbersIdentified float64
	reports             float64
	avgLossGBP          float64 // of victims who report
	lossSigma           float64 // lognormal sigma of their losses (sets the largest: ~£3m)
	reportedLossGBP     float64

	// Losses of victims who would not report, and of victims abroad: not published; smaller.
	quietLossGBP, quietLossSigma     float64
	foreignLossGBP, foreignLossSigma float64
}

type destShare struct {
	region string
	share  float64
}

// presets by name.
var presets = map[string]*preset{
	"ispoof": {
		name:  "ispoof",
		start: time.Date(2021, time.August, 1, 0, 0, 0, 0, time.UTC),
		end:   time.Date(2022, time.August, 1, 0, 0, 0, 0, time.UTC),

		calls:    10_000_000,
		accounts: 59_000,
		paidGBP:  3_200_000,
		dest: []destShare{
			{"US", 0.40}, {"GB", 0.35}, {"CA", 0.05}, {"AU", 0.04}, {"FR", 0.035}, {"DE", 0.035},
			{"ES", 0.025}, {"IE", 0.025}, {"NL", 0.02}, {"IT", 0.02},
		},
		poolPerCall: 0.45,
		hotShare:    0.10,
		hotP:        0.30,

		payers:          2_470,
		identifiedShare: 0.315,
		trialShare:      0.015,

		ukCalls:             3_500_000,
		ukCallsOver60:       350_000,
		ukNumbersOver60:     200_000,
		ukNumbersIdentified: 70_000,
		reports:             4_785,
		avgLossGBP:          10_000,
		lossSigma:           2.0,
		reportedLossGBP:     47_850_000,

		quietLossGBP: 1_800, quietLossSigma: 1.4,
		foreignLossGBP: 3_500, foreignLossSigma: 1.6,
	},
}

// Presets returns the names of the presets, sorted.
func Presets() []string {
	var names []string
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookupPreset(name string) (*preset, error) {
	if name == "" {
		name = DefaultPreset
	}
	p, ok := presets[strings.ToLower(name)]
	if !ok {
		return nil, unspoof.Errorf(unspoof.EINVALID, "unknown preset %q (known: %s)", name, strings.Join(Presets(), ", "))
	}
	return p, nil
}

func (p *preset) minutes() float64 { return p.end.Sub(p.start).Minutes() }

func (p *preset) share(region string) float64 {
	for _, d := range p.dest {
		if d.region == region {
			return d.share
		}
	}
	return 0
}

// targets are the preset's figures at a scale.
type targets struct {
	Calls, Accounts, PaidGBP                                     float64
	UKCalls, UKCallsOver60, UKNumbersOver60, UKNumbersIdentified float64
	Reports, ReportedLossGBP, AvgLossGBP, MaxLossGBP             float64
	OfficeHours, Weekend                                         float64
}

func (p *preset) targets(scale float64) targets {
	t := targets{
		Calls:               p.calls * scale,
		Accounts:            math.Max(1, math.Round(p.accounts*scale)),
		PaidGBP:             p.paidGBP * scale,
		UKCalls:             p.ukCalls * scale,
		UKCallsOver60:       p.ukCallsOver60 * scale,
		UKNumbersOver60:     p.ukNumbersOver60 * scale,
		UKNumbersIdentified: p.ukNumbersIdentified * scale,
		Reports:             p.reports * scale,
		ReportedLossGBP:     p.reportedLossGBP * scale,
		AvgLossGBP:          p.avgLossGBP,
		MaxLossGBP:          math.NaN(),
	}
	// The largest loss is not linear in scale: it is the top stratum of the reported losses.
	if n := int(math.Round(t.Reports)); n > 0 {
		t.MaxLossGBP = lognormalStrata(n, p.avgLossGBP, p.lossSigma)[0]
	}
	t.OfficeHours, t.Weekend = p.expectedRhythm()
	return t
}

// expectedRhythm returns the expected shares of calls placed in office hours (Mon–Fri 9–17 UK
// time) and at weekends, from the rate the generator draws calls at.
func (p *preset) expectedRhythm() (office, weekend float64) {
	norm := p.rateNorms(1)
	start, end := p.start.Unix(), p.end.Unix()
	var total, off, we float64
	var shapes [numZones]float64
	for t := start; t < end; t += 60 {
		prog := float64(t-start) / float64(end-start)
		for z := range numZones {
			shapes[z] = rhythm(z.local(t), prog)
		}
		var lam float64
		for i, d := range p.dest {
			lam += norm[i] * shapes[zoneOf(d.region)]
		}
		total += lam
		o, w := ukTimeClass(t)
		if o {
			off += lam
		}
		if w {
			we += lam
		}
	}
	return off / total, we / total
}

// ukTimeClass reports whether Unix time t falls in UK office hours (Mon–Fri 09:00–17:00) and
// whether it falls on a UK weekend.
func ukTimeClass(t int64) (office, weekend bool) {
	lt := londonLocal(t)
	days := floorDiv(lt, 86400)
	wd := (days + 4) % 7
	h := (lt - days*86400) / 3600
	weekend = wd == 0 || wd == 6
	return !weekend && h >= 9 && h < 17, weekend
}

// rateNorms returns, per destination, the factor that turns the zone's rhythm into calls per
// minute, so that each destination receives its share of calls×scale over the period.
func (p *preset) rateNorms(scale float64) []float64 {
	start, end := p.start.Unix(), p.end.Unix()
	var sums [numZones]float64
	for t := start; t < end; t += 60 {
		prog := float64(t-start) / float64(end-start)
		for z := range numZones {
			sums[z] += rhythm(z.local(t), prog)
		}
	}
	norm := make([]float64, len(p.dest))
	for i, d := range p.dest {
		norm[i] = p.calls * scale * d.share / sums[zoneOf(d.region)]
	}
	return norm
}

func zoneOf(region string) zone { return planOf(region).zone }

// plansByRegion are the number plans, for lookups that do not change them.
var plansByRegion = func() map[string]*numberPlan {
	m := map[string]*numberPlan{}
	for _, pl := range victimPlans() {
		m[pl.region] = pl
	}
	return m
}()

// planOf returns the number plan of region.
func planOf(region string) *numberPlan {
	pl, ok := plansByRegion[region]
	if !ok {
		panic(fmt.Sprintf("simulate: no number plan for %s", region))
	}
	return pl
}
