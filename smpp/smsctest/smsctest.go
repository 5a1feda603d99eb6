// Package smsctest starts the project's test SMSC — the npm package smpp acting as the message
// centre, in test/peers/smsc/smsc.js — for a test, and reads back what it received.
//
// The peer is a real third-party SMPP implementation, so a client proven against it is not only
// proven against itself. It logs every accepted submit_sm (written before the response leaves),
// answers with message ids in a chosen format, sends delivery receipts and MO messages, and
// misbehaves on request: throttling, queue full, per-number failures, a dropped connection,
// receipts before responses.
//
// The package imports only the standard library, so the smpp package's own tests can use it.
//
//	s := smsctest.Start(t, smsctest.Options{ReceiptIDFormat: "dec"})
//	c := dialYourClient(s.Addr, "unspoof", "secret")
//	… submit …
//	subs, err := s.Submits()
//
// Node.js is required. When it is missing the test is skipped, or fails when the environment
// variable CI is set. The peer's npm packages are installed with `npm ci` on first use when
// test/peers/smsc/node_modules is missing or stale.
package smsctest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/unspoof/unspoof/test/peers/npmpeer"
)

// Options mirror smsc.js's flags. The zero value is a well-behaved SMSC on a free port that
// accepts system_id "unspoof" with password "secret", answers hex ids and receipts "delivered"
// 200 ms after the response for messages that ask for one.
type Options struct {
	Port     int    // 0: a free port; set it to restart a peer on the port a stopped one had
	SystemID string // "" = "unspoof"
	Password string // "" = "secret"

	IDFormat        string // "hex" (default: 8 upper-case hex digits, e.g. "0000A3F1") or "dec"
	IDStart         int64  // first id is IDStart+1; 0 = 41968 (first hex id "0000A3F1")
	ReceiptIDFormat string // "same" (default), "dec" or "hex-lower": how a receipt names the id

	ReceiptDelay time.Duration     // 0 = 200ms; negative = at once
	Receipt      string            // "delivered" (default), "undeliverable", "expired" or "rejected"
	ReceiptRules map[string]string // destination suffix → outcome; the longest suffix wins
	NoReceiptTLV bool              // receipts carry the text only (no 0x001E / 0x0427 TLVs)
	ReceiptFirst bool              // send the receipt before the submit_sm_resp

	Throttle       int               // accept at most this many submit_sm per rolling second (0x58 above)
	QueueFullEvery int               // every K-th submit_sm past the throttle is answered 0x14
	FailRules      map[string]uint32 // destination suffix → command_status; the longest suffix wins
	DropAfter      int               // destroy the client's socket once, after accepting the N-th submit_sm

	MOAfter int    // after the N-th accepted submit_sm, send one MO from MOFrom …
	MOFrom  string // … to the last source address that system submitted from …
	MOText  string // … with this text (GSM-7)

	EnquireLink time.Duration // the peer sends enquire_link this often to bound sessions (0: never)
}

// SMSC is a running peer.
type SMSC struct {
	Addr    string // "127.0.0.1:port"
	Port    int
	LogPath string // JSON Lines, one per accepted submit_sm

	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *npmpeer.Tail
	exited chan struct{}
	werr   error

	cmdMu sync.Mutex // one stdin command at a time

	evMu    sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced whenever events grows or stdout ends
	eof     bool

	stopOnce sync.Once
	stopErr  error
}

// Event is one JSON line the peer printed on stdout: listening, bind, bind_refused, unbind,
// close, drop, mo_sent, ack, stats, stopped.
type Event struct {
	Name   string
	Fields map[string]any // the whole line, "event" and "t" included
}

// Int returns a numeric field, or 0.
func (e Event) Int(key string) int64 {
	f, _ := e.Fields[key].(float64)
	return int64(f)
}

// String returns a string field, or "".
func (e Event) String(key string) string {
	s, _ := e.Fields[key].(string)
	return s
}

// Submit is one accepted submit_sm, as the peer logged it.
type Submit struct {
	T                  int64  `json:"t"`  // when accepted, ms since the epoch
	ID                 string `json:"id"` // the message_id given in submit_sm_resp
	Source             string `json:"source"`
	Dest               string `json:"dest"`
	SourceTON          int    `json:"source_ton"`
	SourceNPI          int    `json:"source_npi"`
	DestTON            int    `json:"dest_ton"`
	DestNPI            int    `json:"dest_npi"`
	DataCoding         int    `json:"data_coding"`
	ESMClass           int    `json:"esm_class"`
	RegisteredDelivery int    `json:"registered_delivery"`
	UDH                *UDH   `json:"udh"`   // concatenation header, nil when none
	Text               string `json:"text"`  // this part's text after the UDH, decoded by data_coding
	Bytes              string `json:"bytes"` // hex of short_message (or message_payload), UDH included
}

// UDH is a concatenation information element (8- or 16-bit reference).
type UDH struct {
	Ref   int `json:"ref"`
	Total int `json:"total"`
	Seq   int `json:"seq"`
}

// Time is when the peer accepted the message.
func (s Submit) Time() time.Time { return time.UnixMilli(s.T) }

// Raw is the short_message as sent.
func (s Submit) Raw() []byte {
	b, _ := hex.DecodeString(s.Bytes)
	return b
}

// Stats are the peer's counters.
type Stats struct {
	Sessions      int `json:"sessions"` // connections accepted
	Bound         int `json:"bound"`    // sessions bound now
	Binds         int `json:"binds"`
	BindRefused   int `json:"bind_refused"`
	Submits       int `json:"submits"` // submit_sm from bound transmitters/transceivers
	Accepted      int `json:"accepted"`
	Throttled     int `json:"throttled"`
	QueueFull     int `json:"queue_full"`
	Failed        int `json:"failed"` // answered by a fail rule
	ReceiptsSent  int `json:"receipts_sent"`
	ReceiptsAcked int `json:"receipts_acked"`
	MOSent        int `json:"mo_sent"`
	DeliverNacked int `json:"deliver_nacked"` // deliver_sm answered with an error
	Drops         int `json:"drops"`
	GenericNacks  int `json:"generic_nacks"`
	Pending       int `json:"pending"` // receipts/MO held until a receiver binds
}

// Start starts a peer for the test and stops it when the test ends. On a test failure the
// peer's stderr and its last events are logged.
func Start(t testing.TB, o Options) *SMSC {
	t.Helper()
	dir, err := npmpeer.Dir("smsc", "smsc.js")
	if err != nil {
		t.Fatalf("smsctest: %v", err)
	}
	node := findNode()
	if node == "" {
		unavailable(t, "node (Node.js) is not installed: apt-get install nodejs npm, or run scripts/test.sh")
	}
	if err := npmpeer.Ensure(dir); err != nil {
		unavailable(t, err.Error())
	}

	logPath := filepath.Join(t.TempDir(), "smsc-submits.jsonl")
	args := append([]string{filepath.Join(dir, "smsc.js"), "--exit-on-eof", "--log", logPath}, o.flags()...)
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	s := &SMSC{
		LogPath: logPath,
		t:       t,
		cmd:     cmd,
		stderr:  &npmpeer.Tail{Max: 64 << 10},
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
	}
	cmd.Stderr = s.stderr
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("smsctest: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("smsctest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("smsctest: starting %s: %v", node, err)
	}
	go s.readEvents(stdout)
	go func() {
		s.werr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.dump()
		}
	})

	ev, err := s.WaitEvent("listening", 30*time.Second)
	if err != nil {
		s.Stop()
		t.Fatalf("smsctest: the peer did not start listening: %v\nstderr:\n%s", err, s.stderr.String())
	}
	s.Port = int(ev.Int("port"))
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
	return s
}

func (o Options) flags() []string {
	var a []string
	add := func(k, v string) { a = append(a, "--"+k, v) }
	if o.Port > 0 {
		add("port", strconv.Itoa(o.Port))
	}
	if o.SystemID != "" {
		add("system-id", o.SystemID)
	}
	if o.Password != "" {
		add("password", o.Password)
	}
	if o.IDFormat != "" {
		add("id-format", o.IDFormat)
	}
	if o.IDStart > 0 {
		add("id-start", strconv.FormatInt(o.IDStart, 10))
	}
	if o.ReceiptIDFormat != "" {
		add("receipt-id-format", o.ReceiptIDFormat)
	}
	switch {
	case o.ReceiptDelay < 0:
		add("receipt-delay", "0")
	case o.ReceiptDelay > 0:
		add("receipt-delay", strconv.FormatInt(max(1, o.ReceiptDelay.Milliseconds()), 10))
	}
	if o.Receipt != "" {
		add("receipt", o.Receipt)
	}
	for _, k := range sortedKeys(o.ReceiptRules) {
		add("receipt-rule", k+"="+o.ReceiptRules[k])
	}
	if o.NoReceiptTLV {
		a = append(a, "--receipt-tlv=false")
	}
	if o.ReceiptFirst {
		a = append(a, "--receipt-first")
	}
	if o.Throttle > 0 {
		add("throttle", strconv.Itoa(o.Throttle))
	}
	if o.QueueFullEvery > 0 {
		add("queue-full-every", strconv.Itoa(o.QueueFullEvery))
	}
	for _, k := range sortedKeys(o.FailRules) {
		add("fail-rule", fmt.Sprintf("%s=0x%X", k, o.FailRules[k]))
	}
	if o.DropAfter > 0 {
		add("drop-after", strconv.Itoa(o.DropAfter))
	}
	if o.MOAfter > 0 {
		add("mo-after", strconv.Itoa(o.MOAfter))
	}
	if o.MOFrom != "" {
		add("mo-from", o.MOFrom)
	}
	if o.MOText != "" {
		add("mo-text", o.MOText)
	}
	if o.EnquireLink > 0 {
		add("enquire-link", strconv.FormatInt(max(1, o.EnquireLink.Milliseconds()), 10))
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Submits reads the accepted submit_sm log, oldest first.
func (s *SMSC) Submits() ([]Submit, error) {
	b, err := os.ReadFile(s.LogPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Submit
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var sub Submit
		if err := json.Unmarshal(line, &sub); err != nil {
			return out, fmt.Errorf("smsctest: %s line %d: %w", s.LogPath, i+1, err)
		}
		out = append(out, sub)
	}
	return out, nil
}

// Drop destroys every session at once, as a network failure would.
func (s *SMSC) Drop() error {
	_, err := s.command("drop", "drop")
	return err
}

// SendMO sends a mobile-originated message (GSM-7) to every bound transceiver and receiver; it
// fails when none is bound. from and to are addresses without spaces; text is one line.
func (s *SMSC) SendMO(from, to, text string) error {
	if from == "" || to == "" || strings.ContainsAny(from+to, " \t\r\n") || strings.ContainsAny(text, "\r\n") {
		return fmt.Errorf("smsctest: SendMO(%q, %q, %q): addresses need no spaces and text one line", from, to, text)
	}
	ev, err := s.command("mo "+from+" "+to+" "+text, "mo")
	if err != nil {
		return err
	}
	if ev.Int("n") == 0 {
		return errors.New("smsctest: SendMO: no transceiver or receiver is bound")
	}
	return nil
}

// Stats asks the peer for its counters.
func (s *SMSC) Stats() (Stats, error) {
	var st Stats
	ev, err := s.command("stats", "")
	if err != nil {
		return st, err
	}
	b, _ := json.Marshal(ev.Fields)
	err = json.Unmarshal(b, &st)
	return st, err
}

// command writes one stdin line and waits for its answer: the ack for cmd, or the stats line.
func (s *SMSC) command(line, cmd string) (Event, error) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	s.evMu.Lock()
	from := len(s.events)
	s.evMu.Unlock()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		return Event{}, fmt.Errorf("smsctest: writing %q to the peer: %w", line, err)
	}
	match := func(e Event) bool {
		if cmd == "" {
			return e.Name == "stats"
		}
		return e.Name == "ack" && e.String("cmd") == cmd
	}
	evs, err := s.waitFrom(from, match, 1, 10*time.Second)
	if err != nil {
		return Event{}, fmt.Errorf("smsctest: %q: %w", line, err)
	}
	if msg := evs[0].String("error"); msg != "" {
		return evs[0], fmt.Errorf("smsctest: %q: %s", line, msg)
	}
	return evs[0], nil
}

// Events returns every event the peer has printed so far.
func (s *SMSC) Events() []Event {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return append([]Event(nil), s.events...)
}

// WaitEvent returns the first event with that name since the peer started, waiting for it if
// it has not been printed yet.
func (s *SMSC) WaitEvent(name string, timeout time.Duration) (Event, error) {
	evs, err := s.WaitEvents(name, 1, timeout)
	if err != nil {
		return Event{}, err
	}
	return evs[0], nil
}

// WaitEvents waits until n events with that name have been printed since the peer started and
// returns the first n.
func (s *SMSC) WaitEvents(name string, n int, timeout time.Duration) ([]Event, error) {
	return s.waitFrom(0, func(e Event) bool { return e.Name == name }, n, timeout)
}

func (s *SMSC) waitFrom(from int, match func(Event) bool, n int, timeout time.Duration) ([]Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.evMu.Lock()
		var got []Event
		for _, e := range s.events[from:] {
			if match(e) {
				got = append(got, e)
				if len(got) == n {
					s.evMu.Unlock()
					return got, nil
				}
			}
		}
		eof, changed := s.eof, s.changed
		s.evMu.Unlock()
		if eof {
			return got, fmt.Errorf("the peer exited (%d of %d events seen)", len(got), n)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return got, fmt.Errorf("timed out after %v (%d of %d events seen)", timeout, len(got), n)
		}
	}
}

func (s *SMSC) readEvents(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var f map[string]any
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			fmt.Fprintf(s.stderr, "[stdout, not JSON] %s\n", sc.Bytes())
			continue
		}
		name, _ := f["event"].(string)
		s.evMu.Lock()
		s.events = append(s.events, Event{Name: name, Fields: f})
		close(s.changed)
		s.changed = make(chan struct{})
		s.evMu.Unlock()
	}
	s.evMu.Lock()
	s.eof = true
	close(s.changed)
	s.changed = make(chan struct{})
	s.evMu.Unlock()
}

// Stop ends the peer with SIGTERM (bound clients are sent an unbind first) and waits for it.
// A test may then Start another on the same Port. The log stays readable.
func (s *SMSC) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
				s.stopErr = errors.New("smsctest: the peer ignored SIGTERM for 5s and was killed")
			}
		}
		_ = s.stdin.Close()
		if s.stopErr == nil && s.werr != nil {
			s.stopErr = fmt.Errorf("smsctest: the peer exited: %v", s.werr)
		}
	})
	return s.stopErr
}

func (s *SMSC) dump() {
	evs := s.Events()
	if len(evs) > 50 {
		evs = evs[len(evs)-50:]
	}
	var b strings.Builder
	for _, e := range evs {
		line, _ := json.Marshal(e.Fields)
		b.Write(line)
		b.WriteByte('\n')
	}
	s.t.Logf("smsctest: peer on %s, last events:\n%sstderr:\n%s", s.Addr, b.String(), s.stderr.String())
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("smsctest: %s", why)
	}
	t.Skipf("smsctest: %s (set CI=1 to fail instead of skipping)", why)
}

func findNode() string {
	for _, name := range []string{"node", "nodejs"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
