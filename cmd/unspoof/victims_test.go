package main_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3"

	"github.com/unspoof/unspoof/simulate"
	"github.com/unspoof/unspoof/victim"
)

// metCountSQL is the Met's 2022 rule written independently of the ranking code, as one plain
// query: UK numbers (not organisations' own) with a call over 60 s by a GB account that paid at
// least £100 in all.
const metCountSQL = `
SELECT count(DISTINCT c.callee_e164) FROM calls c
WHERE c.callee_e164 LIKE '+44%' AND c.duration_s > 60
	AND c.callee_e164 NOT IN (SELECT e164 FROM org_numbers)
	AND c.account_id IN (
		SELECT a.id FROM accounts a
		WHERE a.country = 'GB' AND (SELECT sum(p.amount_minor) FROM payments p WHERE p.account_id = a.id) >= 10000)`

// queryInt runs a query returning one integer on either engine.
func queryInt(t *testing.T, db, query string) int64 {
	t.Helper()
	var n int64
	if strings.HasPrefix(db, "postgres") {
		conn, err := pgx.Connect(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	conn, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestVictimsWorkflow: simulate → ingest → victims rank (both rules) → list, show, export →
// evaluate, on each engine; met-2022 checked against a straight SQL count and against the
// simulator's own count of the numbers identified users reached.
func TestVictimsWorkflow(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "case")
	run(t, filepath.Join(t.TempDir(), "unused.db"), 0, "simulate", "--preset", "ispoof", "--scale", "0.003", "--seed", "5", "--out", data)
	m, err := simulate.ReadManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	countRe := regexp.MustCompile(`rule (\S+) selected ([\d,]+) of ([\d,]+) numbers called \(met-2022 selects ([\d,]+)\)`)
	atoi := func(s string) int64 { n, _ := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64); return n }
	var mu sync.Mutex
	results := map[string]string{}
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
				run(t, db, 0, "ingest", "--kind", kind, filepath.Join(data, m.File(kind).Name))
			}
			want := queryInt(t, db, metCountSQL)
			if want == 0 || want != m.Figures.UKNumbersIdentified {
				t.Fatalf("straight SQL finds %d met-2022 numbers, the simulator %d", want, m.Figures.UKNumbersIdentified)
			}
			out, _ := run(t, db, 0, "victims", "rank", "--rule", "met-2022")
			g := countRe.FindStringSubmatch(out)
			if g == nil || atoi(g[2]) != want || atoi(g[4]) != want {
				t.Fatalf("victims rank --rule met-2022 said %q; straight SQL counts %d", out, want)
			}
			if n := queryInt(t, db, `SELECT count(*) FROM victims WHERE identified AND rule = 'met-2022'`); n != want {
				t.Errorf("victims table holds %d met-2022 rows, want %d", n, want)
			}
			metCodes := exportCodes(t, db)

			out, _ = run(t, db, 0, "victims", "rank", "--rule", "score", "--min-duration", "60s", "--country", "GB")
			if g := countRe.FindStringSubmatch(out); g == nil || atoi(g[2]) != want {
				t.Fatalf("victims rank --rule score said %q; want %d numbers, as many as met-2022", out, want)
			}
			scoreCodes := exportCodes(t, db)
			kept := 0
			for n, c := range scoreCodes {
				if old, ok := metCodes[n]; ok {
					kept++
					if old != c {
						t.Errorf("%s: code %s became %s on re-ranking", n, old, c)
					}
				}
				if !victim.ValidCode(c) {
					t.Errorf("%s: bad code %q", n, c)
				}
			}
			if kept == 0 {
				t.Error("no number is in both rankings: the re-ranking test tests nothing")
			}

			out, _ = run(t, db, 0, "victims", "list", "--tier", "high", "--channel", "sms", "--limit", "3")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 5 || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[4], "3 of ") {
				t.Fatalf("victims list:\n%s", out)
			}
			number := strings.Fields(lines[1])[1]
			national := "0" + strings.TrimPrefix(number, "+44")
			out, _ = run(t, db, 0, "victims", "show", national)
			if !strings.Contains(out, "number") || !strings.Contains(out, number) || !strings.Contains(out, "calls (") ||
				!strings.Contains(out, scoreCodes[number]) || !strings.Contains(out, "ended on a long call") {
				t.Errorf("victims show %s:\n%s", national, out)
			}
			out, _ = run(t, db, 0, "victims", "explain", number)
			if !strings.Contains(out, "talk_minutes") || !strings.Contains(out, "ended_long") ||
				!strings.Contains(out, "ended_minutes") || !strings.Contains(out, "rank 1 of") {
				t.Errorf("victims explain %s:\n%s", number, out)
			}
			out, _ = run(t, db, 0, "victims", "rank", "--rule", "score", "--explain", national)
			if !strings.Contains(out, number+": score") || !strings.Contains(out, "identified") {
				t.Errorf("victims rank --explain %s:\n%s", national, out)
			}
			if again := exportCodes(t, db); len(again) != len(scoreCodes) || again[number] != scoreCodes[number] {
				t.Errorf("ranking again by the same rule changed the codes")
			}
			jsonl := filepath.Join(t.TempDir(), "v.jsonl")
			run(t, db, 0, "victims", "export", "--format", "jsonl", "--out", jsonl)
			b, err := os.ReadFile(jsonl)
			if err != nil {
				t.Fatal(err)
			}
			var first map[string]any
			if err := json.Unmarshal([]byte(strings.SplitN(string(b), "\n", 2)[0]), &first); err != nil ||
				first["rank"] != 1.0 || first["e164"] != number {
				t.Errorf("export jsonl first row %v, %v", first, err)
			}
			if s, ok := first["ended_long_s"].(float64); !ok || s != 0 && s <= 60 {
				t.Errorf("export jsonl first row %v, %v", first, err)
			}

			out, _ = run(t, db, 0, "evaluate", "--truth", filepath.Join(data, "truth.csv"))
			for _, s := range []string{"met-2022", "score", "precision", "recall", "UK loss covered", "headline figures",
				"… by identified UK users (paid ≥ £100)"} {
				if !strings.Contains(out, s) {
					t.Errorf("evaluate output lacks %q:\n%s", s, out)
				}
			}
			mu.Lock()
			results[engine] = out // both engines must evaluate alike
			mu.Unlock()
		})
	}
	t.Cleanup(func() {
		if a, b := results["sqlite"], results["postgres"]; a != "" && b != "" && a != b {
			t.Errorf("engines evaluate differently:\nsqlite:\n%s\npostgres:\n%s", a, b)
		}
	})
}

// exportCodes returns number → code of the current ranking, read from the CSV export.
func exportCodes(t *testing.T, db string) map[string]string {
	t.Helper()
	out, _ := run(t, db, 0, "victims", "export", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 || recs[0][1] != "e164" || recs[0][2] != "code" {
		t.Fatalf("export csv: %v\n%.500s", err, out)
	}
	m := map[string]string{}
	for _, r := range recs[1:] {
		m[r[1]] = r[2]
	}
	return m
}

// TestVictimsErrorsAreClear: an unknown rule, a bad flag value and a truth file with bad rows
// each give a usage error naming the problem; bad rows are named by file and line.
func TestVictimsErrorsAreClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "unspoof.db")
	_, stderr := run(t, db, 2, "victims", "rank", "--rule", "hunch")
	if !strings.Contains(stderr, `unknown rule "hunch"`) {
		t.Errorf("unknown rule: %q", stderr)
	}
	_, stderr = run(t, db, 2, "victims", "list", "--tier", "urgent")
	if !strings.Contains(stderr, `unknown --tier "urgent"`) {
		t.Errorf("unknown tier: %q", stderr)
	}
	_, stderr = run(t, db, 2, "evaluate", "--truth", filepath.Join(dir, "truth.csv"), "--rule", "met-2022,hunch")
	if !strings.Contains(stderr, `unknown rule "hunch"`) {
		t.Errorf("evaluate unknown rule: %q", stderr)
	}
	truth := filepath.Join(dir, "truth.csv")
	os.WriteFile(truth, []byte("callee_e164,defrauded,loss_gbp,would_report\n"+
		"+447911123456,true,100.00,false\n"+
		"+447911123457,maybe,0.00,false\n"+
		"+447911123458,false,0.00\n"+
		"07911123459,false,0.00,false\n"+
		"+447911123460,true,-5,true\n"), 0o644)
	_, stderr = run(t, db, 2, "evaluate", "--truth", truth)
	for _, s := range []string{"4 bad row(s)", truth + `: line 3: defrauded "maybe" is not true or false`,
		truth + ": line 4: 3 fields, want 4", truth + `: line 5: callee_e164 "07911123459" is not an E.164 number`,
		truth + `: line 6: loss_gbp "-5" is not an amount`} {
		if !strings.Contains(stderr, s) {
			t.Errorf("bad truth: stderr lacks %q:\n%s", s, stderr)
		}
	}
	os.WriteFile(truth, []byte("number,fraud\n"), 0o644)
	if _, stderr = run(t, db, 2, "evaluate", "--truth", truth); !strings.Contains(stderr, truth+": line 1: header must be") {
		t.Errorf("bad truth header: %q", stderr)
	}
}
