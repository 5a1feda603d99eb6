package main_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/sqlite"
)

// purgeStore is what TestPurge seeds and checks.
type purgeStore interface {
	unspoof.EvidenceStore
	unspoof.ReportStore
	unspoof.CampaignStore
}

func openPurgeStore(t *testing.T, db string) purgeStore {
	t.Helper()
	ctx := context.Background()
	var (
		s   purgeStore
		err error
	)
	if strings.HasPrefix(db, "postgres") {
		s, err = postgres.Open(ctx, db)
	} else {
		s, err = sqlite.Open(ctx, db)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPurge runs purge as the retention policy's operator would, on each engine: a dry run, a
// refused run without a reason, the purge, its entry in the exported audit log, and a second
// purge that finds nothing. Only the old report and the old final message of the finished
// campaign go.
func TestPurge(t *testing.T) {
	t.Parallel()
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openPurgeStore(t, db)
			old := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
			for i, at := range []time.Time{old, time.Now().Add(-time.Hour)} {
				r := &unspoof.Report{Number: "R-PURGE00" + string(rune('1'+i)), PhoneGiven: "07400 123456", E164: "+447400123456",
					Story: "they said they were my bank", ContactBy: "none", Consent: true, CreatedAt: at}
				if err := s.CreateReport(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			c := &unspoof.Campaign{Name: "old alert", Template: "hi {{reference}}", SenderID: "447700900999", Selection: "tier=high",
				QuietStart: 9, QuietEnd: 20, CreatedBy: "alice", CreatedAt: old}
			ms := []*unspoof.Message{{E164: "+447400123456", Reference: "K7QM-3XHT-9PXC", Text: "hi K7QM-3XHT-9PXC", Parts: 1, TZ: "Europe/London"},
				{E164: "+447400123457", Reference: "HFCG-NDWJ-88HS", Text: "hi HFCG-NDWJ-88HS", Parts: 1, TZ: "Europe/London"}}
			if err := s.CreateCampaign(ctx, c, ms); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, Limit: 2}, old); err != nil {
				t.Fatal(err)
			}
			if _, err := s.UpdateMessages(ctx, []unspoof.MessageUpdate{
				{ID: ms[0].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageFailed, Reason: "ESME_RINVDSTADR", At: old},
				{ID: ms[1].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"1"}, Keys: []string{"1"}, At: old},
			}); err != nil {
				t.Fatal(err)
			}
			from := unspoof.CampaignDraft
			for _, to := range []string{unspoof.CampaignApproved, unspoof.CampaignRunning, unspoof.CampaignDone} {
				if err := s.SetCampaignState(ctx, c.ID, []string{from}, to, "bob", old); err != nil {
					t.Fatal(err)
				}
				from = to
			}

			args := []string{"purge", "--reports-before", "2025-06-01", "--messages-before", "2025-06-01"}
			out, _ := run(t, db, 0, append(args, "--dry-run")...)
			for _, want := range []string{"dry run: nothing deleted", "would delete 1 reports received before 2025-06-01T00:00:00Z",
				"would delete 1 messages of finished campaigns"} {
				if !strings.Contains(out, want) {
					t.Errorf("dry run said:\n%s\nwant %q", out, want)
				}
			}
			if _, stderr := run(t, db, 2, args...); !strings.Contains(stderr, "--reason is required") {
				t.Errorf("a purge without a reason: %s", stderr)
			}
			if _, stderr := run(t, db, 2, "purge", "--reports-before", "2999-01-01", "--dry-run"); !strings.Contains(stderr, "in the future") {
				t.Errorf("a date in the future: %s", stderr)
			}
			out, _ = run(t, db, 0, append(args, "--as", "carol", "--reason", "retention: 12 months")...)
			if !strings.Contains(out, "deleted 1 reports") || !strings.Contains(out, "deleted 1 messages") ||
				!strings.Contains(out, "recorded in the audit log") {
				t.Errorf("purge said:\n%s", out)
			}
			if rs, n, err := s.FindReports(ctx, unspoof.ReportFilter{}); err != nil || n != 1 || rs[0].Number != "R-PURGE002" {
				t.Errorf("after the purge: %d reports, %v; want only the recent one", n, err)
			}
			if got, err := s.FindCampaignByID(ctx, c.ID); err != nil || got.Total() != 1 || got.Counts[unspoof.MessageSubmitted] != 1 {
				t.Errorf("after the purge the campaign has %v, %v; want the submitted message only", got.Counts, err)
			}

			out, _ = run(t, db, 0, "audit", "export", "--format", "jsonl")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var last struct {
				ID                                int64
				At, Actor, Action, Object, Detail string
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
				t.Fatalf("audit export: %v\n%s", err, out)
			}
			if last.Action != "purge" || last.Actor != "carol" || last.ID == 0 ||
				!strings.Contains(last.Detail, "reports before 2025-06-01T00:00:00Z: 1") || !strings.Contains(last.Detail, "retention: 12 months") {
				t.Errorf("the newest audit entry is %+v, want the purge", last)
			}
			if _, err := time.Parse(time.RFC3339, last.At); err != nil {
				t.Errorf("audit export time %q: %v", last.At, err)
			}
			// The export is itself audited; the CSV has the same columns, oldest first.
			out, _ = run(t, db, 0, "audit", "export", "--format", "csv")
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) != len(lines)+2 || strings.Join(recs[0], ",") != "id,at,actor,action,object,detail" ||
				recs[len(recs)-1][3] != "audit.export" || recs[len(recs)-2][3] != "purge" {
				t.Errorf("audit export as CSV (%v):\n%s", err, out)
			}

			out, _ = run(t, db, 0, append(args, "--as", "carol", "--reason", "again")...)
			if !strings.Contains(out, "deleted 0 reports") || !strings.Contains(out, "deleted 0 messages") {
				t.Errorf("a second purge said:\n%s", out)
			}
		})
	}
}
