// Package victim decides which numbers a spoofing service called should be alerted: ranking
// rules (the Metropolitan Police's 2022 rule and a transparent score), tiers, alert channels
// and reference codes. It reads aggregates from an unspoof.VictimStore and does the per-number
// work in Go.
package victim

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
)

// Ranking rules.
const (
	// RuleMet2022 is the rule the Met used for iSpoof: a UK number with at least one call longer
	// than the threshold (60 s) made by an account of an identified suspect, a UK user who paid
	// the service at least £100.
	RuleMet2022 = "met-2022"
	// RuleScore selects the numbers with the highest Model score, as many as RuleMet2022 would
	// (top K, K = the met-2022 count), so that both alert the same number of people.
	RuleScore = "score"
)

// Rules lists the ranking rules.
var Rules = []string{RuleMet2022, RuleScore}

// Defaults of Config.
const (
	DefaultMinDuration = 60 * time.Second
	DefaultCountry     = "GB"
	DefaultMinPaid     = 10000 // pence: £100
)

// Config says how to rank. Zero fields get the defaults.
type Config struct {
	Rule        string        // RuleMet2022 or RuleScore
	MinDuration time.Duration // a "long" call lasts more than this; default 60 s
	Country     string        // numbers ranked: "GB" (E.164 +44, the default) or "ALL"
	Abroad      bool          // give numbers outside the UK a channel (normally none)
	// Identified suspects: accounts of SuspectCountry (default GB) that paid at least
	// SuspectMinPaid pence (default £100).
	SuspectCountry string
	SuspectMinPaid int64
	Model          *Model // default DefaultModel
	Now            func() time.Time
}

func (c Config) withDefaults() Config {
	c.MinDuration = cmp.Or(c.MinDuration, DefaultMinDuration)
	c.Country = strings.ToUpper(cmp.Or(c.Country, DefaultCountry))
	c.SuspectCountry = cmp.Or(c.SuspectCountry, DefaultCountry)
	c.SuspectMinPaid = cmp.Or(c.SuspectMinPaid, DefaultMinPaid)
	if c.Model == nil {
		c.Model = &DefaultModel
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// countryPrefix returns the E.164 prefix of the numbers a country ranks.
func countryPrefix(country string) (string, error) {
	switch country {
	case "GB", "UK":
		return "+44", nil
	case "ALL":
		return "", nil
	}
	return "", unspoof.Errorf(unspoof.EINVALID, "unknown --country %q: GB (numbers +44) or ALL", country)
}

// Ranking is the outcome of Rank.
type Ranking struct {
	Rule       string
	Config     Config
	Candidates int // numbers aggregated
	MetCount   int // numbers the met-2022 rule selects: the K of the score rule
	End        time.Time
	Victims    []*unspoof.Victim // selected, in rank order, without codes
	all        []agg             // every number aggregated, in the store's callee order
	rankedAt   time.Time
}

// agg is one number's aggregates, kept compact: a national case has millions of numbers
// called, and only the selected become *unspoof.Victim.
type agg struct {
	e164, region, lineType         string
	valid, fictional               bool
	calls, answered, long          int32
	accounts, longAccounts, orgs   int32
	callerLong                     int32 // most long calls by one account
	endedLongS                     int64 // longest last call of the accounts whose last call was long
	orgCalls, bankCalls, identLong int32
	talkS, longestS                int64
	first, last                    int64 // Unix seconds
	score                          float64
	rank                           int32 // in the last Select; 0: not selected
	tier                           string
	org                            string // impersonated in most calls
}

func (a *agg) victim(r *Ranking) *unspoof.Victim {
	v := &unspoof.Victim{E164: a.e164, Region: a.region, LineType: a.lineType, Valid: a.valid, Fictional: a.fictional,
		Calls: int64(a.calls), AnsweredCalls: int64(a.answered), LongCalls: int64(a.long),
		TalkTime: time.Duration(a.talkS) * time.Second, LongestCall: time.Duration(a.longestS) * time.Second,
		FirstCall: time.Unix(a.first, 0).UTC(), LastCall: time.Unix(a.last, 0).UTC(),
		Accounts: int64(a.accounts), LongAccounts: int64(a.longAccounts), CallerLongCalls: int64(a.callerLong),
		EndedLongCall: time.Duration(a.endedLongS) * time.Second, Orgs: int64(a.orgs), OrgCalls: int64(a.orgCalls),
		BankCalls: int64(a.bankCalls), Org: a.org, IdentifiedLongCalls: int64(a.identLong), Identified: a.identLong > 0,
		Score: a.score, Rank: int(a.rank), Tier: a.tier, Rule: r.Rule, RankedAt: r.rankedAt}
	v.Channel = channel(v, r.Config.Abroad)
	return v
}

// Find returns the aggregates and score of any number that was ranked, selected or not.
func (r *Ranking) Find(e164 string) (*unspoof.Victim, bool) {
	for i := range r.all {
		if r.all[i].e164 == e164 {
			return r.all[i].victim(r), true
		}
	}
	return nil, false
}

// Explain returns the score's terms for v.
func (r *Ranking) Explain(v *unspoof.Victim) []Term { return r.Config.Model.Terms(v, r.End) }

// Rank reads the calls to every number from s in one pass, scores each number and selects those
// cfg.Rule alerts, in rank order (score, then number), with their tier and channel.
func Rank(ctx context.Context, s unspoof.VictimStore, cfg Config) (*Ranking, error) {
	cfg = cfg.withDefaults()
	if !slices.Contains(Rules, cfg.Rule) {
		return nil, unspoof.Errorf(unspoof.EINVALID, "unknown rule %q: one of %s", cfg.Rule, strings.Join(Rules, ", "))
	}
	prefix, err := countryPrefix(cfg.Country)
	if err != nil {
		return nil, err
	}
	suspects, err := s.IdentifiedAccounts(ctx, cfg.SuspectCountry, cfg.SuspectMinPaid)
	if err != nil {
		return nil, fmt.Errorf("identified suspects: %w", err)
	}
	orgs, err := s.OrgsByNumber(ctx)
	if err != nil {
		return nil, err
	}
	orgNames := make(map[int64]string)
	for _, o := range orgs {
		orgNames[o.ID] = o.Name
	}
	r := &Ranking{Rule: cfg.Rule, Config: cfg, rankedAt: cfg.Now().UTC().Truncate(time.Second)}
	var (
		cur                    *agg
		accts, longAcc, orgIDs []int64
		acctLong               []int32 // long calls by accts[i]
		acctLast, acctLastLong []int64 // accts[i]'s last call and last long call (Unix s)
		acctLastLongS          []int64 // how long accts[i]'s last long call lasted (s)
		orgCalls               []int32 // calls presenting orgIDs[i]
		interned               = map[string]string{}
	)
	intern := func(s string) string {
		if t, ok := interned[s]; ok {
			return t
		}
		interned[s] = s
		return s
	}
	addUnique := func(s []int64, x int64) []int64 {
		if slices.Contains(s, x) {
			return s
		}
		return append(s, x)
	}
	addAccount := func(g *unspoof.CallGroup) {
		i := slices.Index(accts, g.AccountID)
		if i < 0 {
			accts, acctLong = append(accts, g.AccountID), append(acctLong, 0)
			acctLast, acctLastLong = append(acctLast, math.MinInt64), append(acctLastLong, math.MinInt64)
			acctLastLongS = append(acctLastLongS, 0)
			i = len(accts) - 1
		}
		acctLong[i] += int32(g.LongCalls)
		cur.callerLong = max(cur.callerLong, acctLong[i])
		acctLast[i] = max(acctLast[i], g.LastCall.Unix())
		if t, d := g.LastLongCall.Unix(), int64(g.LastLongDuration/time.Second); g.LongCalls > 0 &&
			(t > acctLastLong[i] || t == acctLastLong[i] && d > acctLastLongS[i]) {
			acctLastLong[i], acctLastLongS[i] = t, d
		}
	}
	var end int64
	flush := func() {
		if cur == nil {
			return
		}
		cur.accounts, cur.longAccounts, cur.orgs = int32(len(accts)), int32(len(longAcc)), int32(len(orgIDs))
		for i := range accts { // callers whose last call to the number was a long one
			if acctLong[i] > 0 && acctLastLong[i] == acctLast[i] {
				cur.endedLongS = max(cur.endedLongS, acctLastLongS[i])
			}
		}
		var top, topID int64
		for i, id := range orgIDs { // most calls; the lowest id of a tie, so a ranking is repeatable
			if n := int64(orgCalls[i]); n > top || n == top && id < topID {
				top, topID, cur.org = n, id, orgNames[id]
			}
		}
		end = max(end, cur.last)
	}
	err = s.ScanCallGroups(ctx, unspoof.CallGroupFilter{Prefix: prefix, LongerThan: cfg.MinDuration}, func(g *unspoof.CallGroup) error {
		if orgs[g.Callee.E164] != nil {
			return nil // an impersonated organisation's own number is no victim
		}
		if cur == nil || cur.e164 != g.Callee.E164 {
			flush()
			r.all = append(r.all, agg{e164: strings.Clone(g.Callee.E164), region: intern(g.Callee.Region),
				lineType: intern(g.Callee.LineType), valid: g.Callee.Valid, fictional: phonenum.IsFictional(g.Callee.E164),
				first: g.FirstCall.Unix(), last: g.LastCall.Unix()})
			cur = &r.all[len(r.all)-1]
			accts, acctLong, longAcc, orgIDs, orgCalls = accts[:0], acctLong[:0], longAcc[:0], orgIDs[:0], orgCalls[:0]
			acctLast, acctLastLong, acctLastLongS = acctLast[:0], acctLastLong[:0], acctLastLongS[:0]
		}
		cur.calls += int32(g.Calls)
		cur.answered += int32(g.Answered)
		cur.long += int32(g.LongCalls)
		cur.talkS += int64(g.TalkTime / time.Second)
		cur.longestS = max(cur.longestS, int64(g.LongestCall/time.Second))
		cur.first = min(cur.first, g.FirstCall.Unix())
		cur.last = max(cur.last, g.LastCall.Unix())
		addAccount(g)
		if g.LongCalls > 0 {
			longAcc = addUnique(longAcc, g.AccountID)
			if suspects[g.AccountID] {
				cur.identLong += int32(g.LongCalls)
			}
		}
		if o := orgs[g.CLI]; o != nil && g.CLI != "" {
			if i := slices.Index(orgIDs, o.ID); i >= 0 {
				orgCalls[i] += int32(g.Calls)
			} else {
				orgIDs, orgCalls = append(orgIDs, o.ID), append(orgCalls, int32(g.Calls))
			}
			cur.orgCalls += int32(g.Calls)
			if o.Sector == "bank" {
				cur.bankCalls += int32(g.Calls)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("aggregate calls: %w", err)
	}
	flush()
	r.Candidates = len(r.all)
	r.End = time.Unix(end, 0).UTC()
	for i := range r.all {
		a := &r.all[i]
		a.score = cfg.Model.Score(a.victim(r), r.End)
		if a.met() {
			r.MetCount++
		}
	}
	r.Victims, _ = r.Select(cfg.Rule)
	return r, nil
}

// Select returns the numbers rule alerts, in rank order (score, then number), with their Rank
// and Tier: the ranking's own rule or another, without reading the calls again.
func (r *Ranking) Select(rule string) ([]*unspoof.Victim, error) {
	if !slices.Contains(Rules, rule) {
		return nil, unspoof.Errorf(unspoof.EINVALID, "unknown rule %q: one of %s", rule, strings.Join(Rules, ", "))
	}
	sel := make([]int32, 0, r.MetCount)
	for i := range r.all {
		r.all[i].rank, r.all[i].tier = 0, ""
		if rule == RuleScore || r.all[i].met() {
			sel = append(sel, int32(i))
		}
	}
	slices.SortFunc(sel, func(i, j int32) int {
		a, b := &r.all[i], &r.all[j]
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.e164, b.e164)
	})
	if rule == RuleScore {
		sel = sel[:min(len(sel), r.MetCount)]
	}
	saved := r.Rule
	r.Rule = rule
	defer func() { r.Rule = saved }()
	vs := make([]*unspoof.Victim, len(sel))
	for k, i := range sel {
		a := &r.all[i]
		a.rank, a.tier = int32(k+1), tier(k, len(sel))
		vs[k] = a.victim(r)
	}
	return vs, nil
}

// met reports whether the met-2022 rule selects a: a UK number (+44) that an identified suspect
// talked to for longer than the threshold.
func (a *agg) met() bool { return a.identLong > 0 && strings.HasPrefix(a.e164, "+44") }

// Tiers: the first fifth of a ranking is high, the next three tenths medium, the rest low.
const (
	TierHigh   = "high"
	TierMedium = "medium"
	TierLow    = "low"
)

func tier(i, n int) string {
	switch {
	case i*10 < n*2:
		return TierHigh
	case i*10 < n*5:
		return TierMedium
	}
	return TierLow
}

// channel says how v can be alerted: a text to a mobile, a letter (or phone list) for a fixed
// line or other valid number, nothing for an invalid or fictional number or, unless abroad, one
// outside the UK (+44).
func channel(v *unspoof.Victim, abroad bool) string {
	switch {
	case !v.Valid || v.Fictional:
		return unspoof.ChannelNone
	case !abroad && !strings.HasPrefix(v.E164, "+44"):
		return unspoof.ChannelNone
	case v.LineType == phonenum.Mobile.String():
		return unspoof.ChannelSMS
	}
	return unspoof.ChannelLetter
}

// Save writes r's victims to s, replacing the previous ranking in one transaction; numbers
// ranked before keep their reference codes, new ones get a NewCode.
func Save(ctx context.Context, s unspoof.VictimStore, r *Ranking) error {
	return s.ReplaceVictims(ctx, r.Victims, NewCode)
}
