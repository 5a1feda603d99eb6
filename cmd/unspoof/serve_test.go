package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unspoof/unspoof/simulate"
)

// startServe runs "unspoof serve" on a free port and returns its base URL; it is stopped with
// SIGTERM when the test ends.
// stopProcess sends cmd sig and waits up to d for it to exit, killing it if it has not by then.
// It says whether it exited in time, and with what error.
func stopProcess(cmd *exec.Cmd, sig os.Signal, d time.Duration) (exited bool, err error) {
	cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return true, err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return false, nil
	}
}

func startServe(t *testing.T, db string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--db", db, "serve", "--http", "127.0.0.1:0", "--portal", "police.example/ispoof"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if exited, err := stopProcess(cmd, syscall.SIGTERM, 15*time.Second); !exited {
			t.Error("serve did not stop on SIGTERM")
		} else if err != nil {
			t.Errorf("serve stopped with %v\n%s", err, stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`serving on (http://[0-9.:]+)/`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("serve said %q, %v\n%s", line, err, stderr.String())
	}
	go io.Copy(io.Discard, out)
	return m[1]
}

// TestServeReportLinked: on each engine, the evidence of a simulated case is ranked, a victim
// files a report on the portal with the reference from their text, and an analyst reading the
// JSON API finds it linked to that victim's calls and accounts; the loss reaches the suspects.
func TestServeReportLinked(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "case")
	run(t, filepath.Join(t.TempDir(), "unused.db"), 0, "simulate", "--preset", "ispoof", "--scale", "0.002", "--seed", "4", "--out", data)
	m, err := simulate.ReadManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
				run(t, db, 0, "ingest", "--kind", kind, filepath.Join(data, m.File(kind).Name))
			}
			run(t, db, 0, "victims", "rank", "--rule", "met-2022")
			run(t, db, 0, "suspects", "rank", "--rule", "harm")
			var number, code string
			for n, c := range exportCodes(t, db) {
				number, code = n, c
				break
			}
			cmd := exec.Command(binary, "--db", db, "staff", "add", "alice", "--role", "analyst")
			cmd.Env = append(os.Environ(), "UNSPOOF_PASSWORD=short")
			if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "at least 12 characters") {
				t.Errorf("a short password: %v %s", err, out)
			}
			cmd = exec.Command(binary, "--db", db, "staff", "add", "alice", "--role", "analyst", "--name", "Alice Analyst")
			cmd.Env = append(os.Environ(), "UNSPOOF_PASSWORD=alice-password-1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("staff add: %v %s", err, out)
			}
			base := startServe(t, db)

			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			resp, err := c.Get(base + "/report")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
			if csrf == nil {
				t.Fatalf("no form on /report:\n%s", page)
			}
			resp, err = c.PostForm(base+"/report/send", url.Values{"csrf": {string(csrf[1])}, "reference": {code}, "phone": {number},
				"lost": {"yes"}, "amount": {"10000"}, "contact-by": {"none"}, "consent": {"yes"}})
			if err != nil {
				t.Fatal(err)
			}
			sent, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(sent), "Report sent") {
				t.Fatalf("send: %d\n%s", resp.StatusCode, sent)
			}

			resp, err = http.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"alice","password":"alice-password-1"}`))
			if err != nil {
				t.Fatal(err)
			}
			var login struct{ Token string }
			json.NewDecoder(resp.Body).Decode(&login)
			resp.Body.Close()
			get := func(path string, v any) {
				t.Helper()
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("Authorization", "Bearer "+login.Token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("GET %s: %v %v", path, resp, err)
				}
				defer resp.Body.Close()
				json.NewDecoder(resp.Body).Decode(v)
			}
			var list struct {
				Reports []struct {
					ID     int64
					Status string
					Match  string
					Victim string
				}
			}
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				get("/api/v1/reports", &list)
				if len(list.Reports) == 1 && list.Reports[0].Status != "new" || time.Now().After(deadline) {
					break
				}
			}
			if len(list.Reports) != 1 || list.Reports[0].Status != "matched" || list.Reports[0].Match != "reference" || list.Reports[0].Victim != number {
				t.Fatalf("reports: %+v (victim %s)", list.Reports, number)
			}
			var rep struct {
				LinkedCalls int `json:"linked_calls"`
				Accounts    []struct {
					Account string
					LossGBP float64 `json:"loss_gbp"`
				}
			}
			get(fmt.Sprintf("/api/v1/reports/%d", list.Reports[0].ID), &rep)
			var total float64
			for _, a := range rep.Accounts {
				total += a.LossGBP
			}
			if rep.LinkedCalls == 0 || len(rep.Accounts) == 0 || total != 10000 {
				t.Errorf("report links: %+v", rep)
			}
			var figs map[string]any
			get("/api/v1/figures", &figs)
			if figs["reports"] != float64(1) || figs["reports_matched"] != float64(1) || figs["loss_total_gbp"] != float64(10000) {
				t.Errorf("figures: %v", figs)
			}
			out, _ := run(t, db, 0, "suspects", "list", "--limit", "200")
			if !strings.Contains(out, rep.Accounts[0].Account) {
				t.Errorf("suspects list lacks %s", rep.Accounts[0].Account)
			}

			// The victim opts out on the portal: no ranking brings the number back as new.
			resp, err = c.Get(base + "/opt-out")
			if err != nil {
				t.Fatal(err)
			}
			page, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page); csrf == nil {
				t.Fatalf("no form on /opt-out:\n%s", page)
			}
			resp, err = c.PostForm(base+"/opt-out", url.Values{"csrf": {string(csrf[1])}, "phone": {number}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			run(t, db, 0, "victims", "rank", "--rule", "score")
			if out, _ = run(t, db, 0, "victims", "rank", "--rule", "met-2022"); !regexp.MustCompile(`status: new [\d,]+, alerted 0, opted-out 1 `).MatchString(out) {
				t.Errorf("rank after an opt-out:\n%s", out)
			}
			if out, _ = run(t, db, 0, "victims", "show", number); !regexp.MustCompile(`(?m)^status\s+opted-out$`).MatchString(out) {
				t.Errorf("victims show %s after the opt-out:\n%s", number, out)
			}
			if out, _ = run(t, db, 0, "victims", "list", "--status", "new", "--limit", "0"); strings.Contains(out, number) {
				t.Errorf("victims list --status new lists the opted-out %s", number)
			}
			if out, _ = run(t, db, 0, "victims", "list", "--status", "opted-out"); !strings.Contains(out, number) || !strings.Contains(out, "1 of 1 victims") {
				t.Errorf("victims list --status opted-out:\n%s", out)
			}
		})
	}
}
