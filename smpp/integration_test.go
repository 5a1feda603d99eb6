package smpp_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unspoof/unspoof/smpp"
	"github.com/unspoof/unspoof/smpp/smsctest"
)

// These tests run the client against the real peer: the npm package smpp
// acting as the SMSC (test/peers/smsc), started by smsctest.

// run starts a client on the peer and stops it when the test ends.
func run(t *testing.T, s *smsctest.SMSC, cfg smpp.Config) (*smpp.Client, func() error) {
	t.Helper()
	cfg.Addr = s.Addr
	if cfg.SystemID == "" {
		cfg.SystemID = "unspoof"
	}
	if cfg.Password == "" {
		cfg.Password = "secret"
	}
	cfg.ReconnectMin, cfg.ReconnectMax = 10*time.Millisecond, 100*time.Millisecond
	c := smpp.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				err = errors.New("Run did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return c, stop
}

func waitBound(t *testing.T, c *smpp.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Bound() {
		if time.Now().After(deadline) {
			t.Fatal("not bound within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func submitText(t *testing.T, c *smpp.Client, m smpp.Text) ([]string, error) {
	t.Helper()
	sms, err := smpp.TextSubmits(m)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sm := range sms {
		id, err := c.Submit(context.Background(), sm)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// TestIntegrationSubmitsAndReceipts sends 500 messages asking for receipts;
// the peer answers hex ids and names them in decimal in its receipts, which
// arrive while submits are still going. Every id must be unique, match the
// peer's log, and be matched by exactly one receipt through MessageIDKeys.
func TestIntegrationSubmitsAndReceipts(t *testing.T) {
	t.Parallel()
	s := smsctest.Start(t, smsctest.Options{ReceiptIDFormat: "dec", ReceiptDelay: 20 * time.Millisecond})
	const n = 500
	receipts := make(chan *smpp.Receipt, n)
	c, stop := run(t, s, smpp.Config{Window: 10, Deliver: func(d *smpp.Deliver) {
		if d.Receipt != nil {
			receipts <- d.Receipt
		}
	}})
	waitBound(t, c)

	ids := make([]string, n)
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, n)
	for range 20 {
		wg.Go(func() {
			for i := range work {
				got, err := submitText(t, c, smpp.Text{Source: "UNSPOOF", Dest: fmt.Sprintf("+4477009%05d", i),
					Body: fmt.Sprintf("Police: your reference is K7Q-%03d. Call 101.", i), RegisteredDelivery: true})
				if err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
					continue
				}
				ids[i] = got[0]
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Ids: unique, and the peer logged each with our destination and text.
	byID := map[string]int{}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("message %d: empty id", i)
		}
		if j, dup := byID[id]; dup {
			t.Fatalf("messages %d and %d share id %q", j, i, id)
		}
		byID[id] = i
	}
	logged, err := s.Submits()
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != n {
		t.Fatalf("peer logged %d submits, want %d", len(logged), n)
	}
	for _, sub := range logged {
		i, ok := byID[sub.ID]
		if !ok {
			t.Fatalf("peer logged id %q that Submit never returned", sub.ID)
		}
		if want := fmt.Sprintf("4477009%05d", i); sub.Dest != want || sub.DestTON != 1 || sub.DestNPI != 1 {
			t.Errorf("id %s: dest %s %d/%d, want %s 1/1", sub.ID, sub.Dest, sub.DestTON, sub.DestNPI, want)
		}
		if want := fmt.Sprintf("Police: your reference is K7Q-%03d. Call 101.", i); sub.Text != want {
			t.Errorf("id %s: peer decoded %q, want %q", sub.ID, sub.Text, want)
		}
		if sub.Source != "UNSPOOF" || sub.SourceTON != 5 || sub.RegisteredDelivery != 1 || sub.DataCoding != 0 {
			t.Errorf("id %s: %+v", sub.ID, sub)
		}
	}

	// Receipts: matched by key, canonical first, each submit exactly once.
	index := map[string][]string{} // key → submit ids
	for _, id := range ids {
		for _, k := range smpp.MessageIDKeys(id) {
			index[k] = append(index[k], id)
		}
	}
	matched := map[string]bool{}
	timeout := time.After(30 * time.Second)
	for range n {
		var r *smpp.Receipt
		select {
		case r = <-receipts:
		case <-timeout:
			t.Fatalf("%d receipts of %d after 30s", len(matched), n)
		}
		if r.ParseErr != nil || r.State != smpp.StateDelivered || !r.Final || r.Done.IsZero() {
			t.Fatalf("receipt %+v", r)
		}
		keys := smpp.MessageIDKeys(r.ID)
		cands := index[keys[0]]
		for _, k := range keys[1:] {
			if len(cands) == 0 {
				cands = index[k]
			}
		}
		if len(cands) != 1 {
			t.Fatalf("receipt id %q matched %v", r.ID, cands)
		}
		if matched[cands[0]] {
			t.Fatalf("two receipts for %s", cands[0])
		}
		matched[cands[0]] = true
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	st := c.Stats()
	if st.Submits != n || st.Responses != n || st.Receipts != n || st.InFlight != 0 || st.Unknown != 0 {
		t.Errorf("stats %+v", st)
	}
	if _, err := s.WaitEvent("unbind", 5*time.Second); err != nil {
		t.Errorf("peer saw no unbind on shutdown: %v", err)
	}
}

// TestIntegrationMultipart checks the peer reassembles what Split cut:
// a UCS-2 Welsh text and a GSM-7 text with extension characters.
func TestIntegrationMultipart(t *testing.T) {
	t.Parallel()
	s := smsctest.Start(t, smsctest.Options{})
	c, _ := run(t, s, smpp.Config{})
	waitBound(t, c)
	bodies := []string{
		strings.Repeat("Ffoniwch yr heddlu ar 101 ŵ ŷ. ", 6),
		strings.Repeat("Cost: €5 [ref {K7Q}] ~ ^ | \\ ", 8),
	}
	for ref, body := range bodies {
		ids, err := submitText(t, c, smpp.Text{Source: "447700900999", Dest: "447700900123", Body: body, Ref: uint8(ref + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != smpp.Parts(body) || len(ids) < 2 {
			t.Fatalf("%d parts sent, Parts says %d", len(ids), smpp.Parts(body))
		}
	}
	logged, err := s.Submits()
	if err != nil {
		t.Fatal(err)
	}
	texts := map[int][]string{}
	for _, sub := range logged {
		if sub.UDH == nil || sub.ESMClass&0x40 == 0 {
			t.Fatalf("part without UDH/UDHI: %+v", sub)
		}
		if sub.UDH.Seq != len(texts[sub.UDH.Ref])+1 {
			t.Fatalf("part %d of ref %d out of order", sub.UDH.Seq, sub.UDH.Ref)
		}
		texts[sub.UDH.Ref] = append(texts[sub.UDH.Ref], sub.Text)
	}
	for ref, body := range bodies {
		if got := strings.Join(texts[ref+1], ""); got != body {
			t.Errorf("peer reassembled %q\nwant %q", got, body)
		}
	}
}

func TestIntegrationBadPassword(t *testing.T) {
	t.Parallel()
	s := smsctest.Start(t, smsctest.Options{})
	c := smpp.New(smpp.Config{Addr: s.Addr, SystemID: "unspoof", Password: "wrong", ReconnectMin: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Run(ctx)
	var se *smpp.StatusError
	if !errors.Is(err, smpp.ErrBindRefused) || !errors.As(err, &se) || se.Status != smpp.StatusInvPaswd {
		t.Fatalf("Run = %v, want ErrBindRefused with ESME_RINVPASWD", err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.BindRefused != 1 || st.Binds != 0 {
		t.Errorf("peer stats %+v: want exactly one refused bind", st)
	}
}

// TestIntegrationDropAndReconnect: the peer destroys the socket after
// accepting the 5th message. That message may be accepted without an answer
// (ErrUnknownOutcome); the client reconnects, nothing is sent twice.
func TestIntegrationDropAndReconnect(t *testing.T) {
	t.Parallel()
	s := smsctest.Start(t, smsctest.Options{DropAfter: 5})
	c, _ := run(t, s, smpp.Config{Timeout: 2 * time.Second})
	waitBound(t, c)
	var ok, unknown int
	okIDs := map[string]string{} // id → dest
	for i := range 10 {
		dest := fmt.Sprintf("4477009000%02d", i)
		ids, err := submitText(t, c, smpp.Text{Source: "UNSPOOF", Dest: dest, Body: "x"})
		switch {
		case err == nil:
			ok++
			okIDs[ids[0]] = dest
		case errors.Is(err, smpp.ErrUnknownOutcome):
			unknown++ // accepted unanswered, or written into the dead socket: either way not resent
		default:
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	logged, err := s.Submits()
	if err != nil {
		t.Fatal(err)
	}
	if unknown > 1 || (len(logged) != ok && len(logged) != ok+unknown) {
		t.Errorf("peer logged %d; client saw %d ok, %d unknown", len(logged), ok, unknown)
	}
	seen := map[string]bool{}
	for _, sub := range logged {
		if seen[sub.Dest] {
			t.Errorf("%s sent twice", sub.Dest)
		}
		seen[sub.Dest] = true
		if dest, found := okIDs[sub.ID]; found && dest != sub.Dest {
			t.Errorf("id %s: logged for %s, returned for %s", sub.ID, sub.Dest, dest)
		}
		delete(okIDs, sub.ID)
	}
	if len(okIDs) != 0 {
		t.Errorf("ids returned but not in the peer's log: %v", okIDs)
	}
	if c.Stats().Reconnects < 1 {
		t.Error("no reconnect after the drop")
	}
}

func TestIntegrationMOAndThrottle(t *testing.T) {
	t.Parallel()
	s := smsctest.Start(t, smsctest.Options{Throttle: 20})
	mo := make(chan *smpp.Deliver, 1)
	c, _ := run(t, s, smpp.Config{Deliver: func(d *smpp.Deliver) { mo <- d }})
	waitBound(t, c)
	if err := s.SendMO("447700900123", "447700900000", "STOP please £5 €"); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-mo:
		if d.Receipt != nil || d.Text != "STOP please £5 €" || d.Source != "447700900123" {
			t.Errorf("MO %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no MO delivered")
	}
	var throttled int
	for i := range 40 {
		_, err := submitText(t, c, smpp.Text{Source: "UNSPOOF", Dest: fmt.Sprintf("4477009001%02d", i), Body: "x"})
		var se *smpp.StatusError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Status == smpp.StatusThrottled && se.Status.Temporary():
			throttled++
		default:
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	if throttled == 0 {
		t.Error("40 submits at once against a 20/s throttle: none throttled")
	}
}

// TestIntegrationDeliverAsync: receipts handed to DeliverAsync and never acknowledged are
// delivered again by the SMSC after the next bind; acknowledged ones are not. This is what lets
// a campaign store a receipt before the SMSC forgets it.
func TestIntegrationDeliverAsync(t *testing.T) {
	t.Parallel()
	peer := smsctest.Start(t, smsctest.Options{ReceiptDelay: -1})
	var mu sync.Mutex
	first := map[string]int{}
	c1, stop1 := run(t, peer, smpp.Config{DeliverAsync: func(d *smpp.Deliver, ack func()) {
		mu.Lock()
		defer mu.Unlock()
		if d.Receipt == nil {
			return
		}
		first[d.Receipt.ID]++
		if len(first)%2 == 0 {
			ack() // every other receipt is acknowledged
		}
	}})
	waitBound(t, c1)
	var ids []string
	for i := range 10 {
		got, err := submitText(t, c1, smpp.Text{Source: "447700900999", Dest: fmt.Sprintf("+44791100%04d", i), Body: "hello", RegisteredDelivery: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(first)
		mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 10 receipts arrived", n)
		}
	}
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	again := make(chan string, 20)
	run(t, peer, smpp.Config{Deliver: func(d *smpp.Deliver) {
		if d.Receipt != nil {
			again <- d.Receipt.ID
		}
	}})
	var redelivered []string
	for timeout := time.After(5 * time.Second); len(redelivered) < 5; {
		select {
		case id := <-again:
			redelivered = append(redelivered, id)
		case <-timeout:
			t.Fatalf("%d receipts delivered again after the rebind, want the 5 never acknowledged: %q", len(redelivered), redelivered)
		}
	}
	select {
	case id := <-again:
		t.Errorf("an acknowledged receipt came again: %s", id)
	case <-time.After(500 * time.Millisecond):
	}
	for _, id := range redelivered {
		if !slices.Contains(ids, id) {
			t.Errorf("redelivered receipt %s names no message sent", id)
		}
	}
}
