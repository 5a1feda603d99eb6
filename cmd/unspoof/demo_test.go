package main_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/web/webtest"
)

// TestDemo runs the demo as a newcomer would, twice, and checks what it printed against the
// store it left: the headline figures, the campaign's outcome and the SMSC simulator's own
// count, and the reports it filed through the portal and how they were linked. The second run
// reuses the simulated files and rebuilds the store from them.
func TestDemo(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	args := []string{"demo", "--dir", dir, "--scale", "0.002", "--seed", "5", "--no-serve", "--http", "127.0.0.1:0"}
	out, _ := run(t, filepath.Join(dir, "ignored.db"), 0, args...)
	for _, want := range []string{"1. Evidence: simulating", "2. Victims and suspects", "3. Alert campaign", "SMSC SIMULATOR",
		"4. Victim reports", "5. Portal and dashboard", "UK numbers reached (> 60 s)", "suspects identified"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	db := filepath.Join(dir, "unspoof.db")
	stats, _ := run(t, db, 0, "stats", "--json")
	var st unspoof.Stats
	if err := json.Unmarshal([]byte(stats), &st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, " "+num(st.Calls)+"\n") || !strings.Contains(out, " "+num(st.UKCalleesOver60)+"\n") {
		t.Errorf("demo's table does not show the store's figures (%d calls, %d UK numbers reached):\n%s", st.Calls, st.UKCalleesOver60, out)
	}

	ctx := context.Background()
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.FindCampaignByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The campaign ran to the end: every message has a final state, some failed or expired as
	// the simulator was told to make them, and the one STOP opted its sender out.
	if c.State != unspoof.CampaignDone || c.ApprovedBy == c.CreatedBy || c.Counts[unspoof.MessageDelivered] == 0 ||
		c.Counts[unspoof.MessagePending]+c.Counts[unspoof.MessageSubmitting]+c.Counts[unspoof.MessageSubmitted]+c.Counts[unspoof.MessageAmbiguous] != 0 {
		t.Errorf("campaign after the demo: %s, created by %s, approved by %s, counts %v", c.State, c.CreatedBy, c.ApprovedBy, c.Counts)
	}
	summary := regexp.MustCompile(`delivered (\d+)(?:, failed (\d+))?(?:, expired (\d+))?`).FindStringSubmatch(out)
	if summary == nil {
		t.Fatalf("no campaign outcome in the output:\n%s", out)
	}
	for i, state := range []string{unspoof.MessageDelivered, unspoof.MessageFailed, unspoof.MessageExpired} {
		if n, _ := strconv.ParseInt(summary[i+1], 10, 64); n != c.Counts[state] {
			t.Errorf("demo printed %s %d, the store has %d", state, n, c.Counts[state])
		}
	}
	sim := regexp.MustCompile(`smsc-sim: 1 bind, (\d+) messages accepted.*receipts: (\d+) delivered, (\d+) undeliverable, (\d+) expired; 1 STOP sent`).FindStringSubmatch(out)
	if sim == nil {
		t.Fatalf("no simulator summary (one bind, one STOP) in the output:\n%s", out)
	}
	if sim[1] != num(c.Parts) || sim[2] != num(c.Counts[unspoof.MessageDelivered]) || sim[3] != num(c.Counts[unspoof.MessageFailed]) ||
		sim[4] != num(c.Counts[unspoof.MessageExpired]) {
		t.Errorf("the simulator's counts %v disagree with the campaign's %v (%d parts)", sim[1:], c.Counts, c.Parts)
	}
	optouts := 0
	ms, _, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := s.FindOptOut(ctx, m.E164); err == nil {
			optouts++
		}
	}
	if optouts != 1 {
		t.Errorf("%d recipients opted out, want the one who replied STOP", optouts)
	}

	// Five reports went through the portal's forms; all but the stranger's are linked, the one
	// without a reference by its number, and their losses reached the suspects.
	reps, n, err := s.FindReports(ctx, unspoof.ReportFilter{})
	if err != nil {
		t.Fatal(err)
	}
	matched, byNumber := 0, 0
	var lost int64
	for _, r := range reps {
		if !strings.Contains(out, r.Number) {
			t.Errorf("report %s is not in the demo's output", r.Number)
		}
		if r.Status == unspoof.ReportMatched {
			matched++
			lost += r.LossMinor
			if r.Match == unspoof.MatchNumber {
				byNumber++
			}
		}
	}
	if n != 5 || matched != 4 || byNumber != 1 {
		t.Errorf("%d reports, %d matched (%d by number); want 5, 4 and 1", n, matched, byNumber)
	}
	if want := "linked: 4 of 5 to victims in the evidence (3 by reference, 1 by number), £" + num(lost/100) + fmt.Sprintf(".%02d", lost%100); !strings.Contains(out, want) {
		t.Errorf("demo output lacks %q:\n%s", want, out)
	}
	if !regexp.MustCompile(`sign in as "demo" with password [A-Z2-7]{16} `).MatchString(out) {
		t.Errorf("no one-time staff password in the output:\n%s", out)
	}

	out, _ = run(t, filepath.Join(dir, "ignored.db"), 0, args...)
	if !strings.Contains(out, "reusing the simulated dataset") || strings.Count(out, "already ingested") != 0 ||
		!strings.Contains(out, `campaign 1 "iSpoof demo alert": done`) {
		t.Errorf("second demo run did not reuse the files and start a clean store:\n%s", out)
	}

	// Another seed, where no user paid £100 at this tiny scale: nobody is selected, so no
	// campaign; victims who would report still do, by number.
	args[6] = "7"
	out, _ = run(t, filepath.Join(dir, "ignored.db"), 0, args...)
	if !strings.Contains(out, "holds another dataset") || !strings.Contains(out, "no high-tier mobile victims at this scale") ||
		!strings.Contains(out, "linked: 4 of 5 to victims in the evidence (0 by reference, 4 by number)") {
		t.Errorf("demo without victims to alert:\n%s", out)
	}
}

// TestDemoDashboard runs the demo as a newcomer would, serving, then opens its dashboard in a
// real browser with the printed one-time password, checks that the campaign and the reports
// are there and accessible, and stops the demo with Ctrl-C.
func TestDemoDashboard(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(binary, "demo", "--dir", dir, "--scale", "0.002", "--seed", "5", "--http", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	ready := make(chan bool, 1)
	go func() {
		for lines.Scan() {
			out.WriteString(lines.Text() + "\n")
			if strings.Contains(lines.Text(), "serving until Ctrl-C") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("demo ended before serving:\n%s\n%s", out.String(), stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("demo not serving after 3 minutes:\n%s", out.String())
	}
	m := regexp.MustCompile(`dashboard: +(http://\S+)/staff +sign in as "demo" with password (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no dashboard address and password in:\n%s", out.String())
	}
	webtest.RunBrowser(t, webtest.Scenario{
		BaseURL:      m[1],
		AxeEveryPage: true,
		Steps: []webtest.Step{
			{Goto: "/staff"},
			{Fill: &webtest.Field{Label: "Username", Value: "demo"}},
			{Fill: &webtest.Field{Label: "Password", Value: m[2]}},
			{Click: "Sign in"},
			{ExpectText: "Headline figures"},
			{ExpectText: "reports received (4 matched)"},
			{ExpectText: "alerts delivered"},
			{Screenshot: "demo-dashboard"},
			{Goto: "/staff/campaigns"},
			{ExpectText: "iSpoof demo alert"},
			{Screenshot: "demo-campaigns"},
			{Goto: "/staff/reports"},
			{ExpectText: "matched"},
			{Screenshot: "demo-reports"},
		},
	})
	if exited, err := stopProcess(cmd, syscall.SIGINT, 20*time.Second); !exited {
		t.Error("demo did not stop within 20 s of Ctrl-C")
	} else if err != nil {
		t.Errorf("demo after Ctrl-C: %v\n%s", err, stderr.String())
	}
}

// TestSMSCSimCmd runs `unspoof smsc-sim` as an operator rehearsing would: a campaign with the
// wrong password is refused with a clear message, with the right one its messages are sent and
// receipted (some undeliverable or expired, as the simulator was told), campaign status says
// why those did not arrive, and Ctrl-C makes the simulator print what it received.
func TestSMSCSimCmd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "unspoof.db")
	tmpl, list := filepath.Join(dir, "alert.txt"), filepath.Join(dir, "staff.txt")
	os.WriteFile(tmpl, []byte("Police test message, ref {{reference}}\n"), 0o600)
	var numbers strings.Builder
	for i := range 12 {
		fmt.Fprintf(&numbers, "07911 1234%02d\n", i)
	}
	os.WriteFile(list, []byte(numbers.String()), 0o600)
	run(t, db, 0, "campaign", "create", "--name", "rehearsal", "--hours", "0-24", "--template", tmpl,
		"--sender-id", "447700900999", "--test-list", list, "--as", "alice")

	// The simulator takes a port of its own (:0) and says which: a port picked here and freed
	// could be taken by another test's socket before the simulator binds it.
	sim := exec.Command(binary, "smsc-sim", "--listen", "127.0.0.1:0", "--receipt-delay", "50ms", "--undeliverable", "0.3", "--expired", "0.2")
	sim.Env = append(os.Environ(), "UNSPOOF_SMPP_PASSWORD=rehearse")
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var simOut strings.Builder
	var addr string
	listening := regexp.MustCompile(`^SMSC SIMULATOR .* on (127\.0\.0\.1:\d+):`)
	for addr == "" && lines.Scan() {
		simOut.WriteString(lines.Text() + "\n")
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("smsc-sim did not say where it listens:\n%s", simOut.String())
	}
	simDone := make(chan struct{})
	go func() { // the rest of what it prints, read while it runs
		defer close(simDone)
		for lines.Scan() {
			simOut.WriteString(lines.Text() + "\n")
		}
	}()

	for flags, want := range map[string]string{
		"--sender-ton 3":                 "--sender-ton and --sender-npi go together",
		"--sender-ton 9 --sender-npi 1":  "--sender-ton 9: SMPP 3.4 defines 0 to 6",
		"--sender-ton 1 --sender-npi 20": "--sender-npi 20: SMPP 3.4 defines",
	} {
		if _, stderr := run(t, db, 2, append([]string{"campaign", "run", "1", "--smsc", addr}, strings.Fields(flags)...)...); !strings.Contains(stderr, want) {
			t.Errorf("campaign run %s: %s, want %q", flags, stderr, want)
		}
	}
	cmd := exec.Command(binary, "--db", db, "campaign", "run", "1", "--smsc", addr, "--no-progress", "--linger", "5s")
	cmd.Env = append(os.Environ(), "UNSPOOF_SMPP_PASSWORD=wrong")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 ||
		!strings.Contains(string(out), "refused the bind (ESME_RINVPASWD): check --system-id") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
	cmd = exec.Command(binary, "--db", db, "campaign", "run", "1", "--smsc", addr, "--no-progress", "--linger", "5s")
	cmd.Env = append(os.Environ(), "UNSPOOF_SMPP_PASSWORD=rehearse")
	out, err = cmd.CombinedOutput()
	outcome := regexp.MustCompile(`delivered (\d+), failed (\d+), expired (\d+)`).FindStringSubmatch(string(out))
	if err != nil || outcome == nil || outcome[2] == "0" || outcome[3] == "0" {
		t.Fatalf("right password: want some delivered, some failed and some expired: %v\n%s", err, out)
	}
	sim.Process.Signal(syscall.SIGINT)
	<-simDone
	if err := sim.Wait(); err != nil {
		t.Errorf("smsc-sim after Ctrl-C: %v", err)
	}
	for _, want := range []string{"SMSC SIMULATOR (nothing is sent to any phone)", "1 bind, 12 messages accepted",
		fmt.Sprintf("receipts: %s delivered, %s undeliverable, %s expired", outcome[1], outcome[2], outcome[3])} {
		if !strings.Contains(simOut.String(), want) {
			t.Errorf("smsc-sim printed no %q:\n%s", want, simOut.String())
		}
	}

	// campaign status says why the others did not arrive: the receipts' states, counted as
	// the campaign counted them, and what each means.
	status, _ := run(t, db, 0, "campaign", "status", "1")
	for i, want := range []struct{ state, stat string }{{unspoof.MessageFailed, "UNDELIV"}, {unspoof.MessageExpired, "EXPIRED"}} {
		line := regexp.MustCompile(`(?m)^  ` + want.state + ` +` + want.stat + ` \d{3} +(\d+) +(.+)$`).FindStringSubmatch(status)
		if line == nil || line[1] != outcome[i+2] || line[2] != unspoof.ReasonMeaning(want.stat) {
			t.Errorf("campaign status does not explain the %s %s messages (%s):\n%s", outcome[i+2], want.state, want.stat, status)
		}
	}

	// The people the text did not reach, for a letter: export lists exactly them, and is audited.
	export := filepath.Join(dir, "not-reached.csv")
	run(t, db, 0, "campaign", "export", "1", "--out", export)
	f, err := os.Open(export)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) == 0 {
		t.Fatalf("campaign export: %v", err)
	}
	states := map[string]int{}
	for _, r := range rows[1:] {
		states[r[2]]++
		if !strings.HasPrefix(r[0], "+447911") || r[1] == "" || r[3] == "" {
			t.Errorf("export row %q", r)
		}
	}
	if rows[0][0] != "number" || strconv.Itoa(states[unspoof.MessageFailed]) != outcome[2] ||
		strconv.Itoa(states[unspoof.MessageExpired]) != outcome[3] || len(states) != 2 {
		t.Errorf("campaign export: %v, want %s failed and %s expired", states, outcome[2], outcome[3])
	}
	if audit, _ := run(t, db, 0, "audit", "export", "--format", "jsonl"); !strings.Contains(audit, `"campaign.export"`) {
		t.Errorf("the export is not in the audit log:\n%s", audit)
	}
	if _, stderr := run(t, db, 2, "campaign", "export", "1", "--state", "lost"); !strings.Contains(stderr, `--state "lost"`) {
		t.Errorf("an unknown state: %s", stderr)
	}
}
