package storetest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/victim"
)

// victimFixture adds to the fixture calls to a real-range mobile, a London fixed line and an
// organisation's own number. With the fixture's calls (U1 is the only identified suspect: GB,
// £650 paid; U2 paid £99.99), the UK numbers called are:
//
//	+447700900001  U1 bank 300 s + 45 s           met-2022 (fictional: channel none)
//	+447700900002  U1 tax 61 s                    met-2022
//	+447700900003  U2 bank 60 s                   (60 s is not over 60 s)
//	+447700900004  U3 bank 0 s
//	+447911123456  U2 bank 120 s, U3 other 30 s   (U2 not identified)
//	+442071234567  U1 tax 90 s                    met-2022
//	+443456000002  U1 bank 100 s                  an organisation's number: never a victim
func victimFixture(t *testing.T, s unspoof.EvidenceStore) unspoof.VictimStore {
	t.Helper()
	vs, ok := s.(unspoof.VictimStore)
	if !ok {
		t.Fatalf("%T does not implement unspoof.VictimStore", s)
	}
	ids := fixture(t, s)
	ctx := context.Background()
	bank := unspoof.Phone{Raw: "03456000001", E164: "+443456000001"}
	tax := unspoof.Phone{Raw: "03002003300", E164: "+443002003300"}
	mobile := unspoof.Phone{Raw: "07911 123456", E164: "+447911123456", Region: "GB", LineType: "mobile", Valid: true}
	fixed := unspoof.Phone{Raw: "020 7123 4567", E164: "+442071234567", Region: "GB", LineType: "fixed_line", Valid: true}
	orgOwn := unspoof.Phone{Raw: "0345 600 0002", E164: "+443456000002", Region: "GB", LineType: "uan", Valid: true}
	must(t, s.Load(ctx, source(unspoof.KindCalls, "v1"), func(l unspoof.Loader) error {
		for i, c := range []struct {
			acct        string
			cli, callee unspoof.Phone
			secs        int
		}{
			{"U2", bank, mobile, 120},
			{"U1", tax, fixed, 90},
			{"U1", bank, orgOwn, 100},
			{"U3", unspoof.Phone{Raw: "x"}, mobile, 30},
		} {
			if err := l.AddCall(ctx, &unspoof.Call{ExternalID: fmt.Sprint("V", i), AccountID: ids[c.acct],
				StartedAt: t0.Add(time.Duration(7+i) * time.Minute), Duration: time.Duration(c.secs) * time.Second,
				Status: "answered", CLI: c.cli, Callee: c.callee, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	return vs
}

func rank(t *testing.T, s unspoof.VictimStore, rule string) *victim.Ranking {
	t.Helper()
	r, err := victim.Rank(context.Background(), s, victim.Config{Rule: rule, Now: func() time.Time { return t0.Add(time.Hour) }})
	must(t, err)
	must(t, victim.Save(context.Background(), s, r))
	return r
}

// summary writes victims one per line: number, rank, tier, channel and aggregates.
func summary(vs []*unspoof.Victim) string {
	var out string
	for _, v := range vs {
		out += fmt.Sprintf("%s #%d %s %s calls=%d ans=%d long=%d talk=%s longest=%s accts=%d/%d/%d orgs=%d org=%d bank=%d ident=%d/%v %s–%s\n",
			v.E164, v.Rank, v.Tier, v.Channel, v.Calls, v.AnsweredCalls, v.LongCalls, v.TalkTime, v.LongestCall,
			v.Accounts, v.LongAccounts, v.CallerLongCalls, v.Orgs, v.OrgCalls, v.BankCalls, v.IdentifiedLongCalls, v.Identified,
			v.FirstCall.Format("15:04"), v.LastCall.Format("15:04"))
	}
	return out
}

func testVictimsRank(t *testing.T, open Opener) {
	es := open(t)
	s := victimFixture(t, es)
	ctx := context.Background()

	r := rank(t, s, victim.RuleMet2022)
	if r.Candidates != 6 || r.MetCount != 3 {
		t.Errorf("met-2022: %d candidates, %d selected; want 6 and 3", r.Candidates, r.MetCount)
	}
	got, n, err := s.FindVictims(ctx, unspoof.VictimFilter{})
	must(t, err)
	want := `+447700900001 #1 high none calls=2 ans=2 long=1 talk=5m45s longest=5m0s accts=1/1/1 orgs=1 org=2 bank=2 ident=1/true 09:30–09:31
+442071234567 #2 medium letter calls=1 ans=1 long=1 talk=1m30s longest=1m30s accts=1/1/1 orgs=1 org=1 bank=0 ident=1/true 09:38–09:38
+447700900002 #3 low none calls=1 ans=1 long=1 talk=1m1s longest=1m1s accts=1/1/1 orgs=1 org=1 bank=0 ident=1/true 09:32–09:32
`
	if n != 3 || summary(got) != want {
		t.Errorf("met-2022 victims (%d):\n%s\nwant:\n%s", n, summary(got), want)
	}
	for _, v := range got {
		if v.Rule != victim.RuleMet2022 || v.Status != unspoof.VictimNew || !victim.ValidCode(v.Code) ||
			!v.RankedAt.Equal(t0.Add(time.Hour)) || v.Region != "GB" || !v.Valid || v.Score <= 0 {
			t.Errorf("victim %s: rule %q status %q code %q ranked %v region %q valid %v score %v", v.E164, v.Rule, v.Status,
				v.Code, v.RankedAt, v.Region, v.Valid, v.Score)
		}
	}
	if !got[0].Fictional || got[1].Fictional || got[1].LineType != "fixed_line" {
		t.Errorf("fictional/line type: %+v %+v", got[0], got[1])
	}

	r = rank(t, s, victim.RuleScore)
	got, _, err = s.FindVictims(ctx, unspoof.VictimFilter{})
	must(t, err)
	// +447911123456's caller stopped after its 120 s call (ended_long); +447700900001's called
	// once more after the long call, for 45 s, which is how a callee who saw through it looks.
	want = `+447911123456 #1 high sms calls=2 ans=2 long=1 talk=2m30s longest=2m0s accts=2/1/1 orgs=1 org=1 bank=1 ident=0/false 09:37–09:40
+447700900001 #2 medium none calls=2 ans=2 long=1 talk=5m45s longest=5m0s accts=1/1/1 orgs=1 org=2 bank=2 ident=1/true 09:30–09:31
+442071234567 #3 low letter calls=1 ans=1 long=1 talk=1m30s longest=1m30s accts=1/1/1 orgs=1 org=1 bank=0 ident=1/true 09:38–09:38
`
	if summary(got) != want {
		t.Errorf("score victims:\n%s\nwant:\n%s", summary(got), want)
	}
	if v, ok := r.Find("+447700900004"); !ok || v.Calls != 1 || v.TalkTime != 0 || v.BankCalls != 1 || v.Rank != 0 {
		t.Errorf("unselected +447700900004: %+v, %v", v, ok)
	}
	if _, ok := r.Find("+443456000002"); ok {
		t.Error("an organisation's own number was ranked")
	}

	sms := unspoof.ChannelSMS
	if got, n, err := s.FindVictims(ctx, unspoof.VictimFilter{Channel: &sms}); err != nil || n != 1 || got[0].E164 != "+447911123456" {
		t.Errorf("FindVictims(channel sms) = %d, %v", n, err)
	}
	high := victim.TierHigh
	if got, n, err := s.FindVictims(ctx, unspoof.VictimFilter{Tier: &high, Limit: 1}); err != nil || n != 1 || len(got) != 1 {
		t.Errorf("FindVictims(tier high) = %d, %v", n, err)
	}
	if got, n, err := s.FindVictims(ctx, unspoof.VictimFilter{Offset: 1, Limit: 1}); err != nil || n != 3 || len(got) != 1 || got[0].Rank != 2 {
		t.Errorf("FindVictims(offset 1, limit 1) = %d of %d, %v", len(got), n, err)
	}
	v, err := s.FindVictimByNumber(ctx, "+442071234567")
	must(t, err)
	if v.Rank != 3 || !victim.ValidCode(v.Code) {
		t.Errorf("FindVictimByNumber = %+v", v)
	}
	if _, err := s.FindVictimByNumber(ctx, "+447700900003"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("FindVictimByNumber(not selected) error = %v, want ENOTFOUND", err)
	}

	// How far one caller took it: U3 calls +447700900004 back twice for over a minute, U2 once.
	bank := unspoof.Phone{Raw: "03456000001", E164: "+443456000001"}
	callee := unspoof.Phone{Raw: "07700 900004", E164: "+447700900004", Region: "GB", LineType: "mobile"}
	accts, err := es.AccountIDs(ctx)
	must(t, err)
	must(t, es.Load(ctx, source(unspoof.KindCalls, "v2"), func(l unspoof.Loader) error {
		for i, c := range []struct {
			acct string
			secs int
		}{{"U3", 400}, {"U3", 900}, {"U2", 70}} {
			if err := l.AddCall(ctx, &unspoof.Call{ExternalID: fmt.Sprint("W", i), AccountID: accts[c.acct],
				StartedAt: t0.Add(time.Duration(20+i) * time.Minute), Duration: time.Duration(c.secs) * time.Second,
				Status: "answered", CLI: bank, Callee: callee, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	r = rank(t, s, victim.RuleScore)
	v, err = s.FindVictimByNumber(ctx, "+447700900004")
	must(t, err)
	if v.Rank != 1 || v.Calls != 4 || v.LongCalls != 3 || v.Accounts != 2 || v.LongAccounts != 2 || v.CallerLongCalls != 2 {
		t.Errorf("+447700900004 after two long calls by U3 and one by U2: %s", summary([]*unspoof.Victim{v}))
	}
	for _, term := range r.Explain(v) {
		if term.Feature == "caller" && term.Value != math.Log(3) {
			t.Errorf("caller term = %v, want ln 3", term.Value)
		}
	}
}

// testVictimsEndedLong: a number's EndedLongCall is the longest last call among the accounts
// whose last call to it lasted over the threshold, whatever CLI each call presented; it is
// stored with the victim.
func testVictimsEndedLong(t *testing.T, open Opener) {
	es := open(t)
	s := victimFixture(t, es)
	ctx := context.Background()
	bank := unspoof.Phone{Raw: "03456000001", E164: "+443456000001"}
	tax := unspoof.Phone{Raw: "03002003300", E164: "+443002003300"}
	callee := unspoof.Phone{Raw: "07700 900005", E164: "+447700900005", Region: "GB", LineType: "mobile"}
	accts, err := es.AccountIDs(ctx)
	must(t, err)
	load := func(name string, calls []endedCall) {
		t.Helper()
		must(t, es.Load(ctx, source(unspoof.KindCalls, name), func(l unspoof.Loader) error {
			for i, c := range calls {
				cli := map[string]unspoof.Phone{"bank": bank, "tax": tax, "none": {Raw: "x"}}[c.cli]
				if err := l.AddCall(ctx, &unspoof.Call{ExternalID: fmt.Sprint(name, i), AccountID: accts[c.acct],
					StartedAt: t0.Add(time.Duration(c.min) * time.Minute), Duration: time.Duration(c.secs) * time.Second,
					Status: "answered", CLI: cli, Callee: callee, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	ended := func(want time.Duration, why string) {
		t.Helper()
		r := rank(t, s, victim.RuleScore)
		v, ok := r.Find(callee.E164)
		if !ok || v.EndedLongCall != want {
			t.Errorf("%s: EndedLongCall = %v, want %v", why, v.EndedLongCall, want)
			return
		}
		for _, term := range r.Explain(v) {
			if term.Feature == "ended_long" && term.Value != b2f(want > 0) ||
				term.Feature == "ended_minutes" && math.Abs(term.Value-math.Log1p(want.Minutes())) > 1e-9 {
				t.Errorf("%s: %s = %v", why, term.Feature, term.Value)
			}
		}
	}
	// U1 ends on a short call (another CLI than its long one); U2's last call, 200 s, is long
	// though not its longest; U3's last call, 90 s, is long.
	load("e1", []endedCall{{"U1", "bank", 40, 300}, {"U1", "tax", 45, 5}, {"U2", "bank", 41, 500}, {"U2", "tax", 50, 200},
		{"U3", "bank", 42, 400}, {"U3", "bank", 55, 90}})
	ended(200*time.Second, "U2 and U3 ended on long calls")
	load("e2", []endedCall{{"U2", "none", 60, 10}})
	ended(90*time.Second, "U2 called again")
	load("e3", []endedCall{{"U3", "bank", 61, 0}})
	ended(0, "U3 tried once more in vain")

	// Stored and read back with the victim.
	for number, want := range map[string]time.Duration{"+447911123456": 120 * time.Second, "+447700900001": 0, "+442071234567": 90 * time.Second} {
		v, err := s.FindVictimByNumber(ctx, number)
		must(t, err)
		if v.EndedLongCall != want {
			t.Errorf("%s: stored EndedLongCall = %v, want %v", number, v.EndedLongCall, want)
		}
	}
}

type endedCall struct {
	acct, cli string
	min, secs int
}

func b2f(x bool) float64 {
	if x {
		return 1
	}
	return 0
}

// testVictimsRerankKeepsCodes: a number keeps its code through rankings that drop it and take
// it back; a failed replacement leaves the previous ranking whole.
func testVictimsRerankKeepsCodes(t *testing.T, open Opener) {
	s := victimFixture(t, open(t))
	ctx := context.Background()
	codes := func() map[string]string {
		vs, _, err := s.FindVictims(ctx, unspoof.VictimFilter{})
		must(t, err)
		m := map[string]string{}
		for _, v := range vs {
			m[v.E164] = v.Code
		}
		return m
	}
	rank(t, s, victim.RuleMet2022)
	met := codes()
	rank(t, s, victim.RuleScore)
	score := codes()
	rank(t, s, victim.RuleMet2022)
	again := codes()
	if len(met) != 3 || fmt.Sprint(met) != fmt.Sprint(again) {
		t.Errorf("codes changed across rankings:\n%v\n%v", met, again)
	}
	for n, c := range score {
		if old, ok := met[n]; ok && old != c {
			t.Errorf("%s: code %s became %s", n, old, c)
		}
		for m, c2 := range met {
			if m != n && c2 == c {
				t.Errorf("%s and %s share code %s", n, m, c)
			}
		}
	}

	// A replacement that fails half-way (the same number twice) changes nothing.
	r, err := victim.Rank(ctx, s, victim.Config{Rule: victim.RuleScore})
	must(t, err)
	dup := append(r.Victims, r.Victims[0])
	if err := s.ReplaceVictims(ctx, dup, victim.NewCode); err == nil {
		t.Fatal("ReplaceVictims with a number twice succeeded")
	}
	if got := codes(); fmt.Sprint(got) != fmt.Sprint(again) {
		t.Errorf("failed replacement changed the victims: %v", got)
	}
}

// testVictimsStatus: a victim's status follows the opt-outs and campaigns through re-rankings:
// an opted-out or alerted number never comes back as new, a test campaign alerts nobody, and a
// message that failed for good leaves its number free for the next campaign.
func testVictimsStatus(t *testing.T, open Opener) {
	cs, s := campaignFixture(t, open) // met-2022: +447700900001, +442071234567, +447700900002
	ctx := context.Background()
	statuses := func() string {
		vs, _, err := s.FindVictims(ctx, unspoof.VictimFilter{})
		must(t, err)
		var out []string
		for _, v := range vs {
			out = append(out, v.E164+" "+v.Status)
		}
		return strings.Join(out, ", ")
	}
	if got := statuses(); got != "+447700900001 new, +442071234567 new, +447700900002 new" {
		t.Errorf("statuses after ranking: %s", got)
	}
	rs, err := cs.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	newCampaign(t, cs, "staff test", true, rs)
	if got := statuses(); got != "+447700900001 new, +442071234567 new, +447700900002 new" {
		t.Errorf("a test campaign changed statuses: %s", got)
	}
	_, ms := newCampaign(t, cs, "first alert", false, rs[:2])
	_, err = cs.AddOptOut(ctx, &unspoof.OptOut{E164: "+447700900002", Source: "portal", At: t0})
	must(t, err)
	_, err = cs.AddOptOut(ctx, &unspoof.OptOut{E164: "+447700900001", Source: "sms STOP", Text: "STOP", At: t0})
	must(t, err)
	want := "+447700900001 opted-out, +442071234567 alerted, +447700900002 opted-out"
	if got := statuses(); got != want {
		t.Errorf("statuses after a campaign and two opt-outs:\n%s\nwant:\n%s", got, want)
	}

	// Re-ranking, by either rule, changes none of it.
	rank(t, s, victim.RuleScore)
	rank(t, s, victim.RuleMet2022)
	if got := statuses(); got != want {
		t.Errorf("statuses after re-ranking:\n%s\nwant:\n%s", got, want)
	}
	for status, n := range map[string]int{unspoof.VictimNew: 0, unspoof.VictimAlerted: 1, unspoof.VictimOptedOut: 2} {
		if _, got, err := s.FindVictims(ctx, unspoof.VictimFilter{Status: &status}); err != nil || got != n {
			t.Errorf("FindVictims(status %s) = %d, %v; want %d", status, got, err, n)
		}
	}
	v, err := s.FindVictimByNumber(ctx, "+442071234567")
	must(t, err)
	if v.Status != unspoof.VictimAlerted {
		t.Errorf("FindVictimByNumber: status %q, want alerted", v.Status)
	}
	if rs, err := cs.FindRecipients(ctx, unspoof.RecipientFilter{}); err != nil || len(rs) != 0 {
		t.Errorf("recipients of the next campaign = %v, %v; want none", rs, err)
	}

	// The alert to +442071234567 fails for good: its number may be alerted again.
	at := t0.Add(time.Minute)
	m := ms[1]
	n, err := cs.UpdateMessages(ctx, []unspoof.MessageUpdate{
		{ID: m.ID, From: unspoof.MessagePending, To: unspoof.MessageSubmitting, At: at},
		{ID: m.ID, From: unspoof.MessageSubmitting, To: unspoof.MessageFailed, Reason: "invalid number", At: at}})
	must(t, err)
	if m.E164 != "+442071234567" || n != 2 {
		t.Fatalf("message %s: %d updates applied", m.E164, n)
	}
	if rs, err := cs.FindRecipients(ctx, unspoof.RecipientFilter{}); err != nil || len(rs) != 1 || rs[0].E164 != "+442071234567" {
		t.Errorf("recipients after the alert failed = %v, %v; want +442071234567", rs, err)
	}
	if got := statuses(); got != "+447700900001 opted-out, +442071234567 new, +447700900002 opted-out" {
		t.Errorf("statuses after the alert failed: %s", got)
	}
}
