package victim

import (
	"math"
	"time"

	"github.com/unspoof/unspoof"
)

// Model is the transparent score of the "score" rule: the sum, over the features below, of
// weight × feature. Every feature is one an investigator can check on the number's calls
// timeline.
type Model struct {
	TalkMinutes float64 // × ln(1 + minutes talked in all)
	LongCalls   float64 // × ln(1 + calls over the threshold)
	Caller      float64 // × ln(1 + most calls over the threshold by one account): how far one caller took it
	// A caller who stops after a long conversation did not need to call again: a convinced
	// callee pays during a long call, a sceptical one is usually tried once more.
	EndedLong    float64 // × 1 if some account's last call to the number was over the threshold
	EndedMinutes float64 // × ln(1 + minutes of that last call; the longest if several accounts ended so)
	Repeat       float64 // × ln(answered calls): called back and answered again
	Bank         float64 // × 1 if a bank's number was presented on a call
	Org          float64 // × 1 if any impersonated organisation's number was presented
	Accounts     float64 // × ln(accounts that called): passed on between fraudsters
	Identified   float64 // × 1 if an identified suspect (UK user, ≥ £100 paid) talked to it over the threshold
	Recency      float64 // × (1 − days from the last call to the end of the data / 365), at least 0
}

// DefaultModel is the score `unspoof victims rank --rule score` uses. Its weights are a
// logistic regression of "defrauded" on these features, fitted on one simulated case (`unspoof
// simulate --scale 0.1 --seed 1`, generator 2: 111,139 UK numbers, 1,241 defrauded) and rounded
// to one decimal, as TestFitModel (fit_test.go) does it; docs/performance.md gives its recall on
// other seeds, which it never saw. What a caller does after a conversation follows how the
// conversation went: a caller calls back a callee who goes along, takes the money during a long
// call and stops, and gives up on a callee who sees through it, often after trying once more.
// So a caller's repeated long calls weigh most, and a caller that ended on a long call counts
// by how long that call was: −0.4 + 0.7 × ln(1 + minutes) is about 0 for a 1-minute call and
// +1.3 for a 10-minute one. Accounts fitted at 0 and weighs nothing; it is still printed by
// explain, as are identified and recency, fitted slightly negative.
var DefaultModel = Model{
	TalkMinutes:  0.2,
	LongCalls:    0.7,
	Caller:       3.1,
	EndedLong:    -0.4,
	EndedMinutes: 0.7,
	Repeat:       0.4,
	Bank:         0.2,
	Org:          0.1,
	Accounts:     0,
	Identified:   -0.1,
	Recency:      -0.1,
}

// Term is one feature's part in a victim's score.
type Term struct {
	Feature string  // "talk_minutes"
	Help    string  // what the feature is, in words
	Value   float64 // the feature's value for the number
	Weight  float64
}

// Contribution is Weight × Value.
func (t Term) Contribution() float64 { return t.Weight * t.Value }

// feature is one term of the model: its name, its help, its weight in a Model and its value.
type feature struct {
	name, help string
	weight     func(*Model) *float64
	value      func(v *unspoof.Victim, end time.Time) float64
}

func b(x bool) float64 {
	if x {
		return 1
	}
	return 0
}

// features are the model's terms in the order explain prints them.
var features = []feature{
	{"talk_minutes", "ln(1 + minutes talked)", func(m *Model) *float64 { return &m.TalkMinutes },
		func(v *unspoof.Victim, _ time.Time) float64 { return math.Log1p(v.TalkTime.Minutes()) }},
	{"long_calls", "ln(1 + calls over the threshold)", func(m *Model) *float64 { return &m.LongCalls },
		func(v *unspoof.Victim, _ time.Time) float64 { return math.Log1p(float64(v.LongCalls)) }},
	{"caller", "ln(1 + most calls over the threshold by one account)", func(m *Model) *float64 { return &m.Caller },
		func(v *unspoof.Victim, _ time.Time) float64 { return math.Log1p(float64(v.CallerLongCalls)) }},
	{"ended_long", "a caller's last call to it was over the threshold", func(m *Model) *float64 { return &m.EndedLong },
		func(v *unspoof.Victim, _ time.Time) float64 { return b(v.EndedLongCall > 0) }},
	{"ended_minutes", "ln(1 + minutes of that last call)", func(m *Model) *float64 { return &m.EndedMinutes },
		func(v *unspoof.Victim, _ time.Time) float64 { return math.Log1p(v.EndedLongCall.Minutes()) }},
	{"repeat", "ln(answered calls)", func(m *Model) *float64 { return &m.Repeat },
		func(v *unspoof.Victim, _ time.Time) float64 { return math.Log(math.Max(1, float64(v.AnsweredCalls))) }},
	{"bank", "a bank's number was presented", func(m *Model) *float64 { return &m.Bank },
		func(v *unspoof.Victim, _ time.Time) float64 { return b(v.BankCalls > 0) }},
	{"org", "an organisation's number was presented", func(m *Model) *float64 { return &m.Org },
		func(v *unspoof.Victim, _ time.Time) float64 { return b(v.OrgCalls > 0) }},
	{"accounts", "ln(accounts that called)", func(m *Model) *float64 { return &m.Accounts },
		func(v *unspoof.Victim, _ time.Time) float64 { return math.Log(math.Max(1, float64(v.Accounts))) }},
	{"identified", "an identified suspect talked to it over the threshold", func(m *Model) *float64 { return &m.Identified },
		func(v *unspoof.Victim, _ time.Time) float64 { return b(v.Identified) }},
	{"recency", "1 − days since the last call / 365", func(m *Model) *float64 { return &m.Recency },
		func(v *unspoof.Victim, end time.Time) float64 {
			return math.Max(0, 1-end.Sub(v.LastCall).Hours()/24/365)
		}},
}

// Terms returns every feature of v with its value and weight; end is the end of the data (the
// last call of all), against which recency is measured.
func (m Model) Terms(v *unspoof.Victim, end time.Time) []Term {
	ts := make([]Term, len(features))
	for i, f := range features {
		ts[i] = Term{f.name, f.help, f.value(v, end), *f.weight(&m)}
	}
	return ts
}

// Score returns the model's score of v.
func (m Model) Score(v *unspoof.Victim, end time.Time) float64 {
	var s float64
	for _, t := range m.Terms(v, end) {
		s += t.Contribution()
	}
	return s
}
