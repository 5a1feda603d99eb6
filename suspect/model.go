package suspect

import (
	"fmt"

	"github.com/unspoof/unspoof"
)

// Model is the harm score: a weighted sum of what an account did, every weight printed by
// Terms so that an investigator can see why an account ranks where it does.
type Model struct {
	Victim   float64 // per distinct UK number reached by a call over the threshold
	LongCall float64 // per call over the threshold
	Org      float64 // per organisation impersonated
	SpendGBP float64 // per pound paid to the service
	LossGBP  float64 // per pound of victims' reported losses linked to the account (hook: reports)
}

// DefaultModel weighs reaching people first: a victim counts as much as 10 long calls or
// £100 of spend, an organisation impersonated as 2 victims. Reported losses will weigh most
// (1 point per £10) once reports exist; today every account's loss is 0.
var DefaultModel = Model{Victim: 10, LongCall: 1, Org: 20, SpendGBP: 0.1, LossGBP: 0.1}

// Term is one feature's part of a score.
type Term struct {
	Feature string
	Value   float64
	Weight  float64
	Points  float64
	Note    string
}

// Terms returns the score's terms for s, in a fixed order.
func (m *Model) Terms(s *unspoof.Suspect) []Term {
	t := []Term{
		{Feature: "victims", Value: float64(s.Victims), Weight: m.Victim, Note: "distinct UK numbers reached over 60 s"},
		{Feature: "long_calls", Value: float64(s.LongCalls), Weight: m.LongCall, Note: "calls over 60 s"},
		{Feature: "orgs", Value: float64(s.Orgs), Weight: m.Org, Note: "organisations impersonated"},
		{Feature: "spend_gbp", Value: float64(s.PaidMinor) / 100, Weight: m.SpendGBP, Note: "paid to the service"},
		{Feature: "loss_gbp", Value: float64(s.LossMinor) / 100, Weight: m.LossGBP, Note: "victims' reported losses attributed to the account"},
	}
	for i := range t {
		t[i].Points = t[i].Value * t[i].Weight
	}
	return t
}

// Score returns the sum of s's terms.
func (m *Model) Score(s *unspoof.Suspect) float64 {
	var sum float64
	for _, t := range m.Terms(s) {
		sum += t.Points
	}
	return sum
}

// String formats a term as "victims 12 × 10 = 120".
func (t Term) String() string {
	return fmt.Sprintf("%-10s %12.2f × %6.2f = %12.2f  %s", t.Feature, t.Value, t.Weight, t.Points, t.Note)
}
