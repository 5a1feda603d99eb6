package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/simulate"
	"github.com/unspoof/unspoof/storetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unspoof-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "unspoof")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build unspoof: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the real binary and returns its stdout; it fails the test on a non-zero exit unless
// wantExit says otherwise.
func run(t *testing.T, db string, wantExit int, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--db", db}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantExit {
		t.Fatalf("unspoof %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantExit, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// engines returns a fresh store location per engine: an SQLite file, and a new PostgreSQL
// database when UNSPOOF_TEST_PG is set (required in CI).
func engines(t *testing.T) map[string]string {
	dbs := map[string]string{"sqlite": filepath.Join(t.TempDir(), "unspoof.db")}
	if dsn := storetest.PostgresDatabase(t); dsn != "" {
		dbs["postgres"] = dsn
	} else {
		t.Log("UNSPOOF_TEST_PG not set: PostgreSQL not tested")
	}
	return dbs
}

// TestSimulateIngestStats runs the evidence workflow as an analyst would, on each engine, and
// checks the store's figures against the simulator's own record of what it wrote.
func TestSimulateIngestStats(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "case")
	run(t, filepath.Join(t.TempDir(), "unused.db"), 0, "simulate", "--preset", "ispoof", "--scale", "0.002", "--seed", "3",
		"--out", data, "--bad-rows", "0.01", "--gzip")
	m, err := simulate.ReadManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
				fi := m.File(kind)
				if fi == nil {
					t.Fatalf("manifest has no %s file", kind)
				}
				path := filepath.Join(data, fi.Name)
				q := filepath.Join(t.TempDir(), kind+".quarantine.csv")
				out, _ := run(t, db, 0, "ingest", "--kind", kind, "--quarantine", q, path)
				want := fmt.Sprintf("%s rows read, %s loaded, %s quarantined", num(fi.Rows+fi.BadRows), num(fi.Rows), num(fi.BadRows))
				if !strings.Contains(out, want) {
					t.Errorf("ingest %s said:\n%s\nwant it to say %q", kind, out, want)
				}
				// The same file again changes nothing and says so.
				out, _ = run(t, db, 0, "ingest", "--kind", kind, "--quarantine", q, path)
				if !strings.Contains(out, "already ingested") {
					t.Errorf("second ingest of %s said %q", kind, out)
				}
			}
			out, _ := run(t, db, 0, "stats", "--json")
			var st unspoof.Stats
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("stats --json: %v\n%s", err, out)
			}
			f := m.Figures
			got := fmt.Sprintf("calls %d accounts %d paying %d payments %d callees %d uk calls %d uk over 60 %d uk numbers %d uk numbers over 60 %d",
				st.Calls, st.Accounts, st.PayingAccounts, st.Payments, st.DistinctCallees, st.UKCalls, st.UKCallsOver60s, st.UKCallees, st.UKCalleesOver60)
			want := fmt.Sprintf("calls %d accounts %d paying %d payments %d callees %d uk calls %d uk over 60 %d uk numbers %d uk numbers over 60 %d",
				f.Calls, f.Accounts, f.PayingAccounts, f.Payments, f.Callees, f.UKCalls, f.UKCallsOver60, f.UKNumbers, f.UKNumbersOver60)
			if got != want {
				t.Errorf("stats after ingest:\n got %s\nwant %s (simulator's manifest)", got, want)
			}
			if st.Sources != 4 || len(st.TopOrgs) == 0 || st.TopOrgs[0].Calls == 0 {
				t.Errorf("stats: %d sources, top organisations %v", st.Sources, st.TopOrgs)
			}
			out, _ = run(t, db, 0, "sources")
			if strings.Count(out, "true") != 4 {
				t.Errorf("sources should list 4 synthetic files:\n%s", out)
			}
			out, _ = run(t, db, 0, "stats")
			for _, label := range []string{"UK numbers reached > 60 s", "most impersonated organisations", num(f.Calls)} {
				if !strings.Contains(out, label) {
					t.Errorf("stats output lacks %q:\n%s", label, out)
				}
			}
		})
	}
}

// TestIngestErrorsAreClear: a bad command line, a missing column and too many bad rows each
// give a one-line message naming the problem, with their exit codes.
func TestIngestErrorsAreClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "unspoof.db")
	calls := filepath.Join(dir, "calls.csv")
	os.WriteFile(calls, []byte("when,who\n2022-01-01,U1\n"), 0o644)
	_, stderr := run(t, db, 2, "ingest", "--kind", "calls", calls)
	if !strings.Contains(stderr, calls+": line 1: no column for required field(s) account_id, started_at, callee") {
		t.Errorf("missing columns: %q", stderr)
	}
	_, stderr = run(t, db, 2, "ingest", "--kind", "telegrams", calls)
	if !strings.Contains(stderr, `unknown kind "telegrams"`) {
		t.Errorf("unknown kind: %q", stderr)
	}
	_, stderr = run(t, db, 2, "ingest", "--kind", "calls", "--max-bad", "7", calls)
	if !strings.Contains(stderr, "--max-bad") {
		t.Errorf("bad --max-bad: %q", stderr)
	}
	os.WriteFile(calls, []byte("account_id,started_at,callee\nU1,2022-01-01,07400123456\n"), 0o644)
	out, stderr := run(t, db, 3, "ingest", "--kind", "calls", calls)
	if !strings.Contains(stderr, "too many bad rows") || !strings.Contains(out, "NOT loaded") {
		t.Errorf("all rows bad: stdout %q stderr %q", out, stderr)
	}
	q, err := os.ReadFile(calls + ".quarantine.csv")
	if err != nil || !strings.Contains(string(q), `2,account_id,"unknown account ""U1""`) {
		t.Errorf("quarantine: %q %v", q, err)
	}
}

func num(n int64) string { return message.NewPrinter(language.English).Sprintf("%d", n) }
