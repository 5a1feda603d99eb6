package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/report"
	"github.com/unspoof/unspoof/suspect"
	"github.com/unspoof/unspoof/victim"
)

type purgeStore interface {
	unspoof.EvidenceStore
	report.Store
	unspoof.SuspectStore
	unspoof.CampaignStore
	unspoof.PurgeStore
}

// testPurge removes old reports and old messages of finished campaigns, as a retention policy
// asks, and checks that nothing else goes: newer reports, messages of a campaign still running,
// messages not yet final, opt-outs, the audit log and the evidence stay; a dry run changes
// nothing; the suspects' linked losses drop with the reports; the purge is in the audit log.
func testPurge(t *testing.T, open Opener) {
	vs := victimFixture(t, open(t))
	s, ok := vs.(purgeStore)
	if !ok {
		t.Fatalf("%T does not implement unspoof.PurgeStore", vs)
	}
	ctx := context.Background()
	rankVictimsAndSuspects(t, vs, s)
	old, cut, recent := t0.Add(24*time.Hour), t0.Add(48*time.Hour), t0.Add(72*time.Hour)

	// Reports: two before the cut (one linked to U1 with a loss, one matching nothing), one after
	// (linked to U2).
	v1, err := vs.FindVictimByNumber(ctx, "+447700900001")
	must(t, err)
	reports := []*unspoof.Report{
		{Number: "R-OLD00001", ReferenceGiven: v1.Code, Reference: v1.Code, Lost: true, LossMinor: 1_000_000, Story: "my savings",
			ContactBy: "email", Contact: "a@example.org", Consent: true, CreatedAt: old},
		{Number: "R-OLD00002", PhoneGiven: "07700 900555", E164: "+447700900555", ContactBy: "none", Consent: true, CreatedAt: old},
		{Number: "R-NEW00001", PhoneGiven: "07911 123456", E164: "+447911123456", Lost: true, LossMinor: 25_001, ContactBy: "none",
			Consent: true, CreatedAt: recent},
	}
	for _, r := range reports {
		must(t, s.CreateReport(ctx, r))
	}
	if n, err := report.NewLinker(s, nil).LinkNew(ctx); err != nil || n != 3 {
		t.Fatalf("LinkNew = %d, %v", n, err)
	}

	// Campaigns. "done": delivered (with its receipt) and failed before the cut, one still
	// submitted; "running": failed before the cut but the campaign is not finished; "late":
	// cancelled, its message failed after the cut.
	rs, err := s.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	if len(rs) != 3 {
		t.Fatalf("recipients = %d, want 3", len(rs))
	}
	// send makes a campaign to rs and moves its messages at at: submitted, or failed where fail
	// says so; then takes the campaign to finish (approved and running only if finish is "").
	send := func(name string, rs []*unspoof.Recipient, at time.Time, finish string, fail ...bool) *unspoof.Campaign {
		t.Helper()
		c, _ := newCampaign(t, s, name, false, rs)
		ms, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, Limit: 10}, at)
		must(t, err)
		var us []unspoof.MessageUpdate
		for i, m := range ms {
			u := unspoof.MessageUpdate{ID: m.ID, From: unspoof.MessageSubmitting, To: unspoof.MessageFailed, Reason: "ESME_RINVDSTADR", At: at}
			if i >= len(fail) || !fail[i] {
				id := fmt.Sprintf("%s-%d", name, i)
				u.To, u.Reason, u.SMSCIDs, u.Keys = unspoof.MessageSubmitted, "", []string{id}, []string{id}
			}
			us = append(us, u)
		}
		if n, err := s.UpdateMessages(ctx, us); err != nil || n != len(ms) {
			t.Fatalf("UpdateMessages applied %d of %d, %v", n, len(ms), err)
		}
		from := unspoof.CampaignDraft
		for _, to := range []string{unspoof.CampaignApproved, unspoof.CampaignRunning, finish} {
			if to == "" {
				break
			}
			must(t, s.SetCampaignState(ctx, c.ID, []string{from}, to, "bob", at))
			from = to
		}
		return c
	}
	done := send("done", rs, old, unspoof.CampaignDone, false, true, false)
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{{SMSCID: "done-0", Keys: []string{"done-0"}, State: "DELIVRD", At: old}}); err != nil || n != 1 {
		t.Fatalf("receipt applied %d, %v", n, err)
	}
	running := send("running", rs[1:2], old, "", true)
	late := send("late", rs[1:2], recent, unspoof.CampaignCancelled, true)
	before := map[int64]string{done.ID: "submitted=1 delivered=1 failed=1", running.ID: "failed=1", late.ID: "failed=1"}
	for id, want := range before {
		if got := counts(t, s, id); got != want {
			t.Fatalf("campaign %d before the purge: %s, want %s", id, got, want)
		}
	}
	_, err = s.AddOptOut(ctx, &unspoof.OptOut{E164: rs[0].E164, Source: "sms STOP", Text: "STOP", At: old})
	must(t, err)
	must(t, s.Audit(ctx, &unspoof.AuditEntry{At: old, Actor: "alice", Action: "victims.export", Object: "victims"}))
	stats, err := s.Stats(ctx)
	must(t, err)

	lossOf := func(ext string) int64 {
		t.Helper()
		sp, err := s.FindSuspectByAccount(ctx, ext)
		must(t, err)
		return sp.LossMinor
	}
	check := func(stage string, reports int, u1Loss int64, campaigns map[int64]string, audit int) {
		t.Helper()
		if _, n, err := s.FindReports(ctx, unspoof.ReportFilter{}); err != nil || n != reports {
			t.Errorf("%s: %d reports (%v), want %d", stage, n, err, reports)
		}
		if got := lossOf("U1"); got != u1Loss {
			t.Errorf("%s: U1's linked loss %d, want %d", stage, got, u1Loss)
		}
		if got := lossOf("U2"); got != 25_001 {
			t.Errorf("%s: U2's linked loss %d, want 25001 (its report is recent)", stage, got)
		}
		for id, want := range campaigns {
			if got := counts(t, s, id); got != want {
				t.Errorf("%s: campaign %d has %s, want %s", stage, id, got, want)
			}
		}
		if o, err := s.FindOptOut(ctx, rs[0].E164); err != nil || o.Text != "STOP" {
			t.Errorf("%s: the opt-out is gone: %+v, %v", stage, o, err)
		}
		if es, err := s.FindAudit(ctx, 0); err != nil || len(es) != audit || es[len(es)-1].Action != "victims.export" {
			t.Errorf("%s: audit log %d entries (%v), want %d with the first kept", stage, len(es), err, audit)
		}
		if got, err := s.Stats(ctx); err != nil || got.Calls != stats.Calls || got.Accounts != stats.Accounts ||
			got.Payments != stats.Payments || got.Sources != stats.Sources {
			t.Errorf("%s: the evidence changed: %+v, was %+v (%v)", stage, got, stats, err)
		}
	}
	purge := func(p unspoof.Purge, want unspoof.PurgeResult) {
		t.Helper()
		p.By, p.Reason, p.At = "carol", "retention: 12 months", recent
		got, err := s.PurgePersonalData(ctx, &p)
		if err != nil || *got != want {
			t.Errorf("purge %+v = %+v, %v; want %+v", p, got, err, want)
		}
	}

	both := unspoof.Purge{ReportsBefore: cut, MessagesBefore: cut}
	dry := both
	dry.DryRun = true
	purge(dry, unspoof.PurgeResult{Reports: 2, ReportLoss: 1_000_000, LinkedAccounts: 1, Messages: 2, Receipts: 1})
	check("after a dry run", 3, 1_000_000, before, 1)

	purge(unspoof.Purge{MessagesBefore: cut}, unspoof.PurgeResult{Messages: 2, Receipts: 1})
	after := map[int64]string{done.ID: "submitted=1", running.ID: "failed=1", late.ID: "failed=1"}
	check("after purging messages", 3, 1_000_000, after, 2)

	purge(unspoof.Purge{ReportsBefore: cut}, unspoof.PurgeResult{Reports: 2, ReportLoss: 1_000_000, LinkedAccounts: 1})
	check("after purging reports", 1, 0, after, 3)
	for _, r := range reports[:2] {
		if _, err := s.FindReportByID(ctx, r.ID); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
			t.Errorf("purged report %s: %v, want ENOTFOUND", r.Number, err)
		}
	}
	if r, err := s.FindReportByID(ctx, reports[2].ID); err != nil || r.Status != unspoof.ReportMatched || len(r.Accounts) != 2 {
		t.Errorf("the recent report: %+v, %v", r, err)
	}
	es, err := s.FindAudit(ctx, 1)
	must(t, err)
	if e := es[0]; e.Action != "purge" || e.Actor != "carol" || !e.At.Equal(recent) ||
		!strings.Contains(e.Detail, "reports before 2022-03-03T09:30:00Z: 2 (loss 1000000 pence, 1 linked accounts)") ||
		!strings.Contains(e.Detail, "retention: 12 months") {
		t.Errorf("audit entry of the purge: %+v", e)
	}

	// Again: nothing left to remove, and that is recorded too.
	purge(both, unspoof.PurgeResult{})
	check("after purging again", 1, 0, after, 4)
}

// rankVictimsAndSuspects ranks the victims with met-2022 and saves a harm ranking of the
// suspects, so that reports can be linked and their losses reach the suspects.
func rankVictimsAndSuspects(t *testing.T, vs unspoof.VictimStore, s unspoof.SuspectStore) {
	t.Helper()
	rank(t, vs, victim.RuleMet2022)
	sr, err := suspect.Rank(context.Background(), s, suspect.Config{Rule: suspect.RuleHarm, Now: func() time.Time { return t0 }})
	must(t, err)
	must(t, suspect.Save(context.Background(), s, sr))
}
