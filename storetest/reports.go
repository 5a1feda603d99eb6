package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/report"
	"github.com/unspoof/unspoof/suspect"
)

type reportStore interface {
	report.Store
	unspoof.SuspectStore
}

// testReportsLink files three reports against the victims fixture (ranked met-2022) and links
// them: by reference code, by number alone (a number the ranking left out), and one that
// matches nothing. Losses reach the suspects table.
func testReportsLink(t *testing.T, open Opener) {
	vs := victimFixture(t, open(t))
	s, ok := vs.(reportStore)
	if !ok {
		t.Fatalf("%T does not implement the report store", vs)
	}
	ctx := context.Background()
	rankVictimsAndSuspects(t, vs, s)
	v1, err := vs.FindVictimByNumber(ctx, "+447700900001")
	must(t, err)
	if got, err := s.FindVictimByCode(ctx, v1.Code); err != nil || got.E164 != v1.E164 {
		t.Errorf("FindVictimByCode(%s) = %v, %v", v1.Code, got, err)
	}
	if _, err := s.FindVictimByCode(ctx, "K7QM-3XHT-9PXC"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("an unknown code: %v", err)
	}

	at := t0.Add(48 * time.Hour)
	reports := []*unspoof.Report{
		{Number: "R-AAAAAAAA", ReferenceGiven: v1.Code, Reference: v1.Code, PhoneGiven: "07700 900999", E164: "+447700900999",
			OrgClaimed: "Northbridge Bank", Lost: true, LossMinor: 1_000_000, PaidBy: "bank-transfer", Story: "They said my account was at risk",
			ContactBy: "email", Contact: "a@example.org", Consent: true, CalledOn: t0.Truncate(24 * time.Hour), CreatedAt: at},
		{Number: "R-BBBBBBBB", PhoneGiven: "07911 123456", E164: "+447911123456", Lost: true, LossMinor: 25_001,
			ContactBy: "none", Consent: true, CreatedAt: at.Add(time.Second)},
		{Number: "R-CCCCCCCC", PhoneGiven: "07700 900555", E164: "+447700900555", ContactBy: "none", Consent: true, CreatedAt: at.Add(2 * time.Second)},
	}
	for _, r := range reports {
		must(t, s.CreateReport(ctx, r))
	}
	if err := s.CreateReport(ctx, &unspoof.Report{Number: "R-AAAAAAAA", CreatedAt: at}); unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Errorf("a report number used twice: %v", err)
	}
	k := report.NewLinker(s, nil)
	if n, err := k.LinkNew(ctx); err != nil || n != 3 {
		t.Fatalf("LinkNew = %d, %v", n, err)
	}
	if n, err := k.LinkNew(ctx); err != nil || n != 0 {
		t.Errorf("a second LinkNew linked %d, %v", n, err)
	}
	get := func(id int64) *unspoof.Report {
		r, err := s.FindReportByID(ctx, id)
		must(t, err)
		return r
	}
	r1 := get(reports[0].ID)
	if r1.Status != unspoof.ReportMatched || r1.Match != unspoof.MatchReference || r1.VictimE164 != "+447700900001" ||
		r1.LinkedCalls != 2 || len(r1.Accounts) != 1 || r1.Accounts[0].ExternalID != "U1" || r1.Accounts[0].LossMinor != 1_000_000 ||
		r1.Story != "They said my account was at risk" || !r1.CalledOn.Equal(t0.Truncate(24*time.Hour)) || !r1.CreatedAt.Equal(at) ||
		r1.PaidBy != "bank-transfer" || r1.Contact != "a@example.org" || !r1.Consent {
		t.Errorf("report by reference (its typed number, another one, is ignored): %+v %+v", r1, r1.Accounts)
	}
	// +447911123456: U2 120 s (long), U3 30 s: the loss goes to U2 alone; both are linked.
	r2 := get(reports[1].ID)
	if r2.Status != unspoof.ReportMatched || r2.Match != unspoof.MatchNumber || r2.VictimE164 != "+447911123456" || r2.LinkedCalls != 2 ||
		len(r2.Accounts) != 2 || r2.Accounts[0].ExternalID != "U2" || r2.Accounts[0].LossMinor != 25_001 ||
		r2.Accounts[1].ExternalID != "U3" || r2.Accounts[1].LossMinor != 0 || r2.Accounts[1].Calls != 1 {
		t.Errorf("report by number: %+v", r2)
		for _, a := range r2.Accounts {
			t.Errorf("  account %+v", a)
		}
	}
	if r3 := get(reports[2].ID); r3.Status != unspoof.ReportUnmatched || r3.Match != "" || len(r3.Accounts) != 0 {
		t.Errorf("report of an unknown number: %+v", r3)
	}
	unmatched := unspoof.ReportUnmatched
	if rs, n, err := s.FindReports(ctx, unspoof.ReportFilter{Status: &unmatched}); err != nil || n != 1 || rs[0].Number != "R-CCCCCCCC" {
		t.Errorf("FindReports(unmatched) = %d, %v", n, err)
	}
	if rs, n, err := s.FindReports(ctx, unspoof.ReportFilter{Limit: 2}); err != nil || n != 3 || len(rs) != 2 || rs[0].Number != "R-CCCCCCCC" {
		t.Errorf("FindReports(limit 2) = %d of %d, %v: want newest first", len(rs), n, err)
	}
	must(t, s.SetReportStatus(ctx, reports[2].ID, unspoof.ReportReviewed))
	if get(reports[2].ID).Status != unspoof.ReportReviewed {
		t.Error("SetReportStatus did not stick")
	}

	// Losses reach the suspects: at once in the table, and in the next ranking's score.
	for ext, want := range map[string]int64{"U1": 1_000_000, "U2": 25_001, "U3": 0} {
		sp, err := s.FindSuspectByAccount(ctx, ext)
		must(t, err)
		if sp.LossMinor != want {
			t.Errorf("suspect %s: linked loss %d, want %d", ext, sp.LossMinor, want)
		}
	}
	sr2, err := suspect.Rank(ctx, s, suspect.Config{Rule: suspect.RuleHarm, Now: func() time.Time { return t0 }})
	must(t, err)
	for _, sp := range sr2.Suspects {
		if sp.ExternalID == "U1" && sp.LossMinor != 1_000_000 {
			t.Errorf("re-ranked U1: loss %d", sp.LossMinor)
		}
	}
	// Linking again (a member of staff re-runs it) replaces, never adds twice.
	l, err := report.Link(ctx, s, r1, report.DefaultLongCall)
	must(t, err)
	must(t, s.SaveReportLink(ctx, l))
	if sp, _ := s.FindSuspectByAccount(ctx, "U1"); sp.LossMinor != 1_000_000 {
		t.Errorf("after relinking, U1's loss is %d", sp.LossMinor)
	}

	days, err := s.CallsPerDay(ctx)
	must(t, err)
	if len(days) != 1 || !days[0].Day.Equal(t0.Truncate(24*time.Hour)) || days[0].Calls != 11 {
		t.Errorf("CallsPerDay = %+v, want 11 calls on %s", days, t0.Format(time.DateOnly))
	}

	perHour, buckets, err := s.ReportSeries(ctx, at.Add(-time.Hour), []int64{30_000, 1_000_000})
	must(t, err)
	if len(perHour) != 1 || perHour[at.Truncate(time.Hour)] != 3 || fmt.Sprint(buckets) != "[1 1 0]" {
		t.Errorf("ReportSeries = %v, %v; want 3 reports in %s's hour, losses [1 1 0] (£250.01; exactly £10,000 is at most the edge)",
			perHour, buckets, at.Format(time.RFC3339))
	}
	if perHour, _, _ := s.ReportSeries(ctx, at.Add(time.Hour), nil); len(perHour) != 0 {
		t.Errorf("ReportSeries since later = %v", perHour)
	}

	f, err := s.Figures(ctx, true)
	must(t, err)
	if f.Calls != 11 || f.Victims != 3 || f.Reports != 3 || f.ReportsMatched != 2 || f.LossTotalMinor != 1_025_001 ||
		f.LossMaxMinor != 1_000_000 || f.ReportsWithLoss != 2 || f.LossAvgMinor() != 512_500 || f.Suspects != 1 {
		t.Errorf("figures %+v", f)
	}
}

func testStaffSessions(t *testing.T, open Opener) {
	st, ok := open(t).(unspoof.StaffStore)
	if !ok {
		t.Fatal("the store keeps no staff")
	}
	ctx := context.Background()
	a := &unspoof.Staff{Username: "alice", Name: "Alice A", Role: unspoof.RoleAnalyst, PasswordHash: "$argon2id$x", CreatedAt: t0}
	must(t, st.CreateStaff(ctx, a))
	if err := st.CreateStaff(ctx, &unspoof.Staff{Username: "alice", Role: unspoof.RoleAdmin, PasswordHash: "y", CreatedAt: t0}); unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Errorf("a second alice: %v", err)
	}
	got, err := st.FindStaffByUsername(ctx, "alice")
	if err != nil || got.ID != a.ID || got.Role != unspoof.RoleAnalyst || got.PasswordHash != "$argon2id$x" || !got.CreatedAt.Equal(t0) {
		t.Errorf("FindStaffByUsername = %+v, %v", got, err)
	}
	if _, err := st.FindStaffByUsername(ctx, "mallory"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("an unknown user: %v", err)
	}
	must(t, st.SetStaffLogin(ctx, a.ID, 5, t0.Add(15*time.Minute)))
	if got, _ := st.FindStaffByID(ctx, a.ID); got.FailedLogins != 5 || !got.LockedUntil.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("after 5 failures: %+v", got)
	}
	must(t, st.CreateSession(ctx, &unspoof.Session{TokenHash: "h1", StaffID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	se, who, err := st.FindSession(ctx, "h1", t0.Add(time.Minute))
	if err != nil || who.Username != "alice" || se.StaffID != a.ID || !se.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("FindSession = %+v %+v %v", se, who, err)
	}
	if _, _, err := st.FindSession(ctx, "h1", t0.Add(2*time.Hour)); unspoof.ErrorCode(err) != unspoof.EUNAUTHORIZED {
		t.Errorf("an expired session: %v", err)
	}
	must(t, st.DeleteSession(ctx, "h1"))
	if _, _, err := st.FindSession(ctx, "h1", t0); unspoof.ErrorCode(err) != unspoof.EUNAUTHORIZED {
		t.Errorf("a deleted session: %v", err)
	}

	// Someone leaves: disabling them ends their sessions at once, and a session made while
	// disabled is not honoured either; enabling them again ends any that were.
	b := &unspoof.Staff{Username: "bob", Role: unspoof.RoleAdmin, PasswordHash: "$argon2id$b", CreatedAt: t0}
	must(t, st.CreateStaff(ctx, b))
	session := func(hash string, staffID int64) {
		t.Helper()
		must(t, st.CreateSession(ctx, &unspoof.Session{TokenHash: hash, StaffID: staffID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	loggedIn := func(hash string) bool {
		t.Helper()
		_, _, err := st.FindSession(ctx, hash, t0.Add(time.Minute))
		if err != nil && unspoof.ErrorCode(err) != unspoof.EUNAUTHORIZED {
			t.Fatalf("FindSession(%s): %v", hash, err)
		}
		return err == nil
	}
	session("a2", a.ID)
	session("b1", b.ID)
	must(t, st.SetStaffDisabled(ctx, a.ID, t0.Add(time.Minute)))
	if loggedIn("a2") || !loggedIn("b1") {
		t.Error("disabling alice did not end only her session")
	}
	session("a3", a.ID)
	if loggedIn("a3") {
		t.Error("a session of a disabled member of staff is honoured")
	}
	all, err := st.FindStaff(ctx)
	if err != nil || len(all) != 2 || all[0].Username != "alice" || !all[0].DisabledAt.Equal(t0.Add(time.Minute)) ||
		all[1].Username != "bob" || !all[1].DisabledAt.IsZero() {
		t.Errorf("FindStaff = %+v, %v", all, err)
	}
	must(t, st.SetStaffDisabled(ctx, a.ID, time.Time{}))
	if got, _ := st.FindStaffByUsername(ctx, "alice"); !got.DisabledAt.IsZero() || loggedIn("a3") {
		t.Errorf("enabled again: %+v, session a3 honoured: %v", got, loggedIn("a3"))
	}

	// A new password clears the lockout and ends the sessions made with the old one.
	must(t, st.SetStaffLogin(ctx, b.ID, 0, t0.Add(15*time.Minute)))
	must(t, st.SetStaffPassword(ctx, b.ID, "$argon2id$b2"))
	if got, _ := st.FindStaffByID(ctx, b.ID); got.PasswordHash != "$argon2id$b2" || got.FailedLogins != 0 || !got.LockedUntil.IsZero() || loggedIn("b1") {
		t.Errorf("after a new password: %+v, session b1 honoured: %v", got, loggedIn("b1"))
	}
	if err := st.SetStaffDisabled(ctx, 999, t0); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("SetStaffDisabled(999) = %v", err)
	}
	if err := st.SetStaffPassword(ctx, 999, "x"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("SetStaffPassword(999) = %v", err)
	}
}
