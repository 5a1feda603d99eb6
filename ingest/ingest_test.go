package ingest_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
	"github.com/unspoof/unspoof/sqlite"
)

const ftcFile = "../../shared/data/ftc-dnc-complaints-2021-07-08.csv"

func setup(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "unspoof.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readQuarantine returns the quarantine file's rows (header checked and dropped).
func readQuarantine(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("quarantine %s: %v", path, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "file,line,field,reason,row" {
		t.Fatalf("quarantine header = %v", rows[:1])
	}
	return rows[1:]
}

// TestFTCComplaints loads a real public file and checks its counts against a count made
// independently: every row read straight with encoding/csv and its number judged by
// nyaruka/phonenumbers itself.
func TestFTCComplaints(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(ftcFile); err != nil {
		t.Fatalf("shared data missing: %v", err)
	}
	db, dir := setup(t)
	q := filepath.Join(dir, "ftc.quarantine.csv")
	res, err := ingest.File(context.Background(), db, ftcFile, ingest.Config{
		Kind: unspoof.KindComplaints, Mapping: ingest.Mappings["ftc-dnc"], Region: "US", Quarantine: q, By: "test",
	})
	if err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(ftcFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows, empty, impossible int64
	for _, rec := range all[1:] {
		rows++
		num := strings.TrimSpace(rec[0])
		if num == "" {
			empty++
			continue
		}
		pn, err := phonenumbers.Parse(num, "US")
		if err != nil || phonenumbers.IsPossibleNumberWithReason(pn) != phonenumbers.IS_POSSIBLE {
			impossible++
		}
	}
	if rows != 14034 || empty != 669 {
		t.Fatalf("independent count: %d rows, %d without a number; the data's README says 14,034 and 669", rows, empty)
	}
	s := res.Source
	if s.RowsRead != rows || s.RowsQuarantined != empty+impossible || s.RowsLoaded != rows-empty-impossible {
		t.Errorf("ingest: read %d, loaded %d, quarantined %d; independent count: %d rows, %d bad (%d empty, %d impossible)",
			s.RowsRead, s.RowsLoaded, s.RowsQuarantined, rows, empty+impossible, empty, impossible)
	}
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Complaints != s.RowsLoaded {
		t.Errorf("store holds %d complaints, ingest says %d loaded", st.Complaints, s.RowsLoaded)
	}
	bad := readQuarantine(t, q)
	if int64(len(bad)) != empty+impossible {
		t.Fatalf("quarantine has %d rows, want %d", len(bad), empty+impossible)
	}
	// Each quarantined row names the real line of the file it came from.
	lines := fileLines(t, ftcFile)
	var emptyReasons int64
	for _, b := range bad {
		n, err := strconv.Atoi(b[1])
		if err != nil || n < 2 || n > len(lines) {
			t.Fatalf("quarantine row %v: bad line number", b)
		}
		if lines[n-1] != b[4] {
			t.Fatalf("quarantine says line %d is %q; the file has %q", n, b[4], lines[n-1])
		}
		if b[0] != ftcFile || b[2] != "number" {
			t.Errorf("quarantine row %v: want file %s, field number", b, ftcFile)
		}
		if strings.HasPrefix(b[3], "empty") {
			emptyReasons++
		}
	}
	if emptyReasons != empty {
		t.Errorf("%d rows quarantined as empty, want %d", emptyReasons, empty)
	}
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out
}

const accountsCSV = `account_id,username,email,country,signup_at,ips
U1,ann,ann@example.com,gb,2022-01-02T10:00:00Z,192.0.2.1;192.0.2.2
U2,bob,bob@example.com,US,2022-01-03 11:00:00,
U3,cat,,GB,,
U1,dup,,GB,,
,noid,,GB,,
U4,dan,,GB,yesterday,
`

const callsCSV = `call_id,account_id,started_at,duration_s,cli,callee,status
C1,U1,2022-03-01T09:00:00Z,75,0345 600 0001,07400 123456,answered
C2,U1,2022-03-01T09:05:00Z,0,03456000001,+44 7400 123456,no-answer
C3,U2,2022-03-01T10:00:00Z,12,+1 202 456 1111,001 212 555 1234,answered
C4,U2,not a time,12,x,07911 123457,answered
C5,U9,2022-03-01T10:00:00Z,12,x,07911 123458,answered
C6,U3,2022-03-01T10:00:00Z,-5,x,07911 123459,answered
C7,U3,2022-03-01T10:00:00Z,5,x,,answered
C8,U3,2022-03-01T10:00:00Z,5,x,0791,answered
C9,U3,2022-03-01T10:00:00Z,5,x,07911 123460
C10,U3,2022-03-01T10:00:00Z,5,HSBC,07911 123461,answered
`

// TestCallsAndQuarantine checks every kind of bad call row is quarantined with its line, field
// and reason, and the good ones load with their numbers normalised.
func TestCallsAndQuarantine(t *testing.T) {
	t.Parallel()
	db, dir := setup(t)
	ctx := context.Background()
	res, err := ingest.File(ctx, db, write(t, dir, "accounts.csv", accountsCSV), ingest.Config{Kind: unspoof.KindAccounts, MaxBad: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Source; s.RowsRead != 6 || s.RowsLoaded != 3 || s.RowsQuarantined != 3 {
		t.Fatalf("accounts: %+v", s)
	}
	calls := write(t, dir, "calls.csv", callsCSV)
	res, err = ingest.File(ctx, db, calls, ingest.Config{Kind: unspoof.KindCalls, MaxBad: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Source; s.RowsRead != 10 || s.RowsLoaded != 4 || s.RowsQuarantined != 6 || s.QuarantinePath != calls+".quarantine.csv" {
		t.Fatalf("calls: %+v", s)
	}
	want := map[string]string{ // line → field: reason prefix
		"5":  "started_at: unreadable time",
		"6":  "account_id: unknown account",
		"7":  "duration_s: not a duration",
		"8":  "callee: empty",
		"9":  "callee: not a possible number",
		"10": ": has 6 fields, the header has 7",
	}
	bad := readQuarantine(t, calls+".quarantine.csv")
	if len(bad) != len(want) {
		t.Fatalf("quarantine: %v", bad)
	}
	for _, b := range bad {
		if w := want[b[1]]; !strings.HasPrefix(b[2]+": "+b[3], w) {
			t.Errorf("line %s quarantined as %q, want %q", b[1], b[2]+": "+b[3], w)
		}
	}
	callee := "+447400123456"
	got, n, err := db.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &callee})
	if err != nil || n != 2 {
		t.Fatalf("calls to %s: %d, %v", callee, n, err)
	}
	if c := got[0]; c.CLI.E164 != "+443456000001" || c.Callee.LineType != "mobile" || !c.Callee.Valid || c.Callee.Region != "GB" || c.SourceRow != 2 {
		t.Errorf("first call = %+v", c)
	}
	us := "+12125551234"
	got, _, _ = db.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &us})
	if len(got) != 1 || got[0].Callee.Region != "US" || got[0].CLI.E164 != "+12024561111" {
		t.Errorf("call to the US = %+v", got)
	}
	odd := "+447911123461"
	got, _, _ = db.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &odd})
	if len(got) != 1 || got[0].CLI.Raw != "HSBC" || got[0].CLI.E164 != "" {
		t.Errorf("call with a text CLI = %+v", got)
	}

	// The same file again is a no-op that says so.
	res, err = ingest.File(ctx, db, calls, ingest.Config{Kind: unspoof.KindCalls, MaxBad: 1})
	if err != nil || !res.Already {
		t.Fatalf("second ingest: already=%v err=%v", res != nil && res.Already, err)
	}
	st, _ := db.Stats(ctx)
	if st.Calls != 4 {
		t.Errorf("%d calls after ingesting the file twice, want 4", st.Calls)
	}
}

// TestMaxBadLeavesStoreUnchanged: above --max-bad nothing of the file is kept.
func TestMaxBadLeavesStoreUnchanged(t *testing.T) {
	t.Parallel()
	db, dir := setup(t)
	ctx := context.Background()
	if _, err := ingest.File(ctx, db, write(t, dir, "accounts.csv", accountsCSV), ingest.Config{Kind: unspoof.KindAccounts, MaxBad: 1}); err != nil {
		t.Fatal(err)
	}
	calls := write(t, dir, "calls.csv", callsCSV)
	res, err := ingest.File(ctx, db, calls, ingest.Config{Kind: unspoof.KindCalls, MaxBad: 0.5})
	if !errors.Is(err, ingest.ErrTooManyBad) || !res.Aborted {
		t.Fatalf("6 bad rows of 10 with max-bad 0.5: err %v", err)
	}
	st, _ := db.Stats(ctx)
	if st.Calls != 0 || st.Sources != 1 {
		t.Errorf("after an abandoned load: %d calls, %d sources; want 0 and 1", st.Calls, st.Sources)
	}
	if len(readQuarantine(t, calls+".quarantine.csv")) != 6 {
		t.Error("the quarantine of an abandoned load must still say why")
	}
	// Within the limit, the same file loads.
	if _, err := ingest.File(ctx, db, calls, ingest.Config{Kind: unspoof.KindCalls, MaxBad: 0.6}); err != nil {
		t.Fatal(err)
	}
}

// TestFormats: the same calls as gzip, semicolon CSV with other column names, and JSON Lines.
func TestFormats(t *testing.T) {
	t.Parallel()
	db, dir := setup(t)
	ctx := context.Background()
	if _, err := ingest.File(ctx, db, write(t, dir, "accounts.csv", accountsCSV), ingest.Config{Kind: unspoof.KindAccounts, MaxBad: 1}); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "calls.data") // no .gz name: detected by content
	f, _ := os.Create(gz)
	zw := gzip.NewWriter(f)
	zw.Write([]byte("call_id,account_id,started_at,duration_s,cli,callee,status\nG1,U1,2022-03-01T09:00:00Z,75,x,07911 200001,answered\n"))
	zw.Close()
	f.Close()
	semi := write(t, dir, "semi.csv", "ID;Account;When;Secs;Shown;Dialled\nS1;U1;2022-03-01 09:00:00;61;x;+44 7911 200002\n")
	jsonl := write(t, dir, "calls.jsonl", `{"call_id":"J1","account_id":"U2","started_at":"2022-03-01T09:00:00Z","duration_s":3,"callee":"+447911200003"}`+"\n\n"+
		`{"call_id":"J2","account_id":"U2","started_at":"2022-03-01T09:00:00Z","duration_s":3}`+"\n"+`not json`+"\n")
	for _, tc := range []struct {
		path     string
		mapping  map[string]string
		loaded   int64
		badLines string
	}{
		{gz, nil, 1, ""},
		{semi, map[string]string{"ID": "call_id", "Account": "account_id", "When": "started_at", "Secs": "duration_s", "Shown": "cli", "Dialled": "callee"}, 1, ""},
		{jsonl, nil, 1, "3 4"},
	} {
		res, err := ingest.File(ctx, db, tc.path, ingest.Config{Kind: unspoof.KindCalls, Mapping: tc.mapping, MaxBad: 1})
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if res.Source.RowsLoaded != tc.loaded {
			t.Errorf("%s: loaded %d, want %d (%v)", tc.path, res.Source.RowsLoaded, tc.loaded, res.Reasons)
		}
		if tc.badLines != "" {
			var lines []string
			for _, b := range readQuarantine(t, res.Source.QuarantinePath) {
				lines = append(lines, b[1])
			}
			if strings.Join(lines, " ") != tc.badLines {
				t.Errorf("%s: bad lines %v, want %s", tc.path, lines, tc.badLines)
			}
		}
	}
	st, _ := db.Stats(ctx)
	if st.Calls != 3 || st.CallsOver60s != 2 {
		t.Errorf("stats after three formats: %d calls, %d over 60 s; want 3 and 2", st.Calls, st.CallsOver60s)
	}
}

func TestMissingColumnNamesFileAndField(t *testing.T) {
	t.Parallel()
	db, dir := setup(t)
	p := write(t, dir, "calls.csv", "id,when\n1,2\n")
	_, err := ingest.File(context.Background(), db, p, ingest.Config{Kind: unspoof.KindCalls})
	if unspoof.ErrorCode(err) != unspoof.EINVALID || !strings.Contains(err.Error(), p+": line 1") ||
		!strings.Contains(err.Error(), "account_id, started_at, callee") {
		t.Errorf("error = %v", err)
	}
}

// TestLoadMappingCopies: adding to a loaded built-in mapping (--mapping ftc-dnc with --map)
// leaves the built-in one as it was.
func TestLoadMappingCopies(t *testing.T) {
	m, err := ingest.LoadMapping("ftc-dnc")
	if err != nil {
		t.Fatal(err)
	}
	m["Extra_Column"] = "subject"
	if _, changed := ingest.Mappings["ftc-dnc"]["Extra_Column"]; changed {
		t.Error("adding to a loaded mapping changed the built-in one")
	}
}
