package main_test

import (
	"bytes"
	"context"
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
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/simulate"
	"github.com/unspoof/unspoof/smpp/smsctest"
	"github.com/unspoof/unspoof/sqlite"
)

const alertTemplate = `Police: we believe fraudsters pretending to be {{org}} called you. Your reference is {{reference}}. Type {{portal}} into your browser to tell us what happened. We will never ask for your bank details.`

// TestCampaignKilled runs the whole alert workflow as staff would, on each engine: simulate,
// ingest, rank, create, approve (not by the creator), run against the npm SMSC, kill the
// sender with SIGKILL mid-campaign, run again. The SMSC's log must show no number twice, and
// every message must be delivered once or marked ambiguous (the ones the kill caught in flight).
func TestCampaignKilled(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "case")
	run(t, filepath.Join(t.TempDir(), "unused.db"), 0, "simulate", "--preset", "ispoof", "--scale", "0.01", "--seed", "8", "--out", data)
	m, err := simulate.ReadManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	tpl := filepath.Join(t.TempDir(), "alert.txt")
	if err := os.WriteFile(tpl, []byte(alertTemplate+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
				run(t, db, 0, "ingest", "--kind", kind, filepath.Join(data, m.File(kind).Name))
			}
			run(t, db, 0, "victims", "rank", "--rule", "met-2022")
			create := []string{"campaign", "create", "--name", "wave 1", "--template", tpl, "--sender-id", "447700900999",
				"--portal", "met.police.uk/ispoof", "--hours", "0-24", "--as", "alice"}
			out, lint := run(t, db, 0, create...)
			total := extract(t, out, `campaign 1 "wave 1": ([\d,]+) messages`)
			if total < 100 {
				t.Fatalf("only %d messages: %s", total, out)
			}
			if !strings.Contains(lint, "worst case (") || !strings.Contains(out, "synthetic evidence") {
				t.Errorf("create did not show the worst case or the synthetic warning:\n%s\n%s", lint, out)
			}
			if _, stderr := run(t, db, 1, "campaign", "approve", "1", "--as", "Alice"); !strings.Contains(stderr, "cannot also approve") {
				t.Errorf("approval by the creator: %s", stderr)
			}
			if _, stderr := run(t, db, 1, "campaign", "run", "1", "--smsc", "127.0.0.1:1"); !strings.Contains(stderr, "not approved") {
				t.Errorf("running a draft: %s", stderr)
			}
			run(t, db, 0, "campaign", "approve", "1", "--as", "bob")
			if _, stderr := run(t, db, 2, "campaign", "run", "1", "--smsc", "198.51.100.7:2775"); !strings.Contains(stderr, "synthetic") {
				t.Errorf("a synthetic campaign through a remote SMSC: %s", stderr)
			}

			dry, _ := run(t, db, 0, "campaign", "run", "1", "--dry-run", "--rate", "150", "--smsc", "198.51.100.7:2775")
			for _, want := range []string{"nothing sent", num(total) + " pending messages", "Europe/London", "now",
				"would be refused", "to +447", "Your reference is "} {
				if !strings.Contains(dry, want) {
					t.Errorf("dry run does not say %q:\n%s", want, dry)
				}
			}

			peer := smsctest.Start(t, smsctest.Options{ReceiptDelay: 20 * time.Millisecond})
			runArgs := []string{"--db", db, "campaign", "run", "1", "--smsc", peer.Addr, "--rate", "150", "--linger", "5s", "--no-progress"}
			sender := exec.Command(binary, runArgs...)
			sender.Env = append(os.Environ(), "UNSPOOF_SMPP_PASSWORD=secret")
			var sout, serr bytes.Buffer
			sender.Stdout, sender.Stderr = &sout, &serr
			if err := sender.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if subs, _ := peer.Submits(); len(subs) >= 60 {
					break
				}
				if time.Now().After(deadline) {
					sender.Process.Kill()
					t.Fatalf("the sender never got going:\n%s\n%s", sout.String(), serr.String())
				}
			}
			if err := sender.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			sender.Wait()
			killedAt, _ := peer.Submits()

			status, _ := run(t, db, 0, "campaign", "status", "1")
			if !strings.Contains(status, "running") {
				t.Errorf("status after the kill:\n%s", status)
			}
			// The second run finds the first one's process gone and takes over at once.
			again := exec.Command(binary, runArgs...)
			again.Env = sender.Env
			var aout, aerr bytes.Buffer
			again.Stdout, again.Stderr = &aout, &aerr
			if err := again.Run(); err != nil {
				t.Fatalf("second run: %v\n%s\n%s", err, aout.String(), aerr.String())
			}
			inFlight := 0
			if g := regexp.MustCompile(`found (\d+) messages? in flight`).FindStringSubmatch(aout.String()); g != nil {
				inFlight, _ = strconv.Atoi(g[1])
			}

			subs, err := peer.Submits()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, s := range subs {
				seen["+"+s.Dest]++
			}
			msgs := findMessages(t, db)
			states := map[string]int{}
			for _, msg := range msgs {
				states[msg.State]++
				n := seen[msg.E164]
				switch {
				case n > msg.Parts:
					t.Errorf("%s: the SMSC accepted %d parts for a %d-part message: sent twice", msg.E164, n, msg.Parts)
				case msg.State == unspoof.MessageDelivered && n != msg.Parts:
					t.Errorf("%s is delivered but the SMSC has %d of its %d parts", msg.E164, n, msg.Parts)
				case msg.State != unspoof.MessageDelivered && msg.State != unspoof.MessageAmbiguous:
					t.Errorf("%s ended %s (%s)", msg.E164, msg.State, msg.Reason)
				}
			}
			if len(msgs) != int(total) || states[unspoof.MessageDelivered]+states[unspoof.MessageAmbiguous] != int(total) ||
				states[unspoof.MessageAmbiguous] != inFlight {
				t.Errorf("%d messages, states %v; the second run reported %d found in flight\n%s", len(msgs), states, inFlight, aout.String())
			}
			if len(seen) > int(total) || len(killedAt) >= len(subs) {
				t.Errorf("SMSC: %d numbers, %d parts at the kill, %d at the end", len(seen), len(killedAt), len(subs))
			}
			status, _ = run(t, db, 0, "campaign", "status", "1")
			if !strings.Contains(status, "done") || (inFlight > 0 && !strings.Contains(status, "ambiguous: may or may not")) {
				t.Errorf("final status:\n%s", status)
			}
			t.Logf("%s: %d messages, %d parts accepted before the kill, %d caught in flight", engine, total, len(killedAt), inFlight)

			// Never twice across campaigns: everyone is alerted or ambiguous, so a second
			// campaign selects nobody.
			create[3] = "wave 2"
			if _, stderr := run(t, db, 2, create...); !strings.Contains(stderr, "selects nobody") {
				t.Errorf("a second campaign over the same victims: %s", stderr)
			}
			// A new ranking does not make them new again (the numbers still new are those with no
			// SMS channel, which the campaign did not select).
			if out, _ := run(t, db, 0, "victims", "rank", "--rule", "met-2022"); !strings.Contains(out, ", alerted "+num(total)+", opted-out 0") {
				t.Errorf("rank after the campaign:\n%s", out)
			}
			if out, _ := run(t, db, 0, "victims", "list", "--status", "new", "--channel", "sms"); !strings.Contains(out, "0 of 0 victims") {
				t.Errorf("victims list --status new --channel sms after the campaign:\n%s", out)
			}
			if _, stderr := run(t, db, 2, create...); !strings.Contains(stderr, "selects nobody") {
				t.Errorf("a second campaign after re-ranking: %s", stderr)
			}
			// Retrying the ambiguous ones needs a reason, and is audited.
			if inFlight > 0 {
				if _, stderr := run(t, db, 2, "campaign", "retry-ambiguous", "1", "--as", "bob"); !strings.Contains(stderr, "--reason") {
					t.Errorf("retry without a reason: %s", stderr)
				}
				out, _ := run(t, db, 0, "campaign", "retry-ambiguous", "1", "--as", "bob", "--reason", "SMSC confirmed none arrived")
				if !strings.Contains(out, strconv.Itoa(inFlight)+" ambiguous message") {
					t.Errorf("retry-ambiguous: %s", out)
				}
			}
		})
	}
}

func extract(t *testing.T, s, re string) int64 {
	t.Helper()
	g := regexp.MustCompile(re).FindStringSubmatch(s)
	if g == nil {
		t.Fatalf("%q not found in:\n%s", re, s)
	}
	n, _ := strconv.ParseInt(strings.ReplaceAll(g[1], ",", ""), 10, 64)
	return n
}

// findMessages reads campaign 1's messages straight from the store.
func findMessages(t *testing.T, db string) []*unspoof.Message {
	t.Helper()
	ctx := context.Background()
	var s unspoof.CampaignStore
	if strings.HasPrefix(db, "postgres") {
		pg, err := postgres.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		s = pg
	} else {
		lite, err := sqlite.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer lite.Close()
		s = lite
	}
	ms, _, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: 1})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
