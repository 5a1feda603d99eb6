package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/victim"
)

// campaignFixture ranks the victims fixture with met-2022 (three numbers) and returns the store
// as a CampaignStore.
func campaignFixture(t *testing.T, open Opener) (unspoof.CampaignStore, unspoof.VictimStore) {
	t.Helper()
	vs := victimFixture(t, open(t))
	cs, ok := vs.(unspoof.CampaignStore)
	if !ok {
		t.Fatalf("%T does not implement unspoof.CampaignStore", vs)
	}
	rank(t, vs, victim.RuleMet2022)
	return cs, vs
}

// newCampaign creates a campaign of one message per recipient, texts "hi <reference>", parts
// as given (1 if parts is short), all in Europe/London.
func newCampaign(t *testing.T, s unspoof.CampaignStore, name string, test bool, rs []*unspoof.Recipient, parts ...int) (*unspoof.Campaign, []*unspoof.Message) {
	t.Helper()
	c := &unspoof.Campaign{Name: name, Template: "hi {{reference}}", SenderID: "POLICE", Selection: "all", Test: test,
		QuietStart: 9, QuietEnd: 20, CreatedBy: "alice", CreatedAt: t0}
	var ms []*unspoof.Message
	for i, r := range rs {
		p := 1
		if i < len(parts) {
			p = parts[i]
		}
		ms = append(ms, &unspoof.Message{E164: r.E164, Reference: r.Reference, Text: "hi " + r.Reference, Parts: p, TZ: "Europe/London"})
	}
	must(t, s.CreateCampaign(context.Background(), c, ms))
	return c, ms
}

func counts(t *testing.T, s unspoof.CampaignStore, id int64) string {
	t.Helper()
	c, err := s.FindCampaignByID(context.Background(), id)
	must(t, err)
	var out []string
	for _, st := range unspoof.MessageStates {
		if n := c.Counts[st]; n > 0 {
			out = append(out, fmt.Sprintf("%s=%d", st, n))
		}
	}
	return strings.Join(out, " ")
}

func testCampaignLifecycle(t *testing.T, open Opener) {
	s, _ := campaignFixture(t, open)
	ctx := context.Background()

	rs, err := s.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	var got []string
	for _, r := range rs {
		if !victim.ValidCode(r.Reference) {
			t.Errorf("recipient %s: reference %q", r.E164, r.Reference)
		}
		got = append(got, r.E164+" "+r.Org)
	}
	want := []string{"+447700900001 Northbridge Bank", "+442071234567 Revenue Office", "+447700900002 Revenue Office"}
	if !slices.Equal(got, want) {
		t.Errorf("recipients = %q, want %q (rank order, organisation impersonated most)", got, want)
	}
	letter := unspoof.ChannelLetter
	if rs, err := s.FindRecipients(ctx, unspoof.RecipientFilter{Channel: &letter}); err != nil || len(rs) != 1 || rs[0].E164 != "+442071234567" {
		t.Errorf("recipients by channel letter = %v, %v", rs, err)
	}

	test, _ := newCampaign(t, s, "staff test", true, rs[:1])
	c, ms := newCampaign(t, s, "first alert", false, rs[:2], 1, 2)
	if c.ID == 0 || c.ID == test.ID || ms[0].ID == 0 || ms[1].CampaignID != c.ID {
		t.Fatalf("ids not set: campaign %d, messages %+v", c.ID, ms)
	}
	if err := s.CreateCampaign(ctx, &unspoof.Campaign{Name: "first alert", CreatedAt: t0}, nil); unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Errorf("a second campaign of the same name: %v, want ECONFLICT", err)
	}
	dup := []*unspoof.Message{{E164: "+447700900001", TZ: "Europe/London"}, {E164: "+447700900001", TZ: "Europe/London"}}
	if err := s.CreateCampaign(ctx, &unspoof.Campaign{Name: "dup", CreatedAt: t0}, dup); unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Errorf("a campaign listing a number twice: %v, want ECONFLICT", err)
	}
	if cs, _ := s.FindCampaigns(ctx); len(cs) != 2 {
		t.Errorf("a failed create left a campaign behind: %d campaigns", len(cs))
	}

	// The two numbers with a live message are no longer recipients; the test campaign does not count.
	rs2, err := s.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	if len(rs2) != 1 || rs2[0].E164 != "+447700900002" {
		t.Errorf("recipients after a campaign = %v, want only +447700900002", rs2)
	}

	got1, err := s.FindCampaignByID(ctx, c.ID)
	must(t, err)
	if got1.Name != "first alert" || got1.State != unspoof.CampaignDraft || got1.CreatedBy != "alice" || !got1.CreatedAt.Equal(t0) ||
		got1.Total() != 2 || got1.Parts != 3 || got1.QuietStart != 9 || got1.QuietEnd != 20 || got1.Test {
		t.Errorf("campaign = %+v", got1)
	}
	if _, err := s.FindCampaignByID(ctx, 999); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("FindCampaignByID(999) = %v, want ENOTFOUND", err)
	}
	at := t0.Add(time.Hour)
	if err := s.SetCampaignState(ctx, c.ID, []string{unspoof.CampaignApproved}, unspoof.CampaignRunning, "bob", at); unspoof.ErrorCode(err) != unspoof.ECONFLICT {
		t.Errorf("running a draft: %v, want ECONFLICT", err)
	}
	must(t, s.SetCampaignState(ctx, c.ID, []string{unspoof.CampaignDraft}, unspoof.CampaignApproved, "bob", at))
	got1, _ = s.FindCampaignByID(ctx, c.ID)
	if got1.State != unspoof.CampaignApproved || got1.ApprovedBy != "bob" || !got1.ApprovedAt.Equal(at) {
		t.Errorf("approved campaign = %+v", got1)
	}
	must(t, s.SetCampaignState(ctx, c.ID, []string{unspoof.CampaignApproved}, unspoof.CampaignCancelled, "bob", at))
	if got := counts(t, s, c.ID); got != "suppressed=2" {
		t.Errorf("cancelled campaign's messages: %s, want suppressed=2", got)
	}
	if rs, _ := s.FindRecipients(ctx, unspoof.RecipientFilter{}); len(rs) != 3 {
		t.Errorf("numbers of a cancelled campaign can be alerted again: %d recipients, want 3", len(rs))
	}

	must(t, s.Audit(ctx, &unspoof.AuditEntry{At: at, Actor: "bob", Action: "campaign.approve", Object: "campaign 2"}))
	must(t, s.Audit(ctx, &unspoof.AuditEntry{At: at, Actor: "bob", Action: "campaign.cancel", Object: "campaign 2", Detail: "typo"}))
	es, err := s.FindAudit(ctx, 10)
	must(t, err)
	if len(es) != 2 || es[0].Action != "campaign.cancel" || es[0].Detail != "typo" || !es[1].At.Equal(at) || es[1].ID == 0 {
		t.Errorf("audit log = %+v", es)
	}
}

func testMessageStateMachine(t *testing.T, open Opener) {
	s, _ := campaignFixture(t, open)
	ctx := context.Background()
	rs, err := s.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	c, _ := newCampaign(t, s, "alert", false, rs, 1, 2, 1)
	at := t0.Add(time.Hour)
	claim := func(n int, tzs ...string) []*unspoof.Message {
		t.Helper()
		ms, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: tzs, Limit: n}, at)
		must(t, err)
		return ms
	}
	if tzs, err := s.PendingTZs(ctx, c.ID); err != nil || !slices.Equal(tzs, []string{"Europe/London"}) {
		t.Errorf("PendingTZs = %q, %v", tzs, err)
	}
	if ms := claim(3, "America/New_York"); len(ms) != 0 {
		t.Errorf("claimed %d messages of another time zone", len(ms))
	}
	ms := claim(2, "Europe/London")
	if len(ms) != 2 || ms[0].E164 != rs[0].E164 || ms[1].E164 != rs[1].E164 || ms[0].State != unspoof.MessageSubmitting ||
		ms[1].Parts != 2 || ms[0].Text != "hi "+rs[0].Reference {
		t.Fatalf("claimed %+v", ms)
	}
	if state, err := s.CampaignState(ctx, c.ID); err != nil || state != unspoof.CampaignDraft {
		t.Errorf("CampaignState = %q, %v", state, err)
	}
	if _, err := s.CampaignState(ctx, 999); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("CampaignState(999) = %v", err)
	}
	if past, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, AfterID: ms[1].ID + 1000, Limit: 5}, at); err != nil || len(past) != 0 {
		t.Errorf("a claim past every id claimed %d, %v", len(past), err)
	}
	if again, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, AfterID: ms[1].ID, Limit: 2}, at); err != nil ||
		len(again) != 1 || again[0].E164 != rs[2].E164 {
		t.Fatalf("second claim = %+v, %v; want only the third message", again, err)
	}
	if got := counts(t, s, c.ID); got != "submitting=3" {
		t.Errorf("after claims: %s", got)
	}

	// A receipt that arrives before the submit response is held, then applied.
	early := &unspoof.Receipt{SMSCID: "2623", Keys: []string{"2623", "9763"}, State: "DELIVRD", At: at}
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{early}); err != nil || n != 0 {
		t.Errorf("early receipt applied %d, %v; want held", n, err)
	}
	up := func(want int, us ...unspoof.MessageUpdate) {
		t.Helper()
		n, err := s.UpdateMessages(ctx, us)
		must(t, err)
		if n != want {
			t.Errorf("UpdateMessages applied %d, want %d", n, want)
		}
	}
	up(2,
		unspoof.MessageUpdate{ID: ms[0].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"0A3F"},
			Keys: []string{"a3f", "2623"}, Attempts: 1, At: at},
		unspoof.MessageUpdate{ID: ms[1].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"B1", "B2"},
			Keys: []string{"b1", "177", "b2", "178"}, Attempts: 1, At: at},
		// Backwards or from a state the message is not in: ignored.
		unspoof.MessageUpdate{ID: ms[0].ID, From: unspoof.MessagePending, To: unspoof.MessageFailed, At: at},
	)
	m0, _, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: c.ID, E164: &rs[0].E164})
	must(t, err)
	if len(m0) != 1 || m0[0].State != unspoof.MessageDelivered || !slices.Equal(m0[0].SMSCIDs, []string{"0A3F"}) ||
		m0[0].Attempts != 1 || !m0[0].SentAt.Equal(at) || !m0[0].DoneAt.Equal(at) || m0[0].Delivered != 1 {
		t.Errorf("message with an early receipt = %+v, want delivered", m0)
	}

	// A two-part message is delivered when both parts are; a repeated receipt changes nothing.
	r1 := &unspoof.Receipt{SMSCID: "177", Keys: []string{"177", "375"}, State: "DELIVRD", At: at}
	r1again := &unspoof.Receipt{SMSCID: "177", Keys: []string{"177", "375"}, State: "DELIVRD", At: at}
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{r1, r1again}); err != nil || n != 1 {
		t.Errorf("first part's receipt (sent twice) applied %d, %v; want 1", n, err)
	}
	if got := counts(t, s, c.ID); got != "submitting=1 submitted=1 delivered=1" {
		t.Errorf("after one part's receipt: %s", got)
	}
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{{SMSCID: "b2", Keys: []string{"b2", "178"}, State: "DELIVRD", At: at}}); err != nil || n != 1 {
		t.Errorf("second part's receipt applied %d, %v", n, err)
	}
	if got := counts(t, s, c.ID); got != "submitting=1 delivered=2" {
		t.Errorf("after both parts' receipts: %s", got)
	}
	// A receipt for nothing we sent is kept, held, and harms nothing.
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{{SMSCID: "ffff", Keys: []string{"ffff"}, State: "UNDELIV", At: at}}); err != nil || n != 0 {
		t.Errorf("stray receipt applied %d, %v", n, err)
	}

	// The third is caught in flight by a crash: ambiguous, retried only on request.
	if n, err := s.MarkAmbiguous(ctx, c.ID, "in flight when the sender stopped", at); err != nil || n != 1 {
		t.Errorf("MarkAmbiguous = %d, %v", n, err)
	}
	if ms := claim(5, "Europe/London"); len(ms) != 0 {
		t.Errorf("claimed an ambiguous message: %+v", ms)
	}
	if n, err := s.RetryAmbiguous(ctx, c.ID, at); err != nil || n != 1 {
		t.Errorf("RetryAmbiguous = %d, %v", n, err)
	}
	if got := counts(t, s, c.ID); got != "pending=1 delivered=2" {
		t.Errorf("after retry: %s", got)
	}

	// An opt-out suppresses pending messages, and claim never hands them out.
	n, err := s.AddOptOut(ctx, &unspoof.OptOut{E164: rs[2].E164, Source: "sms STOP", Text: "stop", At: at})
	if err != nil || n != 1 {
		t.Errorf("AddOptOut suppressed %d, %v; want 1", n, err)
	}
	if _, err := s.AddOptOut(ctx, &unspoof.OptOut{E164: rs[2].E164, Source: "sms STOP", At: at}); err != nil {
		t.Errorf("a second STOP: %v", err)
	}
	o, err := s.FindOptOut(ctx, rs[2].E164)
	if err != nil || o.Source != "sms STOP" || o.Text != "stop" || !o.At.Equal(at) {
		t.Errorf("FindOptOut = %+v, %v", o, err)
	}
	if _, err := s.FindOptOut(ctx, rs[0].E164); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("FindOptOut of a number that never opted out: %v", err)
	}
	if got := counts(t, s, c.ID); got != "delivered=2 suppressed=1" {
		t.Errorf("after opt-out: %s", got)
	}
	if rs, _ := s.FindRecipients(ctx, unspoof.RecipientFilter{}); len(rs) != 0 {
		t.Errorf("recipients include alerted or opted-out numbers: %v", rs)
	}
	if n, err := s.SubmittedSince(ctx, at); err != nil || n != 2 {
		t.Errorf("SubmittedSince = %d, %v; want 2", n, err)
	}
	if n, err := s.SubmittedSince(ctx, at.Add(time.Millisecond)); err != nil || n != 0 {
		t.Errorf("SubmittedSince(later) = %d, %v; want 0", n, err)
	}
}

func testCampaignFailures(t *testing.T, open Opener) {
	s, _ := campaignFixture(t, open)
	ctx := context.Background()
	rs, err := s.FindRecipients(ctx, unspoof.RecipientFilter{})
	must(t, err)
	c, _ := newCampaign(t, s, "alert", false, rs)
	at := t0.Add(time.Hour)
	ms, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, Limit: 3}, at)
	must(t, err)
	_, err = s.UpdateMessages(ctx, []unspoof.MessageUpdate{
		{ID: ms[0].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageFailed, Reason: "ESME_RINVDSTADR", Attempts: 1, At: at},
		{ID: ms[1].ID, From: unspoof.MessageSubmitting, To: unspoof.MessagePending, Reason: "ESME_RTHROTTLED", Attempts: 3, At: at},
		{ID: ms[2].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"x9"}, Keys: []string{"x9"}, At: at},
	})
	must(t, err)
	_, err = s.ApplyReceipts(ctx, []*unspoof.Receipt{{SMSCID: "X9", Keys: []string{"x9"}, State: "EXPIRED", Err: "000", At: at}})
	must(t, err)
	got, n, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: c.ID})
	must(t, err)
	if n != 3 || got[0].State != unspoof.MessageFailed || got[0].Reason != "ESME_RINVDSTADR" || !got[0].DoneAt.Equal(at) ||
		got[1].State != unspoof.MessagePending || got[1].Attempts != 3 ||
		got[2].State != unspoof.MessageExpired || got[2].Reason != "EXPIRED 000" {
		for _, m := range got {
			t.Errorf("message %+v", m)
		}
	}
	failed := unspoof.MessageFailed
	if got, n, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: c.ID, State: &failed}); err != nil || n != 1 || len(got) != 1 {
		t.Errorf("FindMessages(failed) = %d, %v", n, err)
	}

	// Why messages did not arrive, for campaign status: undelivered states only, most first,
	// then by state. The throttled message, pending again, is suppressed by an opt-out.
	if n, err := s.AddOptOut(ctx, &unspoof.OptOut{E164: ms[1].E164, Source: "sms STOP", At: at}); err != nil || n != 1 {
		t.Fatalf("AddOptOut = %d, %v; want 1 message suppressed", n, err)
	}
	reasons, err := s.MessageReasons(ctx, c.ID)
	must(t, err)
	if want := []unspoof.ReasonCount{
		{State: unspoof.MessageExpired, Reason: "EXPIRED 000", Messages: 1},
		{State: unspoof.MessageFailed, Reason: "ESME_RINVDSTADR", Messages: 1},
		{State: unspoof.MessageSuppressed, Reason: "opted out", Messages: 1},
	}; !slices.Equal(reasons, want) {
		t.Errorf("MessageReasons = %+v, want %+v", reasons, want)
	}
	if reasons, err := s.MessageReasons(ctx, c.ID+1); err != nil || len(reasons) != 0 {
		t.Errorf("MessageReasons(another campaign) = %+v, %v", reasons, err)
	}

	// One process runs a campaign at a time; a holder that stopped renewing can be replaced.
	must(t, s.AcquireRun(ctx, c.ID, "host:1", at, at.Add(-10*time.Second)))
	must(t, s.AcquireRun(ctx, c.ID, "host:1", at.Add(time.Second), at.Add(-9*time.Second))) // renewal
	if err := s.AcquireRun(ctx, c.ID, "host:2", at.Add(2*time.Second), at.Add(-8*time.Second)); unspoof.ErrorCode(err) != unspoof.ECONFLICT ||
		!strings.Contains(err.Error(), "host:1") {
		t.Errorf("a second runner: %v, want ECONFLICT naming host:1", err)
	}
	must(t, s.AcquireRun(ctx, c.ID, "host:2", at.Add(20*time.Second), at.Add(10*time.Second))) // host:1 went quiet
	must(t, s.ReleaseRun(ctx, c.ID, "host:2"))
	must(t, s.AcquireRun(ctx, c.ID, "host:3", at.Add(21*time.Second), at.Add(11*time.Second)))
	if err := s.AcquireRun(ctx, 999, "host:3", at, at); unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		t.Errorf("AcquireRun(999) = %v", err)
	}
}

// testOutcomeBatches: a batch of updates or receipts has the effect of applying them one at a
// time, in order, however the engine batches them: the same message twice in one batch, the
// parts of a message receipted together, a repeat, and SMSC ids that look alike.
func testOutcomeBatches(t *testing.T, open Opener) {
	s, _ := campaignFixture(t, open)
	ctx := context.Background()
	var rs []*unspoof.Recipient
	for i := range 5 {
		rs = append(rs, &unspoof.Recipient{E164: fmt.Sprintf("+44770090010%d", i), Reference: fmt.Sprint("REF", i)})
	}
	c, _ := newCampaign(t, s, "batches", false, rs, 1, 1, 2, 2, 1)
	at := t0.Add(time.Hour)
	ms, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: []string{"Europe/London"}, Limit: 5}, at)
	must(t, err)
	if len(ms) != 5 {
		t.Fatalf("claimed %d messages, want 5", len(ms))
	}
	state := func(i int) *unspoof.Message {
		t.Helper()
		got, _, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: c.ID, E164: &rs[i].E164})
		must(t, err)
		return got[0]
	}

	// The same message twice in one batch: both moves apply, in order.
	later := at.Add(time.Second)
	if n, err := s.UpdateMessages(ctx, []unspoof.MessageUpdate{
		{ID: ms[4].ID, From: unspoof.MessageSubmitting, To: unspoof.MessagePending, Reason: "not sent", At: at},
		{ID: ms[4].ID, From: unspoof.MessagePending, To: unspoof.MessageSubmitting, At: later},
		{ID: ms[4].ID, From: unspoof.MessagePending, To: unspoof.MessageFailed, At: later}, // no longer pending
	}); err != nil || n != 2 {
		t.Errorf("UpdateMessages with one message thrice applied %d, %v; want 2", n, err)
	}
	if m := state(4); m.State != unspoof.MessageSubmitting || !m.UpdatedAt.Equal(later) {
		t.Errorf("after two moves in one batch: %s at %s, want submitting at %s", m.State, m.UpdatedAt, later)
	}

	// Look-alike ids: "16" read as hex is 22, "10" read as hex is 16. Message 0, the older,
	// has id "16"; message 1 has id "10".
	if n, err := s.UpdateMessages(ctx, []unspoof.MessageUpdate{
		{ID: ms[0].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"16"},
			Keys: []string{"16", "22"}, Attempts: 1, At: at},
		{ID: ms[1].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"10"},
			Keys: []string{"10", "16"}, Attempts: 1, At: at},
		{ID: ms[2].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"c1", "c2"},
			Keys: []string{"c1", "193", "c2", "194"}, Attempts: 2, At: at},
		{ID: ms[3].ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSubmitted, SMSCIDs: []string{"d1", "d2"},
			Keys: []string{"d1", "209", "d2", "210"}, Attempts: 2, At: at},
	}); err != nil || n != 4 {
		t.Fatalf("UpdateMessages applied %d, %v; want 4", n, err)
	}
	// The receipt for "10" matches message 1 by its canonical key and delivers it. The one for
	// "16" names both messages by its canonical key: one at a time, message 1 is no longer
	// submitted by then, so message 0 is the one.
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{
		{SMSCID: "10", Keys: []string{"10", "16"}, State: "DELIVRD", At: later},
		{SMSCID: "16", Keys: []string{"16", "22"}, State: "DELIVRD", At: later},
	}); err != nil || n != 2 {
		t.Errorf("receipts for look-alike ids applied %d, %v; want 2", n, err)
	}
	for i := range 2 {
		if m := state(i); m.State != unspoof.MessageDelivered || m.Delivered != 1 || !m.DoneAt.Equal(later) {
			t.Errorf("message %d (SMSC id %v): %s, %d delivered, done %s; want delivered", i, m.SMSCIDs, m.State, m.Delivered, m.DoneAt)
		}
	}

	// Both parts of two messages in one batch: one delivered then undeliverable (failed, one
	// part delivered); one delivered twice over, a repeat, then expired (too late: delivered).
	end := later.Add(time.Second)
	if n, err := s.ApplyReceipts(ctx, []*unspoof.Receipt{
		{SMSCID: "C1", Keys: []string{"c1", "193"}, State: "DELIVRD", At: later},
		{SMSCID: "D1", Keys: []string{"d1", "209"}, State: "DELIVRD", At: later},
		{SMSCID: "C2", Keys: []string{"c2", "194"}, State: "UNDELIV", Err: "001", At: end},
		{SMSCID: "D1", Keys: []string{"d1", "209"}, State: "DELIVRD", At: end},
		{SMSCID: "D2", Keys: []string{"d2", "210"}, State: "DELIVRD", At: end},
		{SMSCID: "D2", Keys: []string{"d2", "210"}, State: "EXPIRED", At: end.Add(time.Second)},
		{SMSCID: "E1", Keys: []string{"e1", "225"}, State: "DELIVRD", At: end}, // held: not sent yet
	}); err != nil || n != 5 {
		t.Errorf("receipts of two-part messages applied %d, %v; want 5", n, err)
	}
	if m := state(2); m.State != unspoof.MessageFailed || m.Delivered != 1 || m.Reason != "UNDELIV 001" || !m.DoneAt.Equal(end) {
		t.Errorf("message delivered then undeliverable: %s (%s), %d delivered, done %s; want failed, 1, %s", m.State, m.Reason,
			m.Delivered, m.DoneAt, end)
	}
	if m := state(3); m.State != unspoof.MessageDelivered || m.Delivered != 2 || m.Reason != "" || !m.DoneAt.Equal(end) ||
		!m.UpdatedAt.Equal(end) {
		t.Errorf("message delivered in two parts: %s (%s), %d delivered, done %s, updated %s; want delivered, 2, %s", m.State,
			m.Reason, m.Delivered, m.DoneAt, m.UpdatedAt, end)
	}
	if n, err := s.UpdateMessages(ctx, []unspoof.MessageUpdate{{ID: ms[4].ID, From: unspoof.MessageSubmitting,
		To: unspoof.MessageSubmitted, SMSCIDs: []string{"E1"}, Keys: []string{"e1", "225"}, Attempts: 1, At: end}}); err != nil || n != 1 {
		t.Errorf("UpdateMessages applied %d, %v; want 1", n, err)
	}
	if m := state(4); m.State != unspoof.MessageDelivered || !m.DoneAt.Equal(end) {
		t.Errorf("message whose receipt came first: %s, done %s; want delivered", m.State, m.DoneAt)
	}
	if got := counts(t, s, c.ID); got != "delivered=4 failed=1" {
		t.Errorf("at the end: %s", got)
	}
}
