package smscsim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unspoof/unspoof/smpp"
	"github.com/unspoof/unspoof/smpp/smscsim"
	"github.com/unspoof/unspoof/test/peers/npmpeer"
)

// start runs a simulator on a free loopback port for the test.
func start(t *testing.T, cfg smscsim.Config) *smscsim.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Password == "" {
		cfg.Password = "secret"
	}
	s, err := smscsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// delivers collects what a client is handed.
type delivers struct {
	mu  sync.Mutex
	all []*smpp.Deliver
	ch  chan struct{}
}

func newDelivers() *delivers { return &delivers{ch: make(chan struct{}, 1)} }

func (d *delivers) add(x *smpp.Deliver) {
	d.mu.Lock()
	d.all = append(d.all, x)
	d.mu.Unlock()
	select {
	case d.ch <- struct{}{}:
	default:
	}
}

// wait waits until n deliveries have arrived.
func (d *delivers) wait(t *testing.T, n int, within time.Duration) []*smpp.Deliver {
	t.Helper()
	deadline := time.After(within)
	for {
		d.mu.Lock()
		got := append([]*smpp.Deliver(nil), d.all...)
		d.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-d.ch:
		case <-deadline:
			t.Fatalf("%d of %d deliver_sm arrived within %s", len(got), n, within)
		}
	}
}

// client binds our own ESME client to the simulator.
func client(t *testing.T, addr, password string, deliver func(*smpp.Deliver)) *smpp.Client {
	t.Helper()
	c := smpp.New(smpp.Config{Addr: addr, SystemID: "unspoof", Password: password, Deliver: deliver,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, Timeout: 3 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

func submit(t *testing.T, c *smpp.Client, to, text string) []string {
	t.Helper()
	sms, err := smpp.TextSubmits(smpp.Text{Source: "447700900999", Dest: to, Body: text, RegisteredDelivery: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sm := range sms {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		id, err := c.Submit(ctx, sm)
		cancel()
		if err != nil {
			t.Fatalf("submit to %s: %v", to, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestReceiptsByNumber: every message gets a receipt naming its id, and the share of numbers
// the simulator was told to fail ends undeliverable or expired, always the same way per number.
func TestReceiptsByNumber(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	var logMu sync.Mutex
	sim := start(t, smscsim.Config{ReceiptDelay: 20 * time.Millisecond, Undeliverable: 0.2, Expired: 0.1,
		Log: writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })})
	got := newDelivers()
	c := client(t, sim.Addr(), "secret", got.add)

	const n = 200
	want := map[string]string{} // id → number
	for i := range n {
		to := fmt.Sprintf("4479%08d", 1000+i*7919)
		for _, id := range submit(t, c, to, "Police alert: ref ABC-123. Not a scam.") {
			want[id] = to
		}
	}
	ds := got.wait(t, n, 10*time.Second)
	states := map[string]int{}
	perNumber := map[string]string{}
	for _, d := range ds {
		if d.Receipt == nil || d.Receipt.ParseErr != nil {
			t.Fatalf("not a clean receipt: %+v", d)
		}
		to, ok := want[d.Receipt.ID]
		if !ok {
			t.Fatalf("receipt for id %q, which was never given", d.Receipt.ID)
		}
		if d.Source != to || d.Dest != "447700900999" {
			t.Errorf("receipt of %s comes from %s to %s", to, d.Source, d.Dest)
		}
		states[d.Receipt.State]++
		perNumber[to] = d.Receipt.State
		delete(want, d.Receipt.ID)
	}
	if len(want) != 0 {
		t.Errorf("%d messages got no receipt", len(want))
	}
	// 200 numbers: expect about 40 undeliverable and 20 expired; allow the hash its spread.
	if states[smpp.StateUndeliverable] < 20 || states[smpp.StateUndeliverable] > 60 ||
		states[smpp.StateExpired] < 8 || states[smpp.StateExpired] > 35 || states[smpp.StateDelivered] < 110 {
		t.Errorf("outcomes %v, want about 140 delivered, 40 undeliverable, 20 expired", states)
	}
	st := settled(sim, func(st smscsim.Stats) bool { return st.Delivered+st.Undeliverable+st.Expired == n })
	if st.Submits != n || st.Delivered+st.Undeliverable+st.Expired != n || st.Binds != 1 ||
		st.Undeliverable != int64(states[smpp.StateUndeliverable]) {
		t.Errorf("stats %+v, receipts %v", st, states)
	}
	// The log has a line per accepted message, saying the outcome the receipt then gave.
	logMu.Lock()
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	logMu.Unlock()
	if len(lines) != n {
		t.Fatalf("log has %d lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		var sub smscsim.Submission
		if err := json.Unmarshal([]byte(l), &sub); err != nil {
			t.Fatal(err)
		}
		if perNumber[sub.Dest] != sub.Stat || sub.Text != "Police alert: ref ABC-123. Not a scam." {
			t.Errorf("log says %s %q for %s, receipt said %s", sub.Stat, sub.Text, sub.Dest, perNumber[sub.Dest])
		}
	}
}

// TestMultipart: each part of a long message is logged as that part and gets its own receipt.
func TestMultipart(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	var mu sync.Mutex
	sim := start(t, smscsim.Config{ReceiptDelay: -1, Log: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return log.Write(p)
	})})
	got := newDelivers()
	c := client(t, sim.Addr(), "secret", got.add)
	text := strings.Repeat("This is a long alert text. ", 10) // 270 GSM-7 characters: two parts
	ids := submit(t, c, "447911123456", text)
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids %v, want two distinct", ids)
	}
	got.wait(t, 2, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	var joined string
	for i, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var sub smscsim.Submission
		json.Unmarshal([]byte(l), &sub)
		if sub.Part != i+1 || sub.Parts != 2 {
			t.Errorf("line %d: part %d of %d", i+1, sub.Part, sub.Parts)
		}
		joined += sub.Text
	}
	if joined != text {
		t.Errorf("parts join to %q, want %q", joined, text)
	}
}

// TestStop: the recipient of the chosen message replies STOP to its sender.
func TestStop(t *testing.T) {
	t.Parallel()
	sim := start(t, smscsim.Config{ReceiptDelay: 10 * time.Millisecond, StopAfter: 3})
	got := newDelivers()
	c := client(t, sim.Addr(), "secret", got.add)
	for i := range 5 {
		submit(t, c, fmt.Sprintf("44791100000%d", i), "Alert")
	}
	ds := got.wait(t, 6, 5*time.Second)
	var mo []*smpp.Deliver
	for _, d := range ds {
		if !d.IsReceipt() {
			mo = append(mo, d)
		}
	}
	if len(mo) != 1 || mo[0].Text != "STOP" || mo[0].Source != "447911000002" || mo[0].Dest != "447700900999" {
		t.Fatalf("MO messages %+v, want one STOP from the third recipient", mo)
	}
	if st := settled(sim, func(st smscsim.Stats) bool { return st.MO == 1 }); st.MO != 1 {
		t.Errorf("stats count %d MO", st.MO)
	}
}

// TestThrottle: above the configured rate the simulator answers ESME_RTHROTTLED.
func TestThrottle(t *testing.T) {
	t.Parallel()
	sim := start(t, smscsim.Config{Throttle: 5})
	c := client(t, sim.Addr(), "secret", nil)
	var ok, throttled int
	for i := range 12 {
		sms, _ := smpp.TextSubmits(smpp.Text{Source: "UNSPOOF", Dest: fmt.Sprintf("4479110000%02d", i), Body: "x"})
		_, err := c.Submit(context.Background(), sms[0])
		var se *smpp.StatusError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &se) && se.Status == smpp.StatusThrottled:
			throttled++
		default:
			t.Fatal(err)
		}
	}
	if ok != 5 || throttled != 7 {
		t.Errorf("accepted %d, throttled %d; want 5 and 7 within one second", ok, throttled)
	}
}

// TestReceiptsSurviveADroppedSession: receipts a client never acknowledged come again on its
// next bind, as a real SMSC sends them.
func TestReceiptsSurviveADroppedSession(t *testing.T) {
	t.Parallel()
	sim := start(t, smscsim.Config{ReceiptDelay: 50 * time.Millisecond})
	// A raw session: bind, submit, read the receipt, and close without answering it.
	conn, err := net.Dial("tcp", sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	write := func(p *smpp.PDU) {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(b)
	}
	write(&smpp.PDU{ID: smpp.CmdBindTransceiver, Seq: 1, Body: &smpp.Bind{SystemID: "unspoof", Password: "secret", InterfaceVersion: 0x34}})
	if p, err := smpp.ReadPDU(r); err != nil || p.Status != smpp.StatusOK || p.Body.(*smpp.BindResp).SystemID != smscsim.Name {
		t.Fatalf("bind: %+v %v", p, err)
	}
	sms, _ := smpp.TextSubmits(smpp.Text{Source: "447700900999", Dest: "447911123456", Body: "Alert", RegisteredDelivery: true})
	write(&smpp.PDU{ID: smpp.CmdSubmitSM, Seq: 2, Body: sms[0]})
	resp, err := smpp.ReadPDU(r)
	if err != nil || resp.ID != smpp.CmdSubmitSMResp {
		t.Fatalf("submit: %+v %v", resp, err)
	}
	id := resp.Body.(*smpp.SubmitSMResp).MessageID
	if p, err := smpp.ReadPDU(r); err != nil || p.ID != smpp.CmdDeliverSM {
		t.Fatalf("want the receipt, got %+v %v", p, err)
	}
	conn.Close() // never answered

	got := newDelivers()
	client(t, sim.Addr(), "secret", got.add)
	d := got.wait(t, 1, 5*time.Second)[0]
	if d.Receipt == nil || d.Receipt.ID != id || d.Receipt.State != smpp.StateDelivered {
		t.Fatalf("after the new bind got %+v, want the receipt of %s again", d.Receipt, id)
	}
}

// TestBindRefused: a wrong password or system_id is refused and the client gives up.
func TestBindRefused(t *testing.T) {
	t.Parallel()
	sim := start(t, smscsim.Config{})
	for _, c := range []smpp.Config{{SystemID: "unspoof", Password: "wrong"}, {SystemID: "someone", Password: "secret"}} {
		c.Addr = sim.Addr()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := smpp.New(c).Run(ctx)
		cancel()
		if !errors.Is(err, smpp.ErrBindRefused) {
			t.Errorf("%s/%s: Run = %v, want a refused bind", c.SystemID, c.Password, err)
		}
	}
	if st := sim.Stats(); st.Binds != 0 {
		t.Errorf("%d binds accepted", st.Binds)
	}
}

// TestLoopbackOnly: the simulator refuses to listen where other machines could reach it.
func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:2775", ":2775", "10.1.2.3:2775", "example.org:2775", "2775"} {
		if _, err := smscsim.New(smscsim.Config{Addr: addr}); err == nil || !strings.Contains(err.Error(), "2775") {
			t.Errorf("New(%q) = %v, want a refusal naming the address", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:0"} {
		if _, err := smscsim.New(smscsim.Config{Addr: addr}); err != nil {
			t.Errorf("New(%q) = %v", addr, err)
		}
	}
	if _, err := smscsim.New(smscsim.Config{Undeliverable: 0.8, Expired: 0.5}); err == nil {
		t.Error("shares adding up to more than 1 were accepted")
	}
}

// TestNPMClient: the npm smpp package, as an ESME written by others, binds, submits and gets
// its receipts and the STOP from the simulator.
func TestNPMClient(t *testing.T) {
	t.Parallel()
	dir, err := npmpeer.Dir("smsc", "esme.js")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed: run scripts/test.sh")
		}
		t.Skip("node is not installed")
	}
	if err := npmpeer.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	sim := start(t, smscsim.Config{ReceiptDelay: 20 * time.Millisecond, StopAfter: 2, Undeliverable: 0.5})
	_, port, _ := net.SplitHostPort(sim.Addr())
	to := []string{"447911000001", "447911000002", "447911000003", "447911000004"}
	cmd := exec.Command(node, filepath.Join(dir, "esme.js"), "--port", port, "--to", strings.Join(to, ","), "--text",
		"Police alert ref K7QF-2M9X", "--wait-ms", "1500")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("esme.js: %v\n%s", err, stderr.String())
	}
	var res struct {
		Bind struct {
			Status   int    `json:"status"`
			SystemID string `json:"system_id"`
		} `json:"bind"`
		Submits []struct {
			To        string `json:"to"`
			Status    int    `json:"status"`
			MessageID string `json:"message_id"`
		} `json:"submits"`
		Receipts []struct {
			From  string `json:"from"`
			ID    string `json:"id"`
			State *int   `json:"state"`
			Stat  string `json:"stat"`
		} `json:"receipts"`
		MO []struct{ From, To, Text string } `json:"mo"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("esme.js printed %q: %v", out, err)
	}
	if res.Bind.Status != 0 || res.Bind.SystemID != smscsim.Name {
		t.Fatalf("bind %+v", res.Bind)
	}
	ids := map[string]string{}
	for _, s := range res.Submits {
		if s.Status != 0 || s.MessageID == "" {
			t.Errorf("submit to %s: status %d id %q", s.To, s.Status, s.MessageID)
		}
		ids[s.MessageID] = s.To
	}
	if len(ids) != len(to) {
		t.Fatalf("%d distinct ids for %d messages", len(ids), len(to))
	}
	stats := map[string]int{}
	for _, r := range res.Receipts {
		if ids[r.ID] != r.From || r.State == nil {
			t.Errorf("receipt %+v matches no message", r)
		}
		want := map[string]int{"DELIVRD": 2, "UNDELIV": 5}[r.Stat]
		if r.State != nil && *r.State != want {
			t.Errorf("receipt says stat %s but message_state %d", r.Stat, *r.State)
		}
		stats[r.Stat]++
	}
	if len(res.Receipts) != len(to) || stats["DELIVRD"]+stats["UNDELIV"] != len(to) {
		t.Errorf("receipts %+v", res.Receipts)
	}
	if len(res.MO) != 1 || res.MO[0].Text != "STOP" || res.MO[0].From != "447911000002" {
		t.Errorf("MO %+v, want one STOP from the second recipient", res.MO)
	}
}

// settled returns the simulator's stats once done says they are complete (the last
// acknowledgements may still be on their way when the client has its deliveries), or after 2 s.
func settled(sim *smscsim.Server, done func(smscsim.Stats) bool) smscsim.Stats {
	for range 200 {
		if st := sim.Stats(); done(st) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sim.Stats()
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestNeighboursDiffer: numbers a digit apart (a test list of consecutive staff phones) do not
// all end the same way.
func TestNeighboursDiffer(t *testing.T) {
	t.Parallel()
	sim := start(t, smscsim.Config{ReceiptDelay: -1, Undeliverable: 0.5})
	got := newDelivers()
	c := client(t, sim.Addr(), "secret", got.add)
	for i := range 10 {
		submit(t, c, fmt.Sprintf("44791100000%d", i), "x")
	}
	states := map[string]int{}
	for _, d := range got.wait(t, 10, 5*time.Second) {
		states[d.Receipt.State]++
	}
	if states[smpp.StateDelivered] < 2 || states[smpp.StateUndeliverable] < 2 {
		t.Errorf("ten consecutive numbers at 50 %% undeliverable ended %v", states)
	}
}
