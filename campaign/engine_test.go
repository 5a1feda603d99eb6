package campaign_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/campaign"
	"github.com/unspoof/unspoof/smpp"
	"github.com/unspoof/unspoof/smpp/smsctest"
)

// TestCampaign2000 sends a 2,000-message campaign, a tenth of them in three parts, and checks
// every number got its own text exactly once, and every receipt was applied: numbers ending in
// 13 are undeliverable, the rest delivered. Receipts name ids in decimal, responses in hex.
func TestCampaign2000(t *testing.T) {
	t.Parallel()
	for name, s := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			peer := smsctest.Start(t, smsctest.Options{ReceiptIDFormat: "dec", ReceiptDelay: 50 * time.Millisecond,
				ReceiptRules: map[string]string{"13": "undeliverable"}})
			const n = 2000
			c, want := seed(t, s, "two thousand", n, func(i int) bool { return i%10 == 3 }, nil)
			reg := prometheus.NewRegistry()
			sum := run(t, context.Background(), s, peer, c.ID, campaign.Config{Metrics: campaign.NewMetrics(reg)})
			metrics := gather(t, reg)
			for series, want := range map[string]float64{
				`unspoof_campaign_messages_total{state="submitted"}`: n,
				`unspoof_campaign_submits_total{outcome="ok"}`:       n + 2*n/10,
				`unspoof_campaign_receipts_total{state="UNDELIV"}`:   20 * 3, // numbers ending 13 have three parts
				`unspoof_campaign_receipts_total{state="DELIVRD"}`:   n + 2*n/10 - 20*3,
			} {
				if metrics[series] != want {
					t.Errorf("metric %s = %v, want %v", series, metrics[series], want)
				}
			}

			got, _ := delivered(t, peer)
			for num, m := range want {
				if texts := got[num]; len(texts) != 1 || texts[0] != m.Text {
					t.Errorf("%s received %q, want its text once", num, texts)
				}
			}
			if len(got) != n {
				t.Errorf("the SMSC has messages for %d numbers, want %d", len(got), n)
			}
			ms := messages(t, s, c.ID)
			states := countStates(ms)
			if states[unspoof.MessageDelivered] != n-20 || states[unspoof.MessageFailed] != 20 {
				t.Errorf("states %v, want %d delivered and 20 failed (numbers ending 13)", states, n-20)
			}
			for num, m := range ms {
				if strings.HasSuffix(num, "13") && (m.State != unspoof.MessageFailed || !strings.HasPrefix(m.Reason, "UNDELIV")) {
					t.Errorf("%s: %s %q, want failed UNDELIV", num, m.State, m.Reason)
				}
				if len(m.SMSCIDs) != m.Parts || m.SentAt.IsZero() {
					t.Errorf("%s: %s %q, %d SMSC ids for %d parts, sent %v", num, m.State, m.Reason, len(m.SMSCIDs), m.Parts, m.SentAt)
				}
			}
			if sum.Campaign.State != unspoof.CampaignDone || sum.Submitted != n || sum.Parts != n+2*n/10 {
				t.Errorf("summary: %s, %d submitted, %d parts", sum.Campaign.State, sum.Submitted, sum.Parts)
			}
			t.Logf("%s: %d messages in %s, %.0f messages/s", name, sum.Submitted, sum.Elapsed, sum.Rate())
		})
	}
}

// TestCampaignRate checks that the achieved rate, as the SMSC saw it, is within 5% of the
// configured parts a second, counting parts, not messages.
func TestCampaignRate(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	peer := smsctest.Start(t, smsctest.Options{})
	const rate = 150.0
	c, _ := seed(t, s, "rate", 400, func(i int) bool { return i%4 == 0 }, nil) // 100×3 + 300 = 600 parts
	run(t, context.Background(), s, peer, c.ID, campaign.Config{Rate: rate})
	_, subs := delivered(t, peer)
	if len(subs) != 600 {
		t.Fatalf("%d parts accepted, want 600", len(subs))
	}
	// Measured after the initial burst: parts 10…599 over their time span.
	span := subs[len(subs)-1].Time().Sub(subs[10].Time()).Seconds()
	achieved := float64(len(subs)-11) / span
	if achieved < rate*0.95 || achieved > rate*1.05 {
		t.Errorf("achieved %.1f parts/s, want %.0f ± 5%%", achieved, rate)
	}
	t.Logf("achieved %.1f parts/s for %.0f configured", achieved, rate)
}

// TestCampaignThrottledBySMSC: the SMSC takes 200 submits a second and answers ESME_RTHROTTLED
// above; every 20th past that is queue-full. The engine backs off and retries: everyone gets
// their message once.
func TestCampaignThrottledBySMSC(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	peer := smsctest.Start(t, smsctest.Options{Throttle: 200, QueueFullEvery: 20})
	c, want := seed(t, s, "throttled", 600, nil, nil)
	sum := run(t, context.Background(), s, peer, c.ID, campaign.Config{})
	got, _ := delivered(t, peer)
	for num := range want {
		if len(got[num]) != 1 {
			t.Errorf("%s received %d messages", num, len(got[num]))
		}
	}
	if st, _ := peer.Stats(); st.Throttled == 0 || st.QueueFull == 0 || sum.Throttled != int64(st.Throttled+st.QueueFull) {
		t.Errorf("the SMSC throttled %d submits and said queue full to %d; the engine saw %d", st.Throttled, st.QueueFull, sum.Throttled)
	}
	if states := countStates(messages(t, s, c.ID)); states[unspoof.MessageDelivered] != 600 {
		t.Errorf("states %v, want 600 delivered", states)
	}
}

// TestCampaignLinkDrop: the SMSC drops the link after the 300th message. The client reconnects
// and the campaign goes on; nobody gets a message twice, and nothing is lost: every message is
// delivered, or — when it was in flight at the drop — ambiguous, and only those.
func TestCampaignLinkDrop(t *testing.T) {
	t.Parallel()
	for name, s := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			peer := smsctest.Start(t, smsctest.Options{DropAfter: 300, ReceiptDelay: 20 * time.Millisecond})
			const n = 1000
			c, _ := seed(t, s, "drop", n, nil, nil)
			run(t, context.Background(), s, peer, c.ID, campaign.Config{Window: 10})
			got, _ := delivered(t, peer)
			ms := messages(t, s, c.ID)
			states := countStates(ms)
			for num, m := range ms {
				switch k := len(got[num]); {
				case k > 1:
					t.Errorf("%s received %d messages", num, k)
				case m.State == unspoof.MessageDelivered && k != 1:
					t.Errorf("%s is delivered but the SMSC never had it", num)
				case m.State != unspoof.MessageDelivered && m.State != unspoof.MessageAmbiguous:
					t.Errorf("%s ended %s (%s)", num, m.State, m.Reason)
				}
			}
			if states[unspoof.MessageAmbiguous] > 10 || states[unspoof.MessageDelivered]+states[unspoof.MessageAmbiguous] != n {
				t.Errorf("states %v: want all delivered but at most a window (10) ambiguous", states)
			}
			if st, _ := peer.Stats(); st.Drops != 1 || st.Binds < 2 {
				t.Errorf("peer stats %+v: want one drop and a second bind", st)
			}
			t.Logf("after the drop: %v", states)
		})
	}
}

// TestCampaignStop: a reply "Stop please" from a number whose message is still pending
// suppresses it, and the number is opted out of every later campaign.
func TestCampaignStop(t *testing.T) {
	t.Parallel()
	for name, s := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			last := number(299)
			peer := smsctest.Start(t, smsctest.Options{MOAfter: 5, MOFrom: strings.TrimPrefix(last, "+"), MOText: "Stop please"})
			c, _ := seed(t, s, "stop", 300, nil, nil)
			sum := run(t, context.Background(), s, peer, c.ID, campaign.Config{Rate: 200})
			got, _ := delivered(t, peer)
			if len(got[last]) != 0 {
				t.Errorf("%s said STOP and still got %q", last, got[last])
			}
			ms := messages(t, s, c.ID)
			if m := ms[last]; m.State != unspoof.MessageSuppressed || m.Reason != "opted out" {
				t.Errorf("%s: %s %q, want suppressed: opted out", last, m.State, m.Reason)
			}
			if states := countStates(ms); states[unspoof.MessageDelivered] != 299 {
				t.Errorf("states %v, want 299 delivered", states)
			}
			if o, err := s.FindOptOut(context.Background(), last); err != nil || o.Text != "Stop please" {
				t.Errorf("opt-out of %s: %+v, %v", last, o, err)
			}
			if sum.OptOuts != 1 {
				t.Errorf("summary counts %d STOPs", sum.OptOuts)
			}
			// A later campaign to the same number: suppressed before it is sent.
			c2, _ := seed(t, s, "stop 2", 300, nil, nil)
			run(t, context.Background(), s, peer, c2.ID, campaign.Config{})
			if got, _ := delivered(t, peer); len(got[last]) != 0 {
				t.Errorf("%s opted out and got %q from a later campaign", last, got[last])
			}
			if m := messages(t, s, c2.ID)[last]; m.State != unspoof.MessageSuppressed {
				t.Errorf("later campaign: %s is %s", last, m.State)
			}
		})
	}
}

// TestCampaignEarlyReceipts: the SMSC sends each receipt before its submit_sm_resp. The engine
// holds them and applies them once it has recorded the message id.
func TestCampaignEarlyReceipts(t *testing.T) {
	t.Parallel()
	for name, s := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			peer := smsctest.Start(t, smsctest.Options{ReceiptFirst: true, IDFormat: "dec", NoReceiptTLV: true})
			c, _ := seed(t, s, "early", 300, func(i int) bool { return i%5 == 0 }, nil)
			run(t, context.Background(), s, peer, c.ID, campaign.Config{})
			if states := countStates(messages(t, s, c.ID)); states[unspoof.MessageDelivered] != 300 {
				t.Errorf("states %v, want 300 delivered", states)
			}
		})
	}
}

// TestCampaignSendingHours: at 03:00 in London nothing is sent; the run waits and says why.
func TestCampaignSendingHours(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	peer := smsctest.Start(t, smsctest.Options{})
	c, _ := seed(t, s, "night", 10, nil, func(c *unspoof.Campaign) { c.QuietStart, c.QuietEnd = 9, 20 })
	night := time.Date(2026, 1, 15, 3, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var why string
	sum := run(t, ctx, s, peer, c.ID, campaign.Config{Now: func() time.Time { return night },
		Progress: func(p campaign.Progress) { why = cmp.Or(p.Waiting, why) }})
	if subs, _ := peer.Submits(); len(subs) != 0 {
		t.Errorf("%d messages sent at 03:00", len(subs))
	}
	if !strings.Contains(why, "outside sending hours") || !strings.Contains(why, "2026-01-15 09:00 UTC") {
		t.Errorf("waiting: %q", why)
	}
	if states := countStates(messages(t, s, c.ID)); states[unspoof.MessagePending] != 10 || sum.Stopped != "interrupted" {
		t.Errorf("states %v, stopped %q: want all 10 still pending after an interrupt", states, sum.Stopped)
	}
}

// TestCampaignDailyCap: a cap of 25 a day sends 25 and waits for midnight.
func TestCampaignDailyCap(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	peer := smsctest.Start(t, smsctest.Options{})
	c, _ := seed(t, s, "capped", 60, nil, func(c *unspoof.Campaign) { c.DailyCap = 25 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var why string
	run(t, ctx, s, peer, c.ID, campaign.Config{Progress: func(p campaign.Progress) { why = cmp.Or(p.Waiting, why) }})
	if subs, _ := peer.Submits(); len(subs) != 25 {
		t.Errorf("%d sent with a daily cap of 25", len(subs))
	}
	if !strings.Contains(why, "daily cap of 25") {
		t.Errorf("waiting: %q", why)
	}
}

// TestCampaignPauseResume: pausing stops submission within seconds; resuming finishes it.
func TestCampaignPauseResume(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	peer := smsctest.Start(t, smsctest.Options{ReceiptDelay: 10 * time.Millisecond})
	c, _ := seed(t, s, "pause", 400, nil, nil)
	ctx := context.Background()
	paused := make(chan int, 1)
	go func() {
		for {
			time.Sleep(50 * time.Millisecond)
			if subs, _ := peer.Submits(); len(subs) >= 50 {
				if err := campaign.Pause(ctx, s, c.ID, "alice", time.Now()); err != nil {
					t.Error(err)
				}
				time.Sleep(3 * time.Second) // a heartbeat (2 s) to notice, and then some
				subs, _ := peer.Submits()
				paused <- len(subs)
				time.Sleep(500 * time.Millisecond)
				if after, _ := peer.Submits(); len(after) != len(subs) {
					t.Errorf("still sending while paused: %d then %d", len(subs), len(after))
				}
				if err := campaign.Resume(ctx, s, c.ID, "alice", time.Now()); err != nil {
					t.Error(err)
				}
				return
			}
		}
	}()
	sum := run(t, ctx, s, peer, c.ID, campaign.Config{Rate: 100})
	if n := <-paused; n >= 400 {
		t.Errorf("pause came too late: %d sent", n)
	}
	got, _ := delivered(t, peer)
	if len(got) != 400 || sum.Campaign.State != unspoof.CampaignDone {
		t.Errorf("after resume: %d numbers reached, campaign %s", len(got), sum.Campaign.State)
	}
}

// TestCampaignRefusals: a draft, and a synthetic campaign through a non-loopback SMSC, are
// refused before anything is claimed.
func TestCampaignRefusals(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	ctx := context.Background()
	draft := &unspoof.Campaign{Name: "draft", Template: "x {{reference}}", SenderID: "POLICE", QuietEnd: 24, CreatedBy: "alice", CreatedAt: time.Now()}
	if err := s.CreateCampaign(ctx, draft, []*unspoof.Message{{E164: number(1), TZ: "Europe/London", Text: "x", Parts: 1}}); err != nil {
		t.Fatal(err)
	}
	eng := campaign.New(campaign.Config{Store: s, SMSCAddr: "127.0.0.1:1"})
	if _, err := eng.Run(ctx, draft.ID); unspoof.ErrorCode(err) != unspoof.ECONFLICT || !strings.Contains(err.Error(), "not approved") {
		t.Errorf("running a draft: %v", err)
	}
	if err := campaign.Approve(ctx, s, draft.ID, "ALICE", time.Now()); unspoof.ErrorCode(err) != unspoof.EUNAUTHORIZED {
		t.Errorf("approval by the creator: %v", err)
	}
	synth, _ := seed(t, s, "synthetic", 3, nil, func(c *unspoof.Campaign) { c.Synthetic = true })
	eng = campaign.New(campaign.Config{Store: s, SMSCAddr: "192.0.2.10:2775"})
	if _, err := eng.Run(ctx, synth.ID); unspoof.ErrorCode(err) != unspoof.EINVALID || !strings.Contains(err.Error(), "synthetic") {
		t.Errorf("synthetic through a real SMSC: %v", err)
	}
	if states := countStates(messages(t, s, synth.ID)); states[unspoof.MessagePending] != 3 {
		t.Errorf("a refused run touched messages: %v", states)
	}
	es, _ := s.FindAudit(ctx, 0)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	if !slices.Contains(actions, "campaign.approve by bob") {
		t.Errorf("audit log %q lacks the approval", actions)
	}
}

// TestCampaignSenderType: what the SMSC is told about the sender. A short code goes as network
// specific (3/0), a long number as international (1/1), and the aggregator's own values, when
// given, as they are: 0/0 (unknown) included.
func TestCampaignSenderType(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	for _, tc := range []struct {
		sender   string
		cfg      campaign.Config
		ton, npi int
	}{
		{"60006", campaign.Config{}, 3, 0},
		{"447700900999", campaign.Config{}, 1, 1},
		{"447700900999", campaign.Config{SenderTypeSet: true}, 0, 0},
		{"MetPolice", campaign.Config{SenderTON: 5, SenderNPI: 9, SenderTypeSet: true}, 5, 9},
	} {
		peer := smsctest.Start(t, smsctest.Options{})
		c, _ := seed(t, s, fmt.Sprintf("sender %s %v", tc.sender, tc.cfg.SenderTypeSet), 2, nil,
			func(c *unspoof.Campaign) { c.SenderID = tc.sender })
		tc.cfg.Linger = 100 * time.Millisecond // receipts do not matter here
		run(t, context.Background(), s, peer, c.ID, tc.cfg)
		_, subs := delivered(t, peer)
		if len(subs) != 2 {
			t.Fatalf("%s: the SMSC accepted %d submits, want 2", tc.sender, len(subs))
		}
		for _, sub := range subs {
			if sub.Source != tc.sender || sub.SourceTON != tc.ton || sub.SourceNPI != tc.npi {
				t.Errorf("sender %s (%+v): the SMSC got %q %d/%d, want %d/%d", tc.sender, tc.cfg, sub.Source, sub.SourceTON,
					sub.SourceNPI, tc.ton, tc.npi)
			}
		}
	}
}

// TestCampaignInterruptWhileLinkDown: Ctrl-C while the SMSC cannot be reached stops the run at
// once (not after the grace period that multi-part messages get once a part has left), and
// every message stays pending for the next run.
func TestCampaignInterruptWhileLinkDown(t *testing.T) {
	t.Parallel()
	s := engines(t)["sqlite"]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every dial is refused
	c, _ := seed(t, s, "unreachable", 20, func(i int) bool { return i%2 == 0 }, nil)
	client := smpp.New(smpp.Config{Addr: addr, SystemID: "unspoof", Password: "secret", ReconnectMin: 50 * time.Millisecond,
		ReconnectMax: time.Second, Timeout: 3 * time.Second})
	cctx, stopClient := context.WithCancel(context.Background())
	defer stopClient()
	go client.Run(cctx)
	eng := campaign.New(campaign.Config{Store: s, SMSC: client, SMSCAddr: addr})
	ctx, interrupt := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, interrupt)
	start := time.Now()
	sum, err := eng.Run(ctx, c.ID)
	if took := time.Since(start); err != nil || sum.Stopped != "interrupted" || took > 5*time.Second {
		t.Errorf("Run = %+v, %v after %s; want interrupted within a second or two of Ctrl-C", sum, err, took.Round(time.Millisecond))
	}
	if states := countStates(messages(t, s, c.ID)); states[unspoof.MessagePending] != 20 {
		t.Errorf("after the interrupt: %v, want all 20 pending", states)
	}
}

// gather returns the registry's counters as series → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}
