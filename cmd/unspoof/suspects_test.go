package main_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/unspoof/unspoof/simulate"
)

// metSuspectsSQL is the Met's 2022 suspects rule written independently of the ranking code: GB
// accounts whose payments add up to at least £100.
const metSuspectsSQL = `
SELECT count(*) FROM accounts a
WHERE a.country = 'GB' AND (SELECT sum(p.amount_minor) FROM payments p WHERE p.account_id = a.id) >= 10000`

// victimsOfSQL counts one account's victims straight: distinct UK numbers, not organisations'
// own, with a call from it over 60 s.
const victimsOfSQL = `
SELECT count(DISTINCT c.callee_e164) FROM calls c JOIN accounts a ON a.id = c.account_id
WHERE a.external_id = '%s' AND c.duration_s > 60 AND c.callee_e164 LIKE '+44%%'
	AND c.callee_e164 NOT IN (SELECT e164 FROM org_numbers)`

// ftmRequired lists, per FollowTheMoney schema we write, the properties the schema requires
// (UserAccount: username; Organization and LegalEntity: name) and those our export promises
// on top.
var ftmRequired = map[string][]string{
	"LegalEntity":  {"name"},
	"UserAccount":  {"username", "service", "owner"},
	"Organization": {"name"},
	"Payment":      {"payer", "amount", "currency", "date"},
	"Call":         {"caller", "callerNumber", "receiverNumber", "date", "duration"},
}

// TestSuspectsWorkflow: simulate → ingest → suspects rank (both rules) → list, show, explain →
// export csv, ftm and graphml, on each engine; met-2022 checked against a straight SQL count.
func TestSuspectsWorkflow(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "case")
	run(t, filepath.Join(t.TempDir(), "unused.db"), 0, "simulate", "--preset", "ispoof", "--scale", "0.003", "--seed", "5", "--out", data)
	m, err := simulate.ReadManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	countRe := regexp.MustCompile(`rule (\S+) selected ([\d,]+) of ([\d,]+) accounts`)
	var mu sync.Mutex
	results := map[string]string{}
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
				run(t, db, 0, "ingest", "--kind", kind, filepath.Join(data, m.File(kind).Name))
			}
			out, _ := run(t, db, 0, "suspects", "rank", "--rule", "met-2022")
			sm := countRe.FindStringSubmatch(out)
			want := queryInt(t, db, metSuspectsSQL)
			if sm == nil || sm[1] != "met-2022" || sm[2] != strconv.FormatInt(want, 10) || want == 0 {
				t.Fatalf("suspects rank met-2022: %q; straight SQL counts %d", out, want)
			}
			if n := queryInt(t, db, `SELECT count(*) FROM suspects WHERE identified AND rule = 'met-2022'`); n != want {
				t.Errorf("suspects table holds %d met-2022 rows, want %d", n, want)
			}

			out, _ = run(t, db, 0, "suspects", "rank", "--rule", "harm")
			if sm = countRe.FindStringSubmatch(out); sm == nil || sm[1] != "harm" {
				t.Fatalf("suspects rank harm: %q", out)
			}
			csvOut, _ := run(t, db, 0, "suspects", "export", "--format", "csv")
			rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
			if err != nil || len(rows) < 3 || rows[0][0] != "rank" || rows[1][0] != "1" {
				t.Fatalf("export csv: %v, %v", rows, err)
			}
			if got := strconv.Itoa(len(rows) - 1); got != strings.ReplaceAll(sm[2], ",", "") {
				t.Errorf("export csv has %s suspects, rank said %s", got, sm[2])
			}
			first := rows[1][1]
			if v := queryInt(t, db, fmt.Sprintf(victimsOfSQL, first)); strconv.FormatInt(v, 10) != rows[1][7] || v == 0 {
				t.Errorf("suspect %s: %s victims in the ranking, straight SQL counts %d", first, rows[1][7], v)
			}
			mu.Lock()
			results[engine] = csvOut[:strings.Index(csvOut, "\n")] + fmt.Sprint(len(rows)) + strings.Join(rows[1][:15], ",")
			mu.Unlock()

			out, _ = run(t, db, 0, "suspects", "list", "--limit", "2")
			if !strings.Contains(out, first) || !strings.Contains(out, "2 of ") {
				t.Errorf("suspects list:\n%s", out)
			}
			out, _ = run(t, db, 0, "suspects", "show", first, "--limit", "3")
			for _, s := range []string{"rule / rank             harm / 1", "payments (", "calls per day (", "peak calls per minute",
				"victims reached (3 of " + rows[1][7], "organisations impersonated (" + rows[1][10] + ")", "first – last activity",
				"loss_gbp"} {
				if !strings.Contains(out, s) {
					t.Errorf("suspects show %s lacks %q:\n%s", first, s, out)
				}
			}
			if out, _ = run(t, db, 0, "suspects", "explain", first); !strings.Contains(out, "victims") || !strings.Contains(out, "total") {
				t.Errorf("suspects explain:\n%s", out)
			}
			checkFtM(t, db)
			checkGraphML(t, db)
		})
	}
	t.Cleanup(func() {
		if a, b := results["sqlite"], results["postgres"]; a != "" && b != "" && a != b {
			t.Errorf("engines rank differently:\nsqlite:   %s\npostgres: %s", a, b)
		}
	})
}

// checkFtM exports the first 3 suspects as FollowTheMoney entities and checks every line's shape
// and each schema's required properties.
func checkFtM(t *testing.T, db string) {
	out := filepath.Join(t.TempDir(), "suspects.ftm.jsonl")
	run(t, db, 0, "suspects", "export", "--format", "ftm", "--top", "3", "--out", out)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemas := map[string]int{}
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			ID         string              `json:"id"`
			Schema     string              `json:"schema"`
			Properties map[string][]string `json:"properties"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("ftm line %q: %v", sc.Text(), err)
		}
		req, ok := ftmRequired[e.Schema]
		if !ok || e.ID == "" || ids[e.ID] {
			t.Fatalf("ftm entity with schema %q, id %q (duplicate: %v)", e.Schema, e.ID, ids[e.ID])
		}
		ids[e.ID] = true
		for _, p := range req {
			if len(e.Properties[p]) == 0 || e.Properties[p][0] == "" {
				t.Errorf("ftm %s %s lacks %q: %v", e.Schema, e.ID, p, e.Properties)
			}
		}
		if e.Schema == "Call" {
			if d, _ := strconv.Atoi(e.Properties["duration"][0]); d <= 60 {
				t.Errorf("ftm call %s lasts %d s: only calls over 60 s are exported", e.ID, d)
			}
		}
		for _, ref := range [][]string{e.Properties["caller"], e.Properties["payer"], e.Properties["owner"]} {
			if len(ref) > 0 && !ids[ref[0]] {
				t.Errorf("ftm %s %s refers to %s, not written before it", e.Schema, e.ID, ref[0])
			}
		}
		schemas[e.Schema]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if schemas["UserAccount"] != 3 || schemas["LegalEntity"] != 3 || schemas["Payment"] == 0 || schemas["Call"] == 0 || schemas["Organization"] == 0 {
		t.Errorf("ftm entities per schema: %v", schemas)
	}
}

// checkGraphML exports the first 5 suspects as GraphML, parses it back and checks the node
// types, the key declarations and that every edge joins declared nodes with a call count.
func checkGraphML(t *testing.T, db string) {
	out, _ := run(t, db, 0, "suspects", "export", "--format", "graphml", "--top", "5")
	type data struct {
		Key   string `xml:"key,attr"`
		Value string `xml:",chardata"`
	}
	var g struct {
		Keys []struct {
			ID  string `xml:"id,attr"`
			For string `xml:"for,attr"`
		} `xml:"key"`
		Graph struct {
			Nodes []struct {
				ID   string `xml:"id,attr"`
				Data []data `xml:"data"`
			} `xml:"node"`
			Edges []struct {
				Source string `xml:"source,attr"`
				Target string `xml:"target,attr"`
				Data   []data `xml:"data"`
			} `xml:"edge"`
		} `xml:"graph"`
	}
	if err := xml.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("graphml: %v", err)
	}
	keys := map[string]string{}
	for _, k := range g.Keys {
		keys[k.ID] = k.For
	}
	if keys["type"] != "node" || keys["calls"] != "edge" {
		t.Errorf("graphml keys: %v", keys)
	}
	types := map[string]int{}
	nodeType := map[string]string{}
	for _, n := range g.Graph.Nodes {
		for _, d := range n.Data {
			if keys[d.Key] != "node" {
				t.Errorf("node %s: undeclared key %q", n.ID, d.Key)
			}
			if d.Key == "type" {
				types[d.Value]++
				nodeType[n.ID] = d.Value
			}
		}
	}
	if types["account"] != 5 || types["victim"] == 0 || types["organisation"] == 0 || len(nodeType) != len(g.Graph.Nodes) {
		t.Errorf("graphml nodes by type: %v (%d nodes)", types, len(g.Graph.Nodes))
	}
	if len(g.Graph.Edges) < types["victim"] {
		t.Errorf("graphml: %d edges for %d victims", len(g.Graph.Edges), types["victim"])
	}
	for _, e := range g.Graph.Edges {
		if nodeType[e.Source] == "" || nodeType[e.Target] == "" {
			t.Errorf("edge %s → %s joins an undeclared node", e.Source, e.Target)
		}
		if len(e.Data) != 1 || e.Data[0].Key != "calls" {
			t.Fatalf("edge %s → %s data %v", e.Source, e.Target, e.Data)
		}
		if n, err := strconv.Atoi(e.Data[0].Value); err != nil || n <= 0 {
			t.Errorf("edge %s → %s: calls %q", e.Source, e.Target, e.Data[0].Value)
		}
	}
}

// TestSuspectsBadInput: an unknown rule, format or account gets a clear error.
func TestSuspectsBadInput(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "unspoof.db")
	run(t, db, 0, "migrate")
	if _, stderr := run(t, db, 2, "suspects", "rank", "--rule", "hunch"); !strings.Contains(stderr, `unknown rule "hunch": one of met-2022, harm`) {
		t.Errorf("unknown rule: %q", stderr)
	}
	if _, stderr := run(t, db, 2, "suspects", "export", "--format", "pdf"); !strings.Contains(stderr, `unknown --format "pdf"`) {
		t.Errorf("unknown format: %q", stderr)
	}
	if _, stderr := run(t, db, 1, "suspects", "show", "U404"); !strings.Contains(stderr, `account "U404" is not in the suspects ranking`) {
		t.Errorf("unknown account: %q", stderr)
	}
	if _, stderr := run(t, db, 1, "suspects", "explain", "U404"); !strings.Contains(stderr, `account "U404" is not in the suspects ranking`) {
		t.Errorf("explain unknown account: %q", stderr)
	}
}
