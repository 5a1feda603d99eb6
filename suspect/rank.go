// Package suspect decides which users of a spoofing service investigators should go after
// first: ranking rules (the Metropolitan Police's 2022 rule and a transparent harm score) over
// the accounts' payments and calls, which an unspoof.SuspectStore aggregates in one pass.
package suspect

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
)

// Ranking rules.
const (
	// RuleMet2022 is the rule the Met used for iSpoof: UK users (accounts.country GB) who paid
	// the service at least £100 in all, ranked by what they paid.
	RuleMet2022 = "met-2022"
	// RuleHarm ranks every account that called or paid by the Harm score.
	RuleHarm = "harm"
)

// Rules lists the ranking rules.
var Rules = []string{RuleMet2022, RuleHarm}

// Defaults of Config.
const (
	DefaultMinDuration = 60 * time.Second
	DefaultCountry     = "GB"
	DefaultMinPaid     = 10000 // pence: £100
)

// Config says how to rank. Zero fields get the defaults.
type Config struct {
	Rule        string        // RuleMet2022 or RuleHarm
	MinDuration time.Duration // a "long" call lasts more than this; default 60 s
	Country     string        // met-2022: the suspects' country, default GB
	MinPaid     int64         // met-2022: pence paid at least, default £100
	Model       *Model        // default DefaultModel
	Now         func() time.Time
}

func (c Config) withDefaults() Config {
	c.MinDuration = cmp.Or(c.MinDuration, DefaultMinDuration)
	c.Country = strings.ToUpper(cmp.Or(c.Country, DefaultCountry))
	c.MinPaid = cmp.Or(c.MinPaid, DefaultMinPaid)
	if c.Model == nil {
		c.Model = &DefaultModel
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Ranking is the outcome of Rank.
type Ranking struct {
	Rule     string
	Config   Config
	Accounts int // accounts read
	Suspects []*unspoof.Suspect
}

// CheckRule returns an EINVALID error unless rule is one of Rules.
func CheckRule(rule string) error {
	if !slices.Contains(Rules, rule) {
		return unspoof.Errorf(unspoof.EINVALID, "unknown rule %q: one of %s", rule, strings.Join(Rules, ", "))
	}
	return nil
}

// Rank reads every account's activity from s in one pass over calls, scores each account and
// selects those cfg.Rule names, in rank order: by score, then account id.
//
//   - met-2022 selects the accounts of cfg.Country that paid at least cfg.MinPaid;
//   - harm selects every account that paid or made a call.
func Rank(ctx context.Context, s unspoof.SuspectStore, cfg Config) (*Ranking, error) {
	cfg = cfg.withDefaults()
	if err := CheckRule(cfg.Rule); err != nil {
		return nil, err
	}
	r := &Ranking{Rule: cfg.Rule, Config: cfg}
	at := cfg.Now().UTC().Truncate(time.Second)
	err := s.ScanAccountActivity(ctx, cfg.MinDuration, func(a *unspoof.AccountActivity) error {
		r.Accounts++
		sp := &unspoof.Suspect{AccountActivity: *a, Rule: cfg.Rule, RankedAt: at}
		sp.Identified = sp.Country == cfg.Country && sp.PaidMinor >= cfg.MinPaid
		sp.Score = cfg.Model.Score(sp)
		switch {
		case cfg.Rule == RuleMet2022 && sp.Identified,
			cfg.Rule == RuleHarm && (sp.Calls > 0 || sp.Payments > 0):
			r.Suspects = append(r.Suspects, sp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("account activity: %w", err)
	}
	slices.SortFunc(r.Suspects, func(a, b *unspoof.Suspect) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.AccountID, b.AccountID)
	})
	for i, sp := range r.Suspects {
		sp.Rank = i + 1
	}
	return r, nil
}

// Save writes r's suspects to s, replacing the previous ranking in one transaction.
func Save(ctx context.Context, s unspoof.SuspectStore, r *Ranking) error {
	return s.ReplaceSuspects(ctx, r.Suspects)
}
