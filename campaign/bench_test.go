package campaign_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/campaign"
	"github.com/unspoof/unspoof/smpp"
	"github.com/unspoof/unspoof/smpp/smsctest"
)

// BenchmarkRun measures the engine's own overhead: one approved campaign of b.N one-part
// messages, run with no throttle through a real smpp.Client (window 10) bound to the test SMSC
// (receipts on, 50 ms after each response), on each engine: sqlite, and postgres when
// UNSPOOF_TEST_PG names a cluster (scripts/pg-test-cluster.sh). Seeding, starting the peer and
// the checks afterwards are outside the timer; ns/op is the whole Run (claim, submit, record,
// linger for receipts) per message. It reports
//
//   - msgs/s: b.N over the time from the first submit_sm leaving to the last one answered;
//   - delivered-msgs/s: b.N over the time from the first submit_sm to the moment the last
//     receipt was applied in the store (every message delivered).
//
// It fails if the SMSC accepted a number twice or missed one, or a message is not delivered.
// Run it with a fixed count, so that the campaign has that many messages:
//
//	export UNSPOOF_TEST_PG=$(scripts/pg-test-cluster.sh start)
//	go test -run '^$' -bench BenchmarkRun -benchtime 20000x ./campaign/
func BenchmarkRun(b *testing.B) {
	type engine struct {
		name string
		open func(testing.TB) store
	}
	es := []engine{{"sqlite", openSQLite}}
	if os.Getenv("UNSPOOF_TEST_PG") != "" {
		es = append(es, engine{"postgres", openPostgres})
	}
	for _, e := range es {
		b.Run(e.name, func(b *testing.B) { benchRun(b, e.open) })
	}
}

// benchRun is one engine's BenchmarkRun: a fresh store, peer and campaign of b.N messages.
func benchRun(b *testing.B, open func(testing.TB) store) {
	b.StopTimer()
	b.ReportAllocs()
	ts := &timedStore{store: open(b)}
	peer := smsctest.Start(b, smsctest.Options{ReceiptDelay: 50 * time.Millisecond})
	c, _ := seed(b, ts.store, "bench", b.N, nil, nil)
	var sub timedSubmitter
	wrap := func(s campaign.Submitter) campaign.Submitter { sub.next = s; return &sub }

	b.StartTimer()
	sum := runWith(b, context.Background(), ts, peer, c.ID, campaign.Config{Window: 10, Linger: 30 * time.Second}, wrap)
	b.StopTimer()

	got, subs := delivered(b, peer)
	dups := 0
	for _, texts := range got {
		dups += len(texts) - 1
	}
	states := countStates(messages(b, ts.store, c.ID))
	if len(subs) != b.N || len(got) != b.N || dups != 0 {
		b.Fatalf("the SMSC accepted %d submit_sm for %d numbers (%d more than once), want %d once each", len(subs), len(got), dups, b.N)
	}
	if states[unspoof.MessageDelivered] != b.N || sum.Submitted != int64(b.N) {
		b.Fatalf("%d submitted, states %v: want all %d delivered", sum.Submitted, states, b.N)
	}
	first, last, applied := sub.first.Load(), sub.last.Load(), ts.applied.Load()
	if first == 0 || last < first || applied < first {
		b.Fatalf("no submit timed (first %d, last %d, last receipt applied %d)", first, last, applied)
	}
	b.ReportMetric(float64(b.N)/time.Duration(last-first).Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/time.Duration(applied-first).Seconds(), "delivered-msgs/s")
}

// timedSubmitter passes submits on to next and notes when the first one started and the last
// one ended (Unix nanoseconds).
type timedSubmitter struct {
	next        campaign.Submitter
	first, last atomic.Int64
}

// Submit submits sm through next, timing it.
func (t *timedSubmitter) Submit(ctx context.Context, sm *smpp.SubmitSM) (string, error) {
	t.first.CompareAndSwap(0, time.Now().UnixNano())
	id, err := t.next.Submit(ctx, sm)
	storeMax(&t.last, time.Now().UnixNano())
	return id, err
}

// timedStore notes when a write last changed a message: the receipts are all applied then,
// once every message is delivered (a receipt held for a message not yet recorded as submitted
// is applied by UpdateMessages).
type timedStore struct {
	store
	applied atomic.Int64 // Unix nanoseconds
}

// UpdateMessages applies us and notes the time if any was applied.
func (s *timedStore) UpdateMessages(ctx context.Context, us []unspoof.MessageUpdate) (int, error) {
	n, err := s.store.UpdateMessages(ctx, us)
	if n > 0 {
		storeMax(&s.applied, time.Now().UnixNano())
	}
	return n, err
}

// ApplyReceipts applies rs and notes the time if any was applied.
func (s *timedStore) ApplyReceipts(ctx context.Context, rs []*unspoof.Receipt) (int, error) {
	n, err := s.store.ApplyReceipts(ctx, rs)
	if n > 0 {
		storeMax(&s.applied, time.Now().UnixNano())
	}
	return n, err
}

// storeMax sets v to x if x is larger.
func storeMax(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x <= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}
