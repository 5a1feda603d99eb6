package campaign_test

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/campaign"
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/smpp"
	"github.com/unspoof/unspoof/smpp/smsctest"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/storetest"
)

// This file holds what the tests (engine_test.go) and the benchmark (bench_test.go) share:
// opening a store on each engine, seeding a campaign, running it against the test SMSC and
// reading back what the SMSC and the store hold.

// store is what the engine needs of a storage engine, and what the tests read back.
type store interface {
	unspoof.CampaignStore
	Close() error
}

// engines opens a fresh store on each engine: SQLite always, PostgreSQL when configured (in
// CI, always).
func engines(t *testing.T) map[string]store {
	t.Helper()
	out := map[string]store{"sqlite": openSQLite(t)}
	if pg := openPostgres(t); pg != nil {
		out["postgres"] = pg
	}
	return out
}

// openSQLite opens a fresh SQLite store in a temporary directory, closed when tb ends.
func openSQLite(tb testing.TB) store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "unspoof.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// openPostgres opens a store on a fresh database of the cluster UNSPOOF_TEST_PG names, closed
// and dropped when tb ends; nil when UNSPOOF_TEST_PG is not set (outside CI).
func openPostgres(tb testing.TB) store {
	tb.Helper()
	dsn := storetest.PostgresDatabase(tb)
	if dsn == "" {
		return nil
	}
	pg, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pg.Close() })
	return pg
}

// number returns the i-th test number: UK mobiles +447911000000, +447911000001…
func number(i int) string { return fmt.Sprintf("+447911%06d", i) }

// seed creates an approved campaign of n messages to number(0…n-1), each text naming its
// number, sendable at any hour. long(i) makes message i long enough for three parts.
func seed(tb testing.TB, s store, name string, n int, long func(int) bool, mod func(*unspoof.Campaign)) (*unspoof.Campaign, map[string]*unspoof.Message) {
	tb.Helper()
	ctx := context.Background()
	c := &unspoof.Campaign{Name: name, Template: "test {{reference}}", SenderID: "447700900999", Selection: "test",
		QuietStart: 0, QuietEnd: 24, CreatedBy: "alice", CreatedAt: time.Now()}
	if mod != nil {
		mod(c)
	}
	byNumber := make(map[string]*unspoof.Message, n)
	ms := make([]*unspoof.Message, n)
	for i := range ms {
		text := fmt.Sprintf("Police alert for %s: your reference is REF%06d. Do not reply.", number(i), i)
		if long != nil && long(i) {
			text += strings.Repeat(" This part is long so that the alert takes three SMS parts.", 5)
		}
		ms[i] = &unspoof.Message{E164: number(i), Reference: fmt.Sprintf("REF%06d", i), Text: text, Parts: smpp.Parts(text),
			TZ: campaign.Zone(number(i))}
		byNumber[ms[i].E164] = ms[i]
	}
	if err := s.CreateCampaign(ctx, c, ms); err != nil {
		tb.Fatal(err)
	}
	if err := campaign.Approve(ctx, s, c.ID, "bob", time.Now()); err != nil {
		tb.Fatal(err)
	}
	return c, byNumber
}

// run runs campaign id through a real SMPP client bound to peer.
func run(tb testing.TB, ctx context.Context, s store, peer *smsctest.SMSC, id int64, cfg campaign.Config) *campaign.Summary {
	tb.Helper()
	return runWith(tb, ctx, s, peer, id, cfg, nil)
}

// runWith is run with the engine's submitter wrapped by wrap (when not nil): the benchmark
// times the submits that way.
func runWith(tb testing.TB, ctx context.Context, s store, peer *smsctest.SMSC, id int64, cfg campaign.Config,
	wrap func(campaign.Submitter) campaign.Submitter) *campaign.Summary {
	tb.Helper()
	var eng *campaign.Engine
	client := smpp.New(smpp.Config{Addr: peer.Addr, SystemID: "unspoof", Password: "secret", Window: cmp.Or(cfg.Window, 10),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second, Timeout: 3 * time.Second,
		DeliverAsync: func(d *smpp.Deliver, ack func()) { eng.Deliver(d, ack) }})
	cfg.Store, cfg.SMSC, cfg.SMSCAddr = s, client, peer.Addr
	if wrap != nil {
		cfg.SMSC = wrap(client)
	}
	if cfg.Linger == 0 {
		cfg.Linger = 5 * time.Second
	}
	eng = campaign.New(cfg)
	cctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- client.Run(cctx) }()
	sum, err := eng.Run(ctx, id)
	stop()
	if cerr := <-done; cerr != nil {
		tb.Errorf("smpp client: %v", cerr)
	}
	if err != nil {
		tb.Fatalf("run campaign %d: %v", id, err)
	}
	return sum
}

// delivered reassembles what the SMSC accepted, per destination: the concatenated text of each
// complete message, in order of acceptance. A number alerted twice has two entries.
func delivered(tb testing.TB, peer *smsctest.SMSC) (map[string][]string, []smsctest.Submit) {
	tb.Helper()
	subs, err := peer.Submits()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]string{}
	type key struct {
		dest string
		ref  int
	}
	parts := map[key][]smsctest.Submit{}
	for _, s := range subs {
		dest := "+" + strings.TrimPrefix(s.Dest, "+")
		if s.UDH == nil {
			out[dest] = append(out[dest], s.Text)
			continue
		}
		k := key{dest, s.UDH.Ref}
		parts[k] = append(parts[k], s)
		if len(parts[k]) == s.UDH.Total {
			ps := parts[k]
			sort.Slice(ps, func(i, j int) bool { return ps[i].UDH.Seq < ps[j].UDH.Seq })
			var b strings.Builder
			for _, p := range ps {
				b.WriteString(p.Text)
			}
			out[dest] = append(out[dest], b.String())
			delete(parts, k)
		}
	}
	for k, ps := range parts {
		out[k.dest] = append(out[k.dest], fmt.Sprintf("INCOMPLETE %d of %d parts", len(ps), ps[0].UDH.Total))
	}
	return out, subs
}

// messages returns campaign id's messages by number.
func messages(tb testing.TB, s store, id int64) map[string]*unspoof.Message {
	tb.Helper()
	ms, _, err := s.FindMessages(context.Background(), unspoof.MessageFilter{CampaignID: id})
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]*unspoof.Message, len(ms))
	for _, m := range ms {
		out[m.E164] = m
	}
	return out
}

// countStates counts messages by state.
func countStates(ms map[string]*unspoof.Message) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.State]++
	}
	return out
}
