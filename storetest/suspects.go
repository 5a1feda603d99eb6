package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/suspect"
)

// suspectSummary writes suspects one per line: account, rank, aggregates and score.
func suspectSummary(ss []*unspoof.Suspect) string {
	var out string
	for _, s := range ss {
		out += fmt.Sprintf("%s #%d paid=%d/%d calls=%d long=%d victims=%d orgs=%d/%d ident=%v score=%.2f %s–%s\n",
			s.ExternalID, s.Rank, s.PaidMinor, s.Payments, s.Calls, s.LongCalls, s.Victims, s.Orgs, s.OrgCalls,
			s.Identified, s.Score, s.FirstActivity.Format("15:04"), s.LastActivity.Format("15:04"))
	}
	return out
}

// testSuspectsRank checks both suspects rules on the victims fixture, by hand:
//
//	U1  GB £650 (2 payments); calls: 300 s, 45 s, 61 s, 90 s, 100 s (to a bank's own number: no
//	    victim); 3 UK numbers over 60 s; bank and tax impersonated on all 5 calls.
//	    harm = 3×10 + 4×1 + 2×20 + 650×0.1 = 139
//	U2  GB £99.99; calls: 60 s (not over), 600 s (US), 120 s; 1 UK victim; bank on 2 calls.
//	    harm = 10 + 2 + 20 + 9.999 = 42.00
//	U3  GB, nothing paid; calls 0 s, 0 s, 30 s; tax and bank on 2 calls. harm = 40
//
// met-2022 selects U1 alone (U2 paid 1p short of £100).
func testSuspectsRank(t *testing.T, open Opener) {
	vs := victimFixture(t, open(t))
	s, ok := vs.(unspoof.SuspectStore)
	if !ok {
		t.Fatalf("%T does not implement unspoof.SuspectStore", vs)
	}
	ctx := context.Background()
	at := t0.Add(time.Hour)
	rank := func(rule string) *suspect.Ranking {
		r, err := suspect.Rank(ctx, s, suspect.Config{Rule: rule, Now: func() time.Time { return at }})
		must(t, err)
		must(t, suspect.Save(ctx, s, r))
		return r
	}

	r := rank(suspect.RuleHarm)
	got, n, err := s.FindSuspects(ctx, unspoof.SuspectFilter{})
	must(t, err)
	want := `U1 #1 paid=65000/2 calls=5 long=4 victims=3 orgs=2/5 ident=true score=139.00 09:30–09:39
U2 #2 paid=9999/1 calls=3 long=2 victims=1 orgs=1/2 ident=false score=42.00 09:30–09:37
U3 #3 paid=0/0 calls=3 long=0 victims=0 orgs=2/2 ident=false score=40.00 09:35–09:40
`
	if r.Accounts != 3 || n != 3 || suspectSummary(got) != want {
		t.Errorf("harm suspects (%d of %d accounts):\n%s\nwant:\n%s", n, r.Accounts, suspectSummary(got), want)
	}
	for _, sp := range got {
		if sp.Rule != suspect.RuleHarm || !sp.RankedAt.Equal(at) || sp.Username != "user"+sp.ExternalID || sp.Country != "GB" || sp.LossMinor != 0 {
			t.Errorf("suspect %s: rule %q ranked %v username %q country %q loss %d", sp.ExternalID, sp.Rule, sp.RankedAt,
				sp.Username, sp.Country, sp.LossMinor)
		}
	}
	if got, n, err := s.FindSuspects(ctx, unspoof.SuspectFilter{Offset: 1, Limit: 1}); err != nil || n != 3 || len(got) != 1 || got[0].ExternalID != "U2" {
		t.Errorf("FindSuspects(offset 1, limit 1) = %v of %d, %v", got, n, err)
	}

	rank(suspect.RuleMet2022)
	got, n, err = s.FindSuspects(ctx, unspoof.SuspectFilter{})
	must(t, err)
	want = "U1 #1 paid=65000/2 calls=5 long=4 victims=3 orgs=2/5 ident=true score=139.00 09:30–09:39\n"
	if n != 1 || suspectSummary(got) != want || got[0].Rule != suspect.RuleMet2022 {
		t.Errorf("met-2022 suspects (%d):\n%s\nwant:\n%s", n, suspectSummary(got), want)
	}
	sp, err := s.FindSuspectByAccount(ctx, "U1")
	must(t, err)
	if sp.Rank != 1 || sp.AccountID == 0 {
		t.Errorf("FindSuspectByAccount(U1) = %+v", sp)
	}
	if _, err := s.FindSuspectByAccount(ctx, "U2"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("FindSuspectByAccount(U2, not selected) error = %v, want ENOTFOUND", err)
	}
	ps, err := s.FindPayments(ctx, sp.AccountID)
	must(t, err)
	if len(ps) != 2 || ps[0].AmountMinor+ps[1].AmountMinor != 65000 || !ps[0].PaidAt.Equal(t0) || ps[0].Currency != "GBP" {
		t.Errorf("FindPayments(U1) = %d payments", len(ps))
	}
	// A replacement that fails half-way (the same account twice) leaves the ranking whole.
	r, err = suspect.Rank(ctx, s, suspect.Config{Rule: suspect.RuleHarm})
	must(t, err)
	if err := s.ReplaceSuspects(ctx, append(r.Suspects, r.Suspects[0])); err == nil {
		t.Error("ReplaceSuspects with an account twice succeeded")
	}
	if got, n, err := s.FindSuspects(ctx, unspoof.SuspectFilter{}); err != nil || n != 1 || suspectSummary(got) != want {
		t.Errorf("failed replacement changed the suspects (%d, %v):\n%s", n, err, suspectSummary(got))
	}
	if _, err := suspect.Rank(ctx, s, suspect.Config{Rule: "nope"}); unspoof.ErrorCode(err) != unspoof.EINVALID {
		t.Errorf("unknown rule: error %v, want EINVALID", err)
	}
}
