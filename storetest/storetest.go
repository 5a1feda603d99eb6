// Package storetest is the conformance suite every unspoof storage engine must pass: the same
// behaviour on SQLite and PostgreSQL, proven by running these tests against each.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// Opener returns a new, empty store for one test; it registers its own cleanup.
type Opener func(t *testing.T) unspoof.EvidenceStore

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"LoadAndStats", testLoadAndStats},
		{"Provenance", testProvenance},
		{"FailedLoadKeepsNothing", testFailedLoadKeepsNothing},
		{"CancelledLoadKeepsNothing", testCancelledLoadKeepsNothing},
		{"SameFileTwice", testSameFileTwice},
		{"DuplicateAccount", testDuplicateAccount},
		{"CallsBatchBoundaries", testCallsBatchBoundaries},
		{"FindCallsFilters", testFindCallsFilters},
		{"LargeLoads", testLargeLoads},
		{"VictimsRank", testVictimsRank},
		{"VictimsEndedLong", testVictimsEndedLong},
		{"VictimsRerankKeepsCodes", testVictimsRerankKeepsCodes},
		{"VictimsStatus", testVictimsStatus},
		{"SuspectsRank", testSuspectsRank},
		{"CampaignLifecycle", testCampaignLifecycle},
		{"MessageStateMachine", testMessageStateMachine},
		{"CampaignFailures", testCampaignFailures},
		{"OutcomeBatches", testOutcomeBatches},
		{"ReportsLink", testReportsLink},
		{"StaffSessions", testStaffSessions},
		{"Purge", testPurge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

var t0 = time.Date(2022, 3, 1, 9, 30, 0, 0, time.UTC)

func uk(raw, e164 string) unspoof.Phone {
	return unspoof.Phone{Raw: raw, E164: e164, Region: "GB", LineType: "mobile", Valid: true}
}

func us(raw, e164 string) unspoof.Phone {
	return unspoof.Phone{Raw: raw, E164: e164, Region: "US", LineType: "fixed_line_or_mobile", Valid: true}
}

func source(kind unspoof.Kind, digest string) *unspoof.Source {
	return &unspoof.Source{Kind: kind, Name: string(kind) + ".csv", SHA256: digest, Size: 100, Region: "GB", IngestedBy: "storetest"}
}

// fixture loads a small, hand-checkable case: 3 accounts, 3 payments, 2 orgs, 7 calls, 1 complaint.
func fixture(t *testing.T, s unspoof.EvidenceStore) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	must(t, s.Load(ctx, source(unspoof.KindOrgs, "o1"), func(l unspoof.Loader) error {
		bank := &unspoof.Org{ExternalID: "O1", Name: "Northbridge Bank", Sector: "bank", Country: "GB"}
		tax := &unspoof.Org{ExternalID: "O2", Name: "Revenue Office", Sector: "tax", Country: "GB"}
		for i, n := range []struct {
			o *unspoof.Org
			p unspoof.Phone
		}{
			{bank, unspoof.Phone{Raw: "0345 600 0001", E164: "+443456000001"}},
			{bank, unspoof.Phone{Raw: "0345 600 0002", E164: "+443456000002"}},
			{tax, unspoof.Phone{Raw: "0300 200 3300", E164: "+443002003300"}},
		} {
			if err := l.AddOrgNumber(ctx, n.o, &unspoof.OrgNumber{Phone: n.p, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, s.Load(ctx, source(unspoof.KindAccounts, "a1"), func(l unspoof.Loader) error {
		for i, ext := range []string{"U1", "U2", "U3"} {
			a := &unspoof.Account{ExternalID: ext, Username: "user" + ext, Email: ext + "@example.com", Country: "GB",
				SignupAt: t0.Add(-24 * time.Hour), IPs: []string{"192.0.2.1", "198.51.100.7"}, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}
			if err := l.AddAccount(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}))
	ids, err := s.AccountIDs(ctx)
	must(t, err)
	if len(ids) != 3 || ids["U1"] == 0 || ids["U1"] == ids["U2"] {
		t.Fatalf("AccountIDs = %v, want 3 distinct ids", ids)
	}
	must(t, s.Load(ctx, source(unspoof.KindPayments, "p1"), func(l unspoof.Loader) error {
		for i, p := range []struct {
			acct  string
			pence int64
		}{{"U1", 15000}, {"U1", 50000}, {"U2", 9999}} {
			if err := l.AddPayment(ctx, &unspoof.Payment{ExternalID: fmt.Sprint("P", i), AccountID: ids[p.acct],
				PaidAt: t0, AmountMinor: p.pence, Currency: "GBP", Method: "BTC", Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	src := source(unspoof.KindCalls, "c1")
	must(t, s.Load(ctx, src, func(l unspoof.Loader) error {
		bank := unspoof.Phone{Raw: "03456000001", E164: "+443456000001"}
		tax := unspoof.Phone{Raw: "+44 300 200 3300", E164: "+443002003300"}
		odd := unspoof.Phone{Raw: "HSBC"}
		calls := []struct {
			acct   string
			cli    unspoof.Phone
			callee unspoof.Phone
			secs   int
		}{
			{"U1", bank, uk("07700 900001", "+447700900001"), 300},
			{"U1", bank, uk("07700900001", "+447700900001"), 45},
			{"U1", tax, uk("+447700900002", "+447700900002"), 61},
			{"U2", bank, uk("07700 900003", "+447700900003"), 60},
			{"U2", odd, us("+1 202 555 0143", "+12025550143"), 600},
			{"U3", tax, us("001 202 555 0144", "+12025550144"), 0},
			{"U3", bank, uk("07700 900004", "+447700900004"), 0},
		}
		for i, c := range calls {
			call := &unspoof.Call{ExternalID: fmt.Sprint("C", i), AccountID: ids[c.acct], StartedAt: t0.Add(time.Duration(i) * time.Minute),
				Duration: time.Duration(c.secs) * time.Second, Status: "answered", CLI: c.cli, Callee: c.callee,
				Ref: unspoof.Ref{SourceRow: int64(i + 2)}}
			if err := l.AddCall(ctx, call); err != nil {
				return err
			}
		}
		src.RowsRead, src.RowsLoaded, src.RowsQuarantined, src.QuarantinePath = 9, 7, 2, "calls.csv.quarantine.csv"
		return nil
	}))
	must(t, s.Load(ctx, source(unspoof.KindComplaints, "x1"), func(l unspoof.Loader) error {
		return l.AddComplaint(ctx, &unspoof.Complaint{Caller: us("2025550143", "+12025550143"), CalledAt: t0, CreatedAt: t0.Add(time.Hour),
			City: "Springfield", State: "IL", AreaCode: "217", Subject: "Banking", Robocall: true, Ref: unspoof.Ref{SourceRow: 2}})
	}))
	return ids
}

func testLoadAndStats(t *testing.T, open Opener) {
	s := open(t)
	fixture(t, s)
	st, err := s.Stats(context.Background())
	must(t, err)
	want := unspoof.Stats{
		Sources: 5, Accounts: 3, Payments: 3, PaidMinor: 74999, PayingAccounts: 2,
		Calls: 7, CallsOver60s: 3, DistinctCallees: 6, UKCalls: 5, UKCallees: 4, UKCallsOver60s: 2, UKCalleesOver60: 2,
		Complaints: 1, FirstCall: t0, LastCall: t0.Add(6 * time.Minute),
		TopOrgs: []unspoof.OrgCount{{Org: "Northbridge Bank", Calls: 4}, {Org: "Revenue Office", Calls: 2}},
	}
	if got := fmt.Sprintf("%+v", *st); got != fmt.Sprintf("%+v", want) {
		t.Errorf("Stats:\n got %s\nwant %+v", got, want)
	}
	srcs, err := s.FindSources(context.Background())
	must(t, err)
	if len(srcs) != 5 {
		t.Fatalf("FindSources: %d sources, want 5", len(srcs))
	}
	c := srcs[3]
	if c.Kind != unspoof.KindCalls || c.RowsRead != 9 || c.RowsLoaded != 7 || c.RowsQuarantined != 2 ||
		c.QuarantinePath != "calls.csv.quarantine.csv" || c.IngestedAt.IsZero() || c.IngestedBy != "storetest" || c.Region != "GB" {
		t.Errorf("calls source = %+v", c)
	}
}

func testProvenance(t *testing.T, open Opener) {
	s := open(t)
	fixture(t, s)
	ctx := context.Background()
	src, err := s.FindSourceByDigest(ctx, unspoof.KindCalls, "c1")
	must(t, err)
	callee := "+447700900001"
	calls, n, err := s.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &callee})
	must(t, err)
	if n != 2 || len(calls) != 2 {
		t.Fatalf("FindCalls(%s) = %d calls (total %d), want 2", callee, len(calls), n)
	}
	c := calls[0]
	if c.SourceID != src.ID || c.SourceRow != 2 || c.Callee.Raw != "07700 900001" || c.CLI.Raw != "03456000001" ||
		c.CLI.E164 != "+443456000001" || c.Duration != 300*time.Second || !c.StartedAt.Equal(t0) ||
		c.Callee.Region != "GB" || c.Callee.LineType != "mobile" || !c.Callee.Valid || c.ExternalID != "C0" {
		t.Errorf("call = %+v", c)
	}
	if calls[1].SourceRow != 3 {
		t.Errorf("second call from line %d, want 3", calls[1].SourceRow)
	}
	if _, err := s.FindSourceByDigest(ctx, unspoof.KindCalls, "nope"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("FindSourceByDigest(unknown) error = %v, want ENOTFOUND", err)
	}
}

func testFailedLoadKeepsNothing(t *testing.T, open Opener) {
	s := open(t)
	ids := fixture(t, s)
	ctx := context.Background()
	boom := errors.New("too many bad rows")
	err := s.Load(ctx, source(unspoof.KindCalls, "c2"), func(l unspoof.Loader) error {
		for i := range 1000 {
			if err := l.AddCall(ctx, &unspoof.Call{AccountID: ids["U1"], StartedAt: t0, Status: "answered",
				CLI: unspoof.Phone{Raw: "x"}, Callee: uk("07700900009", "+447700900009"), Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Load error = %v, want the fn's error", err)
	}
	assertCalls(t, s, 7)
	if _, err := s.FindSourceByDigest(ctx, unspoof.KindCalls, "c2"); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("failed source recorded: %v", err)
	}
	// The same file can be loaded once the problem is fixed.
	must(t, s.Load(ctx, source(unspoof.KindCalls, "c2"), func(l unspoof.Loader) error { return nil }))
}

func testCancelledLoadKeepsNothing(t *testing.T, open Opener) {
	s := open(t)
	ids := fixture(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Load(ctx, source(unspoof.KindCalls, "c3"), func(l unspoof.Loader) error {
		for i := range 500 {
			if err := l.AddCall(ctx, &unspoof.Call{AccountID: ids["U2"], StartedAt: t0, Status: "answered",
				CLI: unspoof.Phone{Raw: "x"}, Callee: uk("07700900009", "+447700900009"), Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("Load with a cancelled context succeeded")
	}
	assertCalls(t, s, 7)
}

func testSameFileTwice(t *testing.T, open Opener) {
	s := open(t)
	fixture(t, s)
	ran := false
	err := s.Load(context.Background(), source(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error { ran = true; return nil })
	if unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Fatalf("second load of the same digest: error %v, want ECONFLICT", err)
	}
	if ran {
		t.Error("second load of the same digest ran its rows")
	}
	// The same bytes as another kind of file is a different source.
	must(t, s.Load(context.Background(), source(unspoof.KindComplaints, "c1"), func(l unspoof.Loader) error { return nil }))
}

func testDuplicateAccount(t *testing.T, open Opener) {
	s := open(t)
	fixture(t, s)
	ctx := context.Background()
	err := s.Load(ctx, source(unspoof.KindAccounts, "a2"), func(l unspoof.Loader) error {
		return l.AddAccount(ctx, &unspoof.Account{ExternalID: "U1", Ref: unspoof.Ref{SourceRow: 2}})
	})
	if unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Fatalf("duplicate account: error %v, want ECONFLICT", err)
	}
	ids, err := s.AccountIDs(ctx)
	must(t, err)
	if len(ids) != 3 {
		t.Errorf("%d accounts after a failed load, want 3", len(ids))
	}
}

// testCallsBatchBoundaries loads counts around any batch size an engine may use and checks
// that every row arrives exactly once.
func testCallsBatchBoundaries(t *testing.T, open Opener) {
	s := open(t)
	ids := fixture(t, s)
	ctx := context.Background()
	total := 7
	for i, n := range []int{1, 127, 128, 129, 1000, 10001} {
		must(t, s.Load(ctx, source(unspoof.KindCalls, fmt.Sprint("batch", i)), func(l unspoof.Loader) error {
			for j := range n {
				e164 := fmt.Sprintf("+4477009%05d", j)
				if err := l.AddCall(ctx, &unspoof.Call{AccountID: ids["U3"], StartedAt: t0.Add(time.Duration(j) * time.Second),
					Duration: time.Duration(j%90) * time.Second, Status: "answered", CLI: unspoof.Phone{Raw: "x"},
					Callee: uk(e164, e164), Ref: unspoof.Ref{SourceRow: int64(j + 2)}}); err != nil {
					return err
				}
			}
			return nil
		}))
		total += n
		assertCalls(t, s, int64(total))
	}
	src, err := s.FindSourceByDigest(ctx, unspoof.KindCalls, "batch5")
	must(t, err)
	calls, n, err := s.FindCalls(ctx, unspoof.CallFilter{SourceID: &src.ID})
	must(t, err)
	if n != 10001 || len(calls) != 10001 {
		t.Fatalf("source batch5 has %d calls (%d listed), want 10001", n, len(calls))
	}
	for j, c := range calls {
		if c.SourceRow != int64(j+2) || c.Duration != time.Duration(j%90)*time.Second {
			t.Fatalf("call %d: line %d duration %v", j, c.SourceRow, c.Duration)
		}
	}
}

func testFindCallsFilters(t *testing.T, open Opener) {
	s := open(t)
	ids := fixture(t, s)
	ctx := context.Background()
	acct := ids["U1"]
	calls, n, err := s.FindCalls(ctx, unspoof.CallFilter{AccountID: &acct, Limit: 2, Offset: 1})
	must(t, err)
	if n != 3 || len(calls) != 2 || calls[0].ExternalID != "C1" || calls[1].ExternalID != "C2" {
		t.Errorf("FindCalls(account U1, offset 1, limit 2) = %d of %d", len(calls), n)
	}
	none := "+440000"
	if calls, n, err := s.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &none}); err != nil || n != 0 || len(calls) != 0 {
		t.Errorf("FindCalls(unknown callee) = %d, %d, %v", len(calls), n, err)
	}
}

// testLargeLoads: a source that says it is large lets an engine defer its index and constraint
// upkeep to the end of the load; a good large load must still be found by every index, and a
// failed one must leave the store, indexes included, as it was.
func testLargeLoads(t *testing.T, open Opener) {
	s := open(t)
	ids := fixture(t, s)
	ctx := context.Background()
	add := func(l unspoof.Loader, n int, account int64) error {
		for j := range n {
			e164 := fmt.Sprintf("+4474%08d", j%500)
			if err := l.AddCall(ctx, &unspoof.Call{AccountID: account, StartedAt: t0.Add(time.Duration(j) * time.Second),
				Duration: 61 * time.Second, Status: "answered", CLI: unspoof.Phone{Raw: "x"},
				Callee: uk(e164, e164), Ref: unspoof.Ref{SourceRow: int64(j + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}
	big := source(unspoof.KindCalls, "big1")
	big.Size = 1 << 32
	must(t, s.Load(ctx, big, func(l unspoof.Loader) error { return add(l, 3000, ids["U2"]) }))
	boom := errors.New("disk full")
	big2 := source(unspoof.KindCalls, "big2")
	big2.Size = 1 << 32
	if err := s.Load(ctx, big2, func(l unspoof.Loader) error {
		if err := add(l, 2000, ids["U3"]); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed large load: error %v", err)
	}
	// A large load naming an account that does not exist fails as a whole, whatever the engine
	// checks at the end rather than per row.
	big3 := source(unspoof.KindCalls, "big3")
	big3.Size = 1 << 32
	err := s.Load(ctx, big3, func(l unspoof.Loader) error {
		if err := add(l, 1000, ids["U3"]); err != nil {
			return err
		}
		return add(l, 1, 987654321)
	})
	if code := unspoof.ErrorCode(err); code != unspoof.EINVALID {
		t.Fatalf("large load with an unknown account: error %v (code %q), want EINVALID", err, code)
	}
	assertCalls(t, s, 7+3000)
	callee := "+447400000007"
	calls, n, err := s.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &callee})
	must(t, err)
	if n != 6 || len(calls) != 6 || calls[0].SourceRow != 9 {
		t.Errorf("calls to %s after large loads: %d (first from line %d), want 6 from line 9", callee, n, calls[0].SourceRow)
	}
	acct := ids["U3"]
	if _, n, err := s.FindCalls(ctx, unspoof.CallFilter{AccountID: &acct}); err != nil || n != 2 {
		t.Errorf("calls of U3 after failed large loads: %d, %v; want the fixture's 2", n, err)
	}
	// And an ordinary load still works after them.
	must(t, s.Load(ctx, source(unspoof.KindCalls, "small"), func(l unspoof.Loader) error { return add(l, 10, ids["U1"]) }))
	assertCalls(t, s, 7+3000+10)
}

func assertCalls(t *testing.T, s unspoof.EvidenceStore, want int64) {
	t.Helper()
	st, err := s.Stats(context.Background())
	must(t, err)
	if st.Calls != want {
		t.Fatalf("store has %d calls, want %d", st.Calls, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
