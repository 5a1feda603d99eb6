package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/storetest"
)

// newDatabase creates an empty database for one test (see storetest.PostgresDatabase); without
// UNSPOOF_TEST_PG the test is skipped, or fails in CI.
//
//	export UNSPOOF_TEST_PG=$(scripts/pg-test-cluster.sh start)
//	go test ./postgres/
func newDatabase(tb testing.TB) string {
	tb.Helper()
	dsn := storetest.PostgresDatabase(tb)
	if dsn == "" {
		tb.Skip("UNSPOOF_TEST_PG is not set; export UNSPOOF_TEST_PG=$(scripts/pg-test-cluster.sh start)")
	}
	return dsn
}

// setup opens a store on a new database, closed when the test ends.
func setup(tb testing.TB, opts ...postgres.Option) (*postgres.DB, string) {
	tb.Helper()
	dsn := newDatabase(tb)
	db, err := postgres.Open(context.Background(), dsn, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, dsn
}

// query runs sql on its own connection to dsn and returns the first row's values.
func query(t *testing.T, dsn, sql string, args ...any) []any {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, sql, args...)
	v, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStoretest(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) unspoof.EvidenceStore {
		db, _ := setup(t)
		return db
	})
}

var t0 = time.Date(2022, 3, 1, 9, 30, 0, 0, time.UTC)

func source(kind unspoof.Kind, digest string) *unspoof.Source {
	return &unspoof.Source{Kind: kind, Name: string(kind) + ".csv", SHA256: digest, Size: 1, Region: "GB", IngestedBy: "test"}
}

func gb(e164 string) unspoof.Phone {
	return unspoof.Phone{Raw: "0" + e164[3:], E164: e164, Region: "GB", LineType: "mobile", Valid: true}
}

// loadAccounts loads accounts with the given external ids and returns their ids.
func loadAccounts(t *testing.T, db *postgres.DB, digest string, ext ...string) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	must(t, db.Load(ctx, source(unspoof.KindAccounts, digest), func(l unspoof.Loader) error {
		for i, e := range ext {
			a := &unspoof.Account{ExternalID: e, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}
			if err := l.AddAccount(ctx, a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	}))
	return ids
}

func call(account int64, row int, callee unspoof.Phone, secs int) *unspoof.Call {
	return &unspoof.Call{ExternalID: fmt.Sprint("C", row), AccountID: account, StartedAt: t0.Add(time.Duration(row) * time.Second),
		Duration: time.Duration(secs) * time.Second, Status: "answered", CLI: unspoof.Phone{Raw: "x"}, Callee: callee,
		Ref: unspoof.Ref{SourceRow: int64(row)}}
}

func TestLoadCommits(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	// More accounts than one block of ids, so that the COPY of accounts restarts.
	var ext []string
	for i := range 300 {
		ext = append(ext, fmt.Sprint("U", i))
	}
	ids := loadAccounts(t, db, "a1", ext...)
	got, err := db.AccountIDs(ctx)
	must(t, err)
	if len(got) != len(ext) {
		t.Fatalf("AccountIDs has %d accounts, want %d", len(got), len(ext))
	}
	for i, e := range ext {
		if got[e] != ids[i] || ids[i] == 0 {
			t.Fatalf("account %s: AddAccount gave id %d, AccountIDs %d", e, ids[i], got[e])
		}
	}

	src := source(unspoof.KindCalls, "c1")
	const n = 3000
	must(t, db.Load(ctx, src, func(l unspoof.Loader) error {
		for i := range n {
			if err := l.AddCall(ctx, call(ids[i%len(ids)], i+2, gb(fmt.Sprintf("+447700%06d", i)), i%120)); err != nil {
				return err
			}
		}
		src.RowsRead, src.RowsLoaded = n+1, n
		return nil
	}))
	if src.ID == 0 {
		t.Fatal("Load left src.ID unset")
	}
	found, err := db.FindSourceByDigest(ctx, unspoof.KindCalls, "c1")
	must(t, err)
	if found.ID != src.ID || found.RowsRead != n+1 || found.RowsLoaded != n || !found.IngestedAt.Equal(src.IngestedAt) {
		t.Errorf("source = %+v, want %+v", found, src)
	}
	if v := query(t, dsn, `SELECT count(*), count(DISTINCT source_row), min(source_row), max(source_row) FROM calls WHERE source_id = $1`,
		src.ID); fmt.Sprint(v) != fmt.Sprint([]any{int64(n), int64(n), int64(2), int64(n + 1)}) {
		t.Errorf("calls of the source: count, distinct rows, first, last = %v", v)
	}
}

func TestFailedLoadKeepsNothing(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	ids := loadAccounts(t, db, "a1", "U1")
	boom := errors.New("boom")
	// More calls than one COPY carries (1<<17), so that some reached the server in a finished
	// COPY before fn fails.
	err := db.Load(ctx, source(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error {
		for i := range 140_000 {
			if err := l.AddCall(ctx, call(ids[0], i+2, gb("+447700900001"), 61)); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Load = %v, want fn's error", err)
	}
	if v := query(t, dsn, `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM sources)`); fmt.Sprint(v) != "[0 1]" {
		t.Errorf("after a failed load: calls, sources = %v, want [0 1]", v)
	}
	// The connection went back to the pool in a usable state.
	loadAccounts(t, db, "a2", "U2")
}

func TestCancelDuringCopy(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ids := loadAccounts(t, db, "a1", "U1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := db.Load(ctx, source(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error {
		for i := 0; ; i++ {
			if i == 5000 {
				cancel()
			}
			if err := l.AddCall(ctx, call(ids[0], i+2, gb("+447700900001"), 61)); err != nil {
				return err
			}
		}
	})
	if err == nil {
		t.Fatal("cancelled Load succeeded")
	}
	if v := query(t, dsn, `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM sources)`); fmt.Sprint(v) != "[0 1]" {
		t.Errorf("after a cancelled load: calls, sources = %v, want [0 1]", v)
	}
}

func TestSameDigestConflicts(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	loadAccounts(t, db, "a1", "U1")
	err := db.Load(ctx, source(unspoof.KindAccounts, "a1"), func(l unspoof.Loader) error {
		t.Error("fn ran for a source already loaded")
		return nil
	})
	if unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Fatalf("second load: %v, want ECONFLICT", err)
	}

	// Two loads of one file at once: the second waits for the first's row in sources, then
	// conflicts with it.
	inFn, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var first error
	wg.Go(func() {
		first = db.Load(ctx, source(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error {
			close(inFn)
			<-release
			return nil
		})
	})
	<-inFn
	var second error
	wg.Go(func() {
		second = db.Load(ctx, source(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error { return nil })
	})
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	if first != nil || unspoof.ErrorCode(second) != unspoof.ECONFLICT {
		t.Errorf("concurrent loads of one file: %v and %v, want nil and ECONFLICT", first, second)
	}
}

func TestRowErrors(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	ids := loadAccounts(t, db, "a1", "U1")
	for _, tt := range []struct {
		name string
		code string
		want string // in the message
		fn   func(l unspoof.Loader) error
	}{
		{"duplicate account", unspoof.ECONFLICT, "source row 7", func(l unspoof.Loader) error {
			for i := range 10 {
				if err := l.AddAccount(ctx, &unspoof.Account{ExternalID: fmt.Sprint("V", i%5), Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"account already loaded", unspoof.ECONFLICT, "U1", func(l unspoof.Loader) error {
			return l.AddAccount(ctx, &unspoof.Account{ExternalID: "U1", Ref: unspoof.Ref{SourceRow: 2}})
		}},
		{"unknown account", unspoof.EINVALID, "account_id", func(l unspoof.Loader) error {
			for i := range 2000 {
				acct := ids[0]
				if i == 1500 {
					acct = 999999
				}
				if err := l.AddCall(ctx, call(acct, i+2, gb("+447700900001"), 0)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"NUL in text", unspoof.EINVALID, "source row 4", func(l unspoof.Loader) error {
			for i := range 5 {
				c := call(ids[0], i+2, gb("+447700900001"), 0)
				if i == 2 {
					c.Status = "bad\x00"
				}
				if err := l.AddCall(ctx, c); err != nil {
					return err
				}
			}
			return nil
		}},
		{"duplicate org number", unspoof.ECONFLICT, "+443456000001", func(l unspoof.Loader) error {
			o := &unspoof.Org{ExternalID: "O1", Name: "Bank"}
			for range 2 {
				if err := l.AddOrgNumber(ctx, o, &unspoof.OrgNumber{Phone: unspoof.Phone{Raw: "03456000001", E164: "+443456000001"}}); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		err := db.Load(ctx, source(unspoof.KindCalls, tt.name), tt.fn)
		t.Logf("%s: %v", tt.name, err)
		if unspoof.ErrorCode(err) != tt.code || !strings.Contains(unspoof.ErrorMessage(err), tt.want) {
			t.Errorf("%s: error %q (%s), want code %s and %q in the message", tt.name, err, unspoof.ErrorCode(err), tt.code, tt.want)
		}
	}
	if srcs, err := db.FindSources(ctx); err != nil || len(srcs) != 1 {
		t.Errorf("after failed loads: %d sources (%v), want 1", len(srcs), err)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	st, err := db.Stats(ctx)
	must(t, err)
	if fmt.Sprintf("%+v", *st) != fmt.Sprintf("%+v", unspoof.Stats{}) || st.TopOrgs != nil {
		t.Errorf("empty store: %+v", *st)
	}

	// 12 organisations, org i with one number called i times (and org 11 with a second number,
	// called once more, to tie with org 12); plus calls from numbers of no organisation.
	must(t, db.Load(ctx, source(unspoof.KindOrgs, "o1"), func(l unspoof.Loader) error {
		for i := 1; i <= 12; i++ {
			o := &unspoof.Org{ExternalID: fmt.Sprint("O", i), Name: fmt.Sprintf("Org %02d", i)}
			if err := l.AddOrgNumber(ctx, o, &unspoof.OrgNumber{Phone: gb(fmt.Sprintf("+44300000%04d", i))}); err != nil {
				return err
			}
			if i == 11 {
				if err := l.AddOrgNumber(ctx, o, &unspoof.OrgNumber{Phone: gb("+443009999999")}); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	ids := loadAccounts(t, db, "a1", "U1", "U2", "U3")
	must(t, db.Load(ctx, source(unspoof.KindPayments, "p1"), func(l unspoof.Loader) error {
		for _, p := range []struct {
			acct  int64
			pence int64
		}{{ids[0], 100}, {ids[0], 200}, {ids[2], 5000}} {
			if err := l.AddPayment(ctx, &unspoof.Payment{AccountID: p.acct, PaidAt: t0, AmountMinor: p.pence, Currency: "GBP"}); err != nil {
				return err
			}
		}
		return nil
	}))
	row := 0
	must(t, db.Load(ctx, source(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error {
		add := func(cli string, callee unspoof.Phone, secs int) error {
			row++
			c := call(ids[row%3], row, callee, secs)
			c.CLI = unspoof.Phone{Raw: cli, E164: cli}
			return l.AddCall(ctx, c)
		}
		for i := 1; i <= 12; i++ {
			for range i {
				if err := add(fmt.Sprintf("+44300000%04d", i), gb("+447700900001"), 30); err != nil {
					return err
				}
			}
		}
		if err := add("+443009999999", gb("+447700900002"), 61); err != nil { // org 11: 12 calls
			return err
		}
		us := unspoof.Phone{Raw: "2025550143", E164: "+12025550143", Region: "US"}
		for _, c := range []struct {
			cli    string
			callee unspoof.Phone
			secs   int
		}{
			{"", us, 100}, {"+15555550100", us, 10}, {"", gb("+447700900003"), 60}, {"", gb("+447700900002"), 90},
		} {
			if err := add(c.cli, c.callee, c.secs); err != nil {
				return err
			}
		}
		return nil
	}))
	st, err = db.Stats(ctx)
	must(t, err)
	want := unspoof.Stats{
		Sources: 4, Accounts: 3, Payments: 3, PaidMinor: 5300, PayingAccounts: 2,
		Calls: 78 + 1 + 4, CallsOver60s: 3, DistinctCallees: 4, UKCalls: 78 + 1 + 2, UKCallees: 3,
		UKCallsOver60s: 2, UKCalleesOver60: 1, FirstCall: t0.Add(time.Second), LastCall: t0.Add(83 * time.Second),
		TopOrgs: []unspoof.OrgCount{{Org: "Org 11", Calls: 12}, {Org: "Org 12", Calls: 12}, {Org: "Org 10", Calls: 10},
			{Org: "Org 09", Calls: 9}, {Org: "Org 08", Calls: 8}, {Org: "Org 07", Calls: 7}, {Org: "Org 06", Calls: 6},
			{Org: "Org 05", Calls: 5}, {Org: "Org 04", Calls: 4}, {Org: "Org 03", Calls: 3}},
	}
	if got := fmt.Sprintf("%+v", *st); got != fmt.Sprintf("%+v", want) {
		t.Errorf("Stats:\n got %s\nwant %+v", got, want)
	}
}

// TestProvenance checks what every table keeps: its source and line, and the values as given.
func TestProvenance(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	orgs := source(unspoof.KindOrgs, "o1")
	org := &unspoof.Org{ExternalID: "O1", Name: "Bank", Sector: "bank", Country: "GB"}
	num := &unspoof.OrgNumber{Phone: gb("+443456000001"), Ref: unspoof.Ref{SourceRow: 5}}
	must(t, db.Load(ctx, orgs, func(l unspoof.Loader) error { return l.AddOrgNumber(ctx, org, num) }))
	if org.ID == 0 || num.OrgID != org.ID || num.SourceID != orgs.ID {
		t.Errorf("AddOrgNumber left org %+v, number %+v", org, num)
	}
	// The same organisation in a later file is the same row.
	org2 := &unspoof.Org{ExternalID: "O1", Name: "Renamed"}
	must(t, db.Load(ctx, source(unspoof.KindOrgs, "o2"), func(l unspoof.Loader) error {
		return l.AddOrgNumber(ctx, org2, &unspoof.OrgNumber{Phone: gb("+443456000002")})
	}))
	if org2.ID != org.ID {
		t.Errorf("org O1 got id %d in the second file, %d in the first", org2.ID, org.ID)
	}

	accts := source(unspoof.KindAccounts, "a1")
	a := &unspoof.Account{ExternalID: "U1", Username: "u", Email: "u@example.com", Country: "GB", SignupAt: t0,
		IPs: []string{"192.0.2.1", "198.51.100.7"}, Ref: unspoof.Ref{SourceRow: 7}}
	b := &unspoof.Account{ExternalID: "U2", Ref: unspoof.Ref{SourceRow: 8}}
	must(t, db.Load(ctx, accts, func(l unspoof.Loader) error {
		if err := l.AddAccount(ctx, a); err != nil {
			return err
		}
		return l.AddAccount(ctx, b)
	}))
	// One source may hold rows of several tables, interleaved: each switch ends a COPY.
	mixed := source(unspoof.KindCalls, "m1")
	pay := &unspoof.Payment{ExternalID: "P1", AccountID: a.ID, PaidAt: t0, AmountMinor: 15000, Currency: "GBP", Method: "BTC", Ref: unspoof.Ref{SourceRow: 3}}
	c := call(a.ID, 4, gb("+447700900001"), 61)
	comp := &unspoof.Complaint{Caller: unspoof.Phone{Raw: "2025550143", E164: "+12025550143", Region: "US", LineType: "fixed_line", Valid: true},
		CalledAt: t0, City: "Springfield", State: "IL", AreaCode: "217", Subject: "Banking", Robocall: true, Ref: unspoof.Ref{SourceRow: 5}}
	must(t, db.Load(ctx, mixed, func(l unspoof.Loader) error {
		for range 2 {
			if err := l.AddPayment(ctx, pay); err != nil {
				return err
			}
			if err := l.AddCall(ctx, c); err != nil {
				return err
			}
			if err := l.AddComplaint(ctx, comp); err != nil {
				return err
			}
		}
		return nil
	}))
	if pay.SourceID != mixed.ID || c.SourceID != mixed.ID || comp.SourceID != mixed.ID || a.SourceID != accts.ID {
		t.Errorf("SourceID not set: payment %d, call %d, complaint %d, account %d", pay.SourceID, c.SourceID, comp.SourceID, a.SourceID)
	}

	for _, tt := range []struct {
		sql  string
		want string
	}{
		{`SELECT source_id, source_row, org_id, raw, e164 FROM org_numbers WHERE e164 = '+443456000001'`,
			fmt.Sprint([]any{orgs.ID, 5, org.ID, "03456000001", "+443456000001"})},
		{`SELECT name, sector, country FROM orgs`, "[Bank bank GB]"},
		{`SELECT source_id, source_row, id, username, email, country, signup_at, ips FROM accounts WHERE external_id = 'U1'`,
			fmt.Sprint([]any{accts.ID, 7, a.ID, "u", "u@example.com", "GB", t0, []any{"192.0.2.1", "198.51.100.7"}})},
		{`SELECT signup_at IS NULL, ips FROM accounts WHERE external_id = 'U2'`, "[true []]"},
		{`SELECT count(*), min(source_id), min(source_row), min(external_id), min(account_id), min(paid_at), min(amount_minor), min(currency), min(method) FROM payments`,
			fmt.Sprint([]any{2, mixed.ID, 3, "P1", a.ID, t0, 15000, "GBP", "BTC"})},
		{`SELECT count(*), min(source_id), min(source_row), bool_and(cli_e164 IS NULL), min(cli_raw), min(duration_s), min(callee_raw), min(callee_e164), min(callee_region), min(callee_type), bool_and(callee_valid), min(started_at) FROM calls`,
			fmt.Sprint([]any{2, mixed.ID, 4, true, "x", 61, "07700900001", "+447700900001", "GB", "mobile", true, t0.Add(4 * time.Second)})},
		{`SELECT count(*), min(source_id), min(source_row), min(caller_raw), min(caller_e164), min(caller_region), min(caller_type), bool_and(caller_valid), min(called_at), bool_and(created_at IS NULL), min(city), min(state), min(area_code), min(subject), bool_and(robocall) FROM complaints`,
			fmt.Sprint([]any{2, mixed.ID, 5, "2025550143", "+12025550143", "US", "fixed_line", true, t0, true, "Springfield", "IL", "217", "Banking", true})},
	} {
		v := query(t, dsn, tt.sql)
		for i, x := range v {
			if tm, ok := x.(time.Time); ok {
				v[i] = tm.UTC()
			}
		}
		if got := fmt.Sprint(v); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.sql, got, tt.want)
		}
	}
}

func TestLoaderAfterLoad(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := context.Background()
	var kept unspoof.Loader
	must(t, db.Load(ctx, source(unspoof.KindAccounts, "a1"), func(l unspoof.Loader) error { kept = l; return nil }))
	if err := kept.AddAccount(ctx, &unspoof.Account{ExternalID: "U1"}); err == nil {
		t.Error("AddAccount after Load returned succeeded")
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t)
	ctx := context.Background()
	// Several processes opening a new database at once apply each migration once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(ctx, dsn)
			if err == nil {
				err = db.Migrate(ctx)
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	files, err := filepath.Glob("migrations/*.sql")
	must(t, err)
	if v := query(t, dsn, `SELECT count(*), min(version), min(name) FROM schema_migrations`); fmt.Sprint(v) != fmt.Sprintf("[%d 1 0001_evidence.sql]", len(files)) {
		t.Errorf("schema_migrations: %v, want each of the %d migrations once", v, len(files))
	}

	// WithMigrate(false) leaves an empty database alone.
	bare := newDatabase(t)
	db, err := postgres.Open(ctx, bare, postgres.WithMigrate(false))
	must(t, err)
	db.Close()
	if v := query(t, bare, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); fmt.Sprint(v) != "[0]" {
		t.Errorf("WithMigrate(false) created %v tables", v)
	}

	if _, err := postgres.Open(ctx, "postgres://%zz"); unspoof.ErrorCode(err) != unspoof.EINVALID {
		t.Errorf("Open(bad DSN) = %v, want EINVALID", err)
	}
}

var (
	loadCalls  = flag.Int("loadcalls", 200_000, "calls per Load in BenchmarkLoadCalls")
	statsCalls = flag.Int("statscalls", 200_000, "calls loaded before BenchmarkStats")
)

// BenchmarkLoadCalls loads -loadcalls synthetic calls per iteration, each iteration a new
// source, and reports rows/s. For the 10M-row figure:
//
//	go test ./postgres/ -run '^$' -bench LoadCalls -benchtime 1x -loadcalls 10000000
func BenchmarkLoadCalls(b *testing.B) {
	db, _ := setup(b)
	ids := loadSyntheticAccounts(b, db)
	n := *loadCalls
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		loadSyntheticCalls(b, db, ids, fmt.Sprint("calls", i), n)
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkStats times Stats over -statscalls synthetic calls.
//
//	go test ./postgres/ -run '^$' -bench Stats -benchtime 3x -statscalls 10000000
func BenchmarkStats(b *testing.B) {
	db, _ := setup(b)
	loadSyntheticCalls(b, db, loadSyntheticAccounts(b, db), "calls", *statsCalls)
	ctx := context.Background()
	for b.Loop() {
		if _, err := db.Stats(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func loadSyntheticAccounts(b *testing.B, db *postgres.DB) []int64 {
	b.Helper()
	ctx := context.Background()
	var ids []int64
	if err := db.Load(ctx, source(unspoof.KindAccounts, "accounts"), func(l unspoof.Loader) error {
		for i := range 1000 {
			a := &unspoof.Account{ExternalID: fmt.Sprint("U", i)}
			if err := l.AddAccount(ctx, a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return ids
}

func loadSyntheticCalls(b *testing.B, db *postgres.DB, accounts []int64, digest string, n int) {
	b.Helper()
	ctx := context.Background()
	rng := uint64(len(digest)) + 1
	src := source(unspoof.KindCalls, digest)
	src.Size = int64(n) * 100 // as a CSV file of these calls would be, so Load judges it as it would the file
	if err := db.Load(ctx, src, func(l unspoof.Loader) error {
		var c unspoof.Call
		for row := range n {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			syntheticCall(&c, accounts, rng, row)
			if err := l.AddCall(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// syntheticCall fills c with a call of the shape of the iSpoof data: an organisation's number
// presented, 3M possible callees, 35% in GB and the rest in the US.
func syntheticCall(c *unspoof.Call, accounts []int64, r uint64, row int) {
	*c = unspoof.Call{
		ExternalID: fmt.Sprint(row),
		AccountID:  accounts[r%uint64(len(accounts))],
		StartedAt:  t0.Add(time.Duration(row) * 3 * time.Second),
		Duration:   time.Duration(r>>32%300) * time.Second,
		Status:     "answered",
		CLI:        unspoof.Phone{Raw: fmt.Sprintf("0300 %03d %04d", r>>8%200, r>>16%10), E164: fmt.Sprintf("+44300%03d%04d", r>>8%200, r>>16%10)},
		Ref:        unspoof.Ref{SourceRow: int64(row + 2)},
	}
	callee := r >> 20 % 3_000_000
	if r>>40%100 < 35 {
		c.Callee = unspoof.Phone{Raw: fmt.Sprintf("07700 %06d", callee), E164: fmt.Sprintf("+447700%06d", callee), Region: "GB", LineType: "mobile", Valid: true}
	} else {
		c.Callee = unspoof.Phone{Raw: fmt.Sprintf("(202) 5%06d", callee), E164: fmt.Sprintf("+12025%06d", callee), Region: "US", LineType: "fixed_line_or_mobile", Valid: true}
	}
}

// bigSource is a source whose file is large enough for Load to defer the upkeep of its
// table's indexes and foreign keys to the end of the load.
func bigSource(kind unspoof.Kind, digest string) *unspoof.Source {
	s := source(kind, digest)
	s.Size = 1 << 30
	return s
}

// schemaOf lists the indexes and constraints of calls and complaints as the catalog has them,
// each with its oid, which a rebuild changes.
func schemaOf(t *testing.T, dsn string) string {
	t.Helper()
	return query(t, dsn, `
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	SELECT format('%s %s valid=%s', i.indexrelid, pg_get_indexdef(i.indexrelid), i.indisvalid) AS x
	FROM pg_index i WHERE i.indrelid IN ('calls'::regclass, 'complaints'::regclass)
	UNION ALL
	SELECT format('%s %s %s %s validated=%s', k.oid, k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid), k.convalidated)
	FROM pg_constraint k WHERE k.conrelid IN ('calls'::regclass, 'complaints'::regclass)
) s`)[0].(string)
}

// withoutOIDs drops the leading oid of each line of a schemaOf listing.
func withoutOIDs(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		_, lines[i], _ = strings.Cut(l, " ")
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestBulkLoad(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	ids := loadAccounts(t, db, "a1", "U1", "U2")
	before := schemaOf(t, dsn)
	if !strings.Contains(before, "calls_callee") || !strings.Contains(before, "calls_account_id_fkey") ||
		!strings.Contains(before, "complaints_caller") || !strings.Contains(before, "complaints_source_id_fkey") {
		t.Fatalf("schema lacks what the test checks:\n%s", before)
	}

	src := bigSource(unspoof.KindCalls, "c1")
	const n = 3000
	must(t, db.Load(ctx, src, func(l unspoof.Loader) error {
		for i := range n {
			if err := l.AddCall(ctx, call(ids[i%2], i+2, gb(fmt.Sprintf("+447700%06d", i%100)), i%120)); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, db.Load(ctx, bigSource(unspoof.KindComplaints, "x1"), func(l unspoof.Loader) error {
		for i := range n {
			if err := l.AddComplaint(ctx, &unspoof.Complaint{Caller: gb("+447700900001"), Ref: unspoof.Ref{SourceRow: int64(i + 2)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	after := schemaOf(t, dsn)
	if withoutOIDs(after) != withoutOIDs(before) {
		t.Errorf("indexes and constraints after a bulk load:\n%s\nwant\n%s", after, before)
	}
	for _, name := range []string{"calls_callee", "calls_account_id_fkey", "complaints_caller", "complaints_source_id_fkey"} {
		if oid := func(s string) string {
			for l := range strings.Lines(s) {
				if strings.Contains(l, " "+name+" ") {
					return strings.Fields(l)[0]
				}
			}
			return ""
		}; oid(after) == oid(before) {
			t.Errorf("%s was not rebuilt by a bulk load", name)
		}
	}
	callee := "+447700000007"
	calls, total, err := db.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &callee, AccountID: &ids[1]})
	must(t, err)
	if total != n/100 || len(calls) != n/100 || calls[0].SourceID != src.ID || calls[0].SourceRow != 9 {
		t.Errorf("FindCalls after a bulk load: %d calls (total %d), first %+v", len(calls), total, calls[0])
	}
	if v := query(t, dsn, `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM complaints)`); fmt.Sprint(v) != "[3000 3000]" {
		t.Errorf("calls, complaints = %v", v)
	}

	// A second file no larger than half the table is loaded row by row: nothing is rebuilt.
	small := source(unspoof.KindCalls, "c2")
	small.Size = 40 * n / 2
	must(t, db.Load(ctx, small, func(l unspoof.Loader) error {
		return l.AddCall(ctx, call(ids[0], 2, gb("+447700900001"), 1))
	}))
	if got := schemaOf(t, dsn); got != after {
		t.Errorf("a small load changed the schema:\n%s\nwant\n%s", got, after)
	}
}

// TestBulkLoadFailureKeepsSchema checks that a bulk load that fails, at any stage, leaves every
// index and constraint exactly as it was, and none of its rows.
func TestBulkLoadFailureKeepsSchema(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	ids := loadAccounts(t, db, "a1", "U1")
	before := schemaOf(t, dsn)
	boom := errors.New("boom")
	addCalls := func(l unspoof.Loader, ctx context.Context, n int, bad int) error {
		for i := range n {
			acct := ids[0]
			if i == bad {
				acct = 999999
			}
			if err := l.AddCall(ctx, call(acct, i+2, gb("+447700900001"), 61)); err != nil {
				return err
			}
		}
		return nil
	}
	cancelled, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		fn   func(l unspoof.Loader) error
		code string // of the error, or "" for boom
		want string // in its message
	}{
		{"fn fails", ctx, func(l unspoof.Loader) error {
			if err := addCalls(l, ctx, 140_000, -1); err != nil {
				return err
			}
			return boom
		}, "", ""},
		{"cancelled", cancelled, func(l unspoof.Loader) error {
			if err := addCalls(l, cancelled, 5000, -1); err != nil {
				return err
			}
			cancel()
			return nil
		}, "", ""},
		{"unknown account", ctx, func(l unspoof.Loader) error {
			return addCalls(l, ctx, 200_000, 150_000)
		}, unspoof.EINVALID, "source row 150002"},
		{"NUL in text", ctx, func(l unspoof.Loader) error {
			for i := range 5 {
				c := call(ids[0], i+2, gb("+447700900001"), 0)
				if i == 2 {
					c.Status = "bad\x00"
				}
				if err := l.AddCall(ctx, c); err != nil {
					return err
				}
			}
			return nil
		}, unspoof.EINVALID, "source row 4"},
	} {
		err := db.Load(tt.ctx, bigSource(unspoof.KindCalls, tt.name), tt.fn)
		t.Logf("%s: %v", tt.name, err)
		switch {
		case err == nil:
			t.Errorf("%s: Load succeeded", tt.name)
		case tt.code == "" && tt.name == "fn fails" && !errors.Is(err, boom):
			t.Errorf("%s: Load = %v, want fn's error", tt.name, err)
		case tt.code != "" && (unspoof.ErrorCode(err) != tt.code || !strings.Contains(unspoof.ErrorMessage(err), tt.want)):
			t.Errorf("%s: error %q (%s), want code %s and %q in the message", tt.name, err, unspoof.ErrorCode(err), tt.code, tt.want)
		}
		if got := schemaOf(t, dsn); got != before {
			t.Errorf("%s: indexes and constraints after the failed load:\n%s\nwant\n%s", tt.name, got, before)
		}
		if v := query(t, dsn, `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM sources)`); fmt.Sprint(v) != "[0 1]" {
			t.Errorf("%s: calls, sources = %v, want [0 1]", tt.name, v)
		}
	}
	if unspoof.ErrorCode(db.Load(ctx, bigSource(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error {
		return addCalls(l, ctx, 10, 5)
	})) != unspoof.EINVALID {
		t.Error("a bulk load with an unknown account did not fail with EINVALID")
	}
}

// TestBulkLoadsQueue runs two bulk loads and a small one at once: they take their locks in
// the same order, so they wait for each other rather than deadlock.
func TestBulkLoadsQueue(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	ids := loadAccounts(t, db, "a1", "U1")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			src := bigSource(unspoof.KindCalls, fmt.Sprint("c", i))
			if i == 2 {
				src = source(unspoof.KindCalls, "small")
			}
			errs[i] = db.Load(ctx, src, func(l unspoof.Loader) error {
				for j := range 20_000 {
					if err := l.AddCall(ctx, call(ids[0], j+2, gb("+447700900001"), 61)); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	if v := query(t, dsn, `SELECT count(*) FROM calls`); fmt.Sprint(v) != "[60000]" {
		t.Errorf("calls = %v, want [60000]", v)
	}
}

// TestBulkLoadNotOwner loads a large file as a role that may write the tables but not alter
// them: the load goes row by row and leaves the schema alone.
func TestBulkLoadNotOwner(t *testing.T) {
	t.Parallel()
	_, dsn := setup(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "postgres" {
		t.Skipf("UNSPOOF_TEST_PG is not a postgres:// URL")
	}
	role := "unspoof_loader_" + strings.ToLower(rand.Text()[:12])
	ctx := context.Background()
	admin := func(sql string) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin(`CREATE ROLE ` + role + ` LOGIN`)
	t.Cleanup(func() { admin(`DROP OWNED BY ` + role + `; DROP ROLE ` + role) })
	admin(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ` + role +
		`; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ` + role)
	u.User = url.User(role)
	db, err := postgres.Open(ctx, u.String(), postgres.WithMigrate(false))
	must(t, err)
	defer db.Close()

	ids := loadAccounts(t, db, "a1", "U1")
	before := schemaOf(t, dsn)
	must(t, db.Load(ctx, bigSource(unspoof.KindCalls, "c1"), func(l unspoof.Loader) error {
		for i := range 1000 {
			if err := l.AddCall(ctx, call(ids[0], i+2, gb("+447700900001"), 61)); err != nil {
				return err
			}
		}
		return nil
	}))
	if got := schemaOf(t, dsn); got != before {
		t.Errorf("a load by a role that does not own calls changed its schema:\n%s\nwant\n%s", got, before)
	}
	if v := query(t, dsn, `SELECT count(*) FROM calls`); fmt.Sprint(v) != "[1000]" {
		t.Errorf("calls = %v, want [1000]", v)
	}
}
