package main_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/screen"
)

// screenReadCSV reads a CSV file written by the simulator or an export.
func screenReadCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestScreenWorkflow: block lists exported from an ingested simulated case feed screen check,
// on each engine.
func TestScreenWorkflow(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "case")
	run(t, filepath.Join(t.TempDir(), "unused.db"), 0, "simulate", "--preset", "ispoof", "--scale", "0.001", "--seed", "11", "--out", data)
	orgs := screenReadCSV(t, filepath.Join(data, "orgs.csv"))[1:] // org_id,name,sector,country,number
	accounts := screenReadCSV(t, filepath.Join(data, "accounts.csv"))[1:]
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, kind := range []string{"orgs", "accounts"} {
				run(t, db, 0, "ingest", "--kind", kind, "--no-progress", filepath.Join(data, kind+".csv"))
			}

			// export-dno: every organisation's number, in E.164, under the version asked for.
			dno := filepath.Join(dir, "dno.csv")
			_, stderr := run(t, db, 0, "screen", "export-dno", "--out", dno, "--list-version", "case-11")
			rows := screenReadCSV(t, dno)
			if len(rows) < 3 || rows[0][0] != "version" || rows[0][1] != "case-11" || strings.Join(rows[1], ",") != "number,type,org,source" {
				t.Fatalf("dno.csv starts %v", rows[:min(3, len(rows))])
			}
			listed := map[string]string{}
			for _, r := range rows[2:] {
				listed[r[0]] = r[2]
			}
			for _, o := range orgs {
				n, err := phonenum.Parse(o[4], "GB")
				if err != nil {
					t.Fatal(err)
				}
				if listed[n.E164] == "" {
					t.Errorf("organisation %s's number %s is not in the DNO list", o[1], n.E164)
				}
			}
			if !strings.Contains(stderr, fmt.Sprintf("%d DNO numbers → %s", len(listed), dno)) {
				t.Errorf("export-dno said %q", stderr)
			}

			// A call presenting a UK organisation's number, as written in the evidence.
			var org []string
			for _, o := range orgs {
				if o[3] == "GB" {
					org = o
					break
				}
			}
			out, _ := run(t, db, 0, "screen", "check", "--dno", dno, "--from", org[4], "--to", "07400 123456")
			if !strings.HasPrefix(out, "BLOCK\n") || !strings.Contains(out, "dno") || !strings.Contains(out, org[1]) {
				t.Errorf("check of %s's number:\n%s", org[1], out)
			}
			out, _ = run(t, db, 0, "screen", "check", "--dno", dno, "--from", org[4], "--to", "07400 123456", "--json",
				"--report-only", "dno", "--call-id", "k1")
			var v screen.VerdictJSON
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("check --json: %v\n%s", err, out)
			}
			if v.Action != "allow" || len(v.Reasons) != 1 || v.Reasons[0].Code != "dno" || !v.Reasons[0].ReportOnly || v.CallID != "k1" {
				t.Errorf("report-only check: %s", out)
			}

			// export-egress: every account's addresses; a call from one of them is blocked.
			egress := filepath.Join(dir, "egress.csv")
			run(t, db, 0, "screen", "export-egress", "--out", egress)
			rows = screenReadCSV(t, egress)
			if rows[0][0] != "version" || strings.Join(rows[1], ",") != "kind,value,note" || len(rows) < 3 {
				t.Fatalf("egress.csv starts %v", rows[:min(3, len(rows))])
			}
			ip := strings.Split(accounts[0][5], ";")[0]
			out, _ = run(t, db, 0, "screen", "check", "--egress", egress, "--from", "+447400123456", "--to", "+447400999888", "--source-ip", ip)
			if !strings.HasPrefix(out, "BLOCK\n") || !strings.Contains(out, "spoofing-egress") || !strings.Contains(out, "account "+accounts[0][0]) {
				t.Errorf("check from %s:\n%s", ip, out)
			}

			// The accounts file moved: --accounts says where it is; another file is refused.
			moved := filepath.Join(dir, "moved-accounts.csv")
			b, err := os.ReadFile(filepath.Join(data, "accounts.csv"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(moved, b, 0o644)
			out2 := filepath.Join(dir, "egress2.csv")
			run(t, db, 0, "screen", "export-egress", "--accounts", moved, "--out", out2, "--list-version", "v2")
			if rows2 := screenReadCSV(t, out2); len(rows2) != len(rows) {
				t.Errorf("egress from the moved file: %d rows, from the original %d", len(rows2), len(rows))
			}
			os.WriteFile(moved, append(b, "U9999999,x,x@example.org,GB,2021-01-01,203.0.113.9\n"...), 0o644)
			_, stderr = run(t, db, 2, "screen", "export-egress", "--accounts", moved, "--out", out2)
			if !strings.Contains(stderr, "is not an accounts file the store ingested") {
				t.Errorf("export-egress from a changed file: %s", stderr)
			}
			_, stderr = run(t, db, 2, "screen", "export-egress", "--accounts", filepath.Join(dir, "nowhere.csv"))
			if !strings.Contains(stderr, "--accounts") {
				t.Errorf("export-egress from a missing file: %s", stderr)
			}
		})
	}
}

// TestScreenCheckRules: check answers each rule as the engine does, with the flags that set
// their modes and exceptions.
func TestScreenCheckRules(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "unused.db")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--from", "+442071234567", "--to", "07400123456"}, []string{"ALLOW\n", "from +442071234567  to +447400123456"}},
		{[]string{"--from", "+442071234567", "--to", "07400123456", "--ingress", "international"}, []string{"BLOCK\n", "uk-cli-international"}},
		{[]string{"--from", "+442071234567", "--to", "07400123456", "--ingress", "international", "--exempt-prefix", "+44207"}, []string{"ALLOW\n"}},
		{[]string{"--from", "+442071234567", "--to", "07400123456", "--ingress", "international", "--exempt-trunk", "p1", "--trunk", "p1"}, []string{"ALLOW\n"}},
		{[]string{"--from", "+447400123456", "--to", "07400123456", "--ingress", "international"}, []string{"FLAG\n", "uk-mobile-international"}},
		{[]string{"--from", "+447400123456", "--to", "07400123456", "--ingress", "international", "--uk-mobile-abroad", "block"}, []string{"BLOCK\n"}},
		{[]string{"--from", "+442071234567", "--to", "07400123456", "--ingress", "international", "--report-only", "ingress"}, []string{"ALLOW\n", "report-only: a UK number"}},
		{[]string{"--from", "+442071234567", "--to", "07400123456", "--ingress", "international", "--off", "ingress"}, []string{"ALLOW\n"}},
		{[]string{"--from", "HSBC", "--to", "07400123456"}, []string{"BLOCK\n", "invalid-number", "from -"}},
		{[]string{"--from", "07700 900123", "--to", "07400123456"}, []string{"FLAG\n", "fictional-number"}},
		{[]string{"--from", "(202) 456-1111", "--to", "+447400123456", "--region", "US"}, []string{"ALLOW\n", "from +12024561111"}},
		{[]string{"--from", "sip:anonymous@anonymous.invalid", "--to", "+447400123456", "--identity", "x.y.z"}, []string{"ALLOW\n", "verstat No-TN-Validation"}},
	} {
		out, _ := run(t, db, 0, append([]string{"screen", "check"}, tc.args...)...)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("check %s:\n%s\nwant %q", strings.Join(tc.args, " "), out, w)
			}
		}
	}
}

// TestScreenUsage: mistakes give a one-line message and exit 2.
func TestScreenUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "unspoof.db")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("version,1\nnumber\n+443005551234\nnot a number\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"screen", "check", "--to", "1"}, "--from is required"},
		{[]string{"screen", "check", "--from", "1"}, "--to is required"},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--ingress", "abroad"}, "--ingress must be"},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--source-ip", "x"}, "not an IP address"},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--report-only", "dnc"}, `unknown rule "dnc"`},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--report-only", "dno", "--off", "dno"}, "both report-only and off"},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--verify-fail", "allow"}, "flag or block"},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--deadline", "0s"}, "--deadline"},
		{[]string{"screen", "check", "--from", "1", "--to", "2", "--dno", filepath.Join(dir, "none.csv")}, "none.csv"},
		{[]string{"screen", "serve", "--http", "127.0.0.1:0", "--dno", bad}, `DNO list line 4: number "not a number"`},
		{[]string{"screen", "serve", "--http", "256.0.0.1:0"}, "--http"},
		{[]string{"screen", "serve", "--http", "127.0.0.1:0", "--http-server", "nginx"}, "--http-server must be fasthttp or net/http"},
		{[]string{"screen", "export-egress"}, "no accounts file"},
		{[]string{"screen", "export-dno", "--prefix", "44"}, "--prefix"},
	} {
		_, stderr := run(t, db, 2, tc.args...)
		if !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%s: %q, want one line with %q", strings.Join(tc.args, " "), stderr, tc.want)
		}
	}
}

// screenServer is a running "unspoof screen serve".
type screenServer struct {
	cmd    *exec.Cmd
	url    string
	stderr *screenLog
	done   chan struct{} // closed when it has exited, with err
	err    error
}

type screenLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *screenLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *screenLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startScreenServe runs "unspoof screen serve" on a free port with args, until the test ends.
func startScreenServe(t *testing.T, args ...string) *screenServer {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--db", filepath.Join(t.TempDir(), "unused.db"), "screen", "serve", "--http", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	s := &screenServer{cmd: cmd, stderr: &screenLog{}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(pw, s.stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); pw.Close(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "screening HTTP on "); ok {
				urls <- strings.Fields(rest)[0]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case s.url = <-urls:
	case <-s.done:
		t.Fatalf("serve exited: %v\n%s", s.err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not say where it listens:\n%s", s.stderr)
	}
	return s
}

// screenCall posts a call and returns the verdict and status.
func screenCall(c *http.Client, url, body string) (screen.VerdictJSON, int, error) {
	var v screen.VerdictJSON
	resp, err := c.Post(url+"/v1/screen", "application/json", strings.NewReader(body))
	if err != nil {
		return v, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return v, resp.StatusCode, err
	}
	if resp.StatusCode == 200 {
		err = json.Unmarshal(b, &v)
	}
	return v, resp.StatusCode, err
}

func screenDNOVersion(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		DNO struct{ Version string } `json:"dno"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h.DNO.Version
}

// screenWriteList writes a list file as export-dno does: beside it, then renamed into place.
func screenWriteList(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

const (
	screenDNOv1 = "version,v1\nnumber,org\n+443005551234,Northbridge Bank\n+448001112222,Albion Bank\n"
	screenDNOv2 = "version,v2\nnumber,org\n+448001112222,Albion Bank\n"
	screenDNOv3 = "version,v3\nnumber,org\n+443005551234,Northbridge Bank\n+448001112222,Albion Bank\n"
)

// TestScreenServeReload serves the HTTP API and replaces the DNO list under load, by file
// change and by SIGHUP: no request fails, the versions switch, a broken list is not loaded, and
// numbers never appear in full in the log.
func TestScreenServeReload(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"watch", "sighup"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			dno := filepath.Join(t.TempDir(), "dno.csv")
			screenWriteList(t, dno, screenDNOv1)
			watch := "50ms"
			if how == "sighup" {
				watch = "0s"
			}
			// Velocity off: the clients call from one number far more than 60 times a minute.
			s := startScreenServe(t, "--dno", dno, "--watch", watch, "--off", "velocity")
			if v := screenDNOVersion(t, s.url); v != "v1" {
				t.Fatalf("version %q at start", v)
			}

			// Load: four clients screen a number listed only in v1 and v3, and one in all.
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var ok, blocked, allowed, failed atomic.Int64
			var firstErr atomic.Value
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &http.Client{Timeout: 10 * time.Second}
					for ctx.Err() == nil {
						v, status, err := screenCall(c, s.url, `{"from":"+443005551234","to":"+447400123456"}`)
						if err != nil || status != 200 {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %v", status, err))
							continue
						}
						switch v.Action {
						case "block":
							blocked.Add(1)
						case "allow":
							allowed.Add(1)
						}
						if v2, status, err := screenCall(c, s.url, `{"from":"+448001112222","to":"+447400123456"}`); err != nil || status != 200 || v2.Action != "block" {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("always-listed number: %s %d %v", v2.Action, status, err))
						}
						ok.Add(1)
					}
				}()
			}
			waitVersion := func(want string) {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for screenDNOVersion(t, s.url) != want {
					if time.Now().After(deadline) {
						t.Fatalf("version %q never replaced by %q\n%s", screenDNOVersion(t, s.url), want, s.stderr)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			reload := func() {
				if how == "sighup" {
					s.cmd.Process.Signal(syscall.SIGHUP)
				}
			}
			time.Sleep(200 * time.Millisecond)
			for i, content := range []string{screenDNOv2, screenDNOv3, screenDNOv2, screenDNOv3} {
				screenWriteList(t, dno, content)
				reload()
				waitVersion([]string{"v2", "v3"}[i%2])
				time.Sleep(150 * time.Millisecond)
			}
			// A broken list is not loaded: v3 stays.
			screenWriteList(t, dno, "version,v4\nnumber\nnot a number\n")
			reload()
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(s.stderr.String(), "DNO list not reloaded") {
				if time.Now().After(deadline) {
					t.Fatalf("no word of the broken list:\n%s", s.stderr)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if v := screenDNOVersion(t, s.url); v != "v3" {
				t.Errorf("after a broken list the version is %q", v)
			}
			stop()
			wg.Wait()
			if failed.Load() != 0 || blocked.Load() == 0 || allowed.Load() == 0 {
				t.Errorf("%d requests ok, %d failed (first: %v); the v1/v3-only number blocked %d times, allowed %d",
					ok.Load(), failed.Load(), firstErr.Load(), blocked.Load(), allowed.Load())
			}
			t.Logf("%s: %d call pairs screened during 4 reloads", how, ok.Load())

			// Metrics say which version is in use.
			resp, err := http.Get(s.url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`unspoof_screen_list_info{list="dno",version="v3"} 1`, `unspoof_screen_verdicts_total{action="block",reason="dno"}`, "go_goroutines"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("metrics lack %s", want)
				}
			}

			// SIGTERM stops it cleanly.
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
				if s.err != nil {
					t.Errorf("serve exited with %v", s.err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("serve did not stop on SIGTERM")
			}
			log := s.stderr.String()
			for _, want := range []string{"DNO list loaded", "version=v3", "screening stopped"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			for _, number := range []string{"+443005551234", "+448001112222", "+447400123456"} {
				if strings.Contains(log, number) {
					t.Errorf("the log shows %s in full:\n%s", number, log)
				}
			}
		})
	}
}

// TestScreenServeHTTPServers: "screen serve" answers the same on either --http-server: verdicts,
// errors, health and metrics, status, content type and body alike (but the engine's time).
func TestScreenServeHTTPServers(t *testing.T) {
	t.Parallel()
	dno := filepath.Join(t.TempDir(), "dno.csv")
	screenWriteList(t, dno, screenDNOv1)
	type exchange struct{ method, path, ctype, body string }
	exchanges := []exchange{
		{"POST", "/v1/screen", "application/json", `{"from":"+443005551234","to":"+447400123456","ingress":"international","call_id":"a"}`},
		{"POST", "/v1/screen", "application/json; charset=utf-8", `{"from":"07400 123456","to":"+447400999888","trunk":"t1"}`},
		{"POST", "/v1/screen", "", `{"from":"anonymous","to":"+447400999888"}`},
		{"POST", "/v1/screen", "application/json", `{"from":`},
		{"POST", "/v1/screen", "application/json", `{"from":"1","to":"2","source-ip":"x"}`},
		{"POST", "/v1/screen", "application/json", `{"from":"` + strings.Repeat("1", 70<<10) + `","to":"1"}`},
		{"POST", "/v1/screen", "text/plain", `{}`},
		{"GET", "/v1/screen", "", ""},
		{"PUT", "/healthz", "", ""},
		{"GET", "/v2/screen", "", ""},
		{"GET", "/healthz", "", ""},
	}
	answers := map[string][]string{}
	for _, impl := range []string{screen.NetHTTP, screen.FastHTTP} {
		s := startScreenServe(t, "--dno", dno, "--watch", "0", "--http-server", impl)
		for _, x := range exchanges {
			req, err := http.NewRequest(x.method, s.url+x.path, strings.NewReader(x.body))
			if err != nil {
				t.Fatal(err)
			}
			if x.ctype != "" {
				req.Header.Set("Content-Type", x.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %s %s: %v", impl, x.method, x.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if i := strings.Index(body, `"latency_us":`); i >= 0 {
				body = body[:i] // the engine's time differs
			}
			answers[impl] = append(answers[impl], fmt.Sprintf("%d %s %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), body))
		}
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Three verdicts: one blocked by the DNO list, two allowed.
		for _, want := range []string{`unspoof_screen_verdicts_total{action="block",reason="dno"} 1`,
			`unspoof_screen_verdicts_total{action="allow",reason="none"} 2`, "process_cpu_seconds_total"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: metrics lack %s", impl, want)
			}
		}
	}
	for i, x := range exchanges {
		if n, f := answers[screen.NetHTTP][i], answers[screen.FastHTTP][i]; n != f {
			t.Errorf("%s %s %.40s:\nnet/http: %s\nfasthttp: %s", x.method, x.path, x.body, n, f)
		}
	}
	if got := answers[screen.FastHTTP][0]; !strings.HasPrefix(got, `200 application/json  {"call_id":"a","action":"block"`) {
		t.Errorf("first answer: %s", got)
	}
}
