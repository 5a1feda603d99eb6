package smpp

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSMSC is a small in-process SMSC for faults the real peer cannot be
// made to produce: silence, half-written PDUs, garbage, late answers. It
// counts what it sees, outstanding submits per connection among them.
type fakeSMSC struct {
	t    testing.TB
	ln   net.Listener
	addr string
	opts fakeOpts

	mu      sync.Mutex
	conns   []*fakeConn
	submits []*SubmitSM
	events  []string
	nextID  uint64

	binds, enquires, unbinds atomic.Int64
	maxOutstanding           atomic.Int64
}

type fakeOpts struct {
	password string // default "secret"
	// bindStatus decides the answer to bind attempt n (from 1); nil: by
	// password.
	bindStatus func(n int64) Status
	// onSubmit handles a submit_sm; nil: fc.ack at once. It runs on the
	// connection's reader goroutine.
	onSubmit func(fc *fakeConn, p *PDU)
	// onEnquire handles the client's enquire_link; nil: answer at once.
	onEnquire func(fc *fakeConn, p *PDU)
}

type fakeConn struct {
	f           *fakeSMSC
	c           net.Conn
	wmu         sync.Mutex
	outstanding atomic.Int64
	seq         atomic.Uint32
	resps       chan *PDU // responses the client sent (deliver_sm_resp, …)
	closed      chan struct{}
	closeOnce   sync.Once
}

func startFake(t testing.TB, opts fakeOpts) *fakeSMSC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.password = cmp.Or(opts.password, "secret")
	f := &fakeSMSC{t: t, ln: ln, addr: ln.Addr().String(), opts: opts}
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.dropAll()
	})
	return f
}

func (f *fakeSMSC) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{f: f, c: c, resps: make(chan *PDU, 4096), closed: make(chan struct{})}
		f.mu.Lock()
		f.conns = append(f.conns, fc)
		f.mu.Unlock()
		go fc.serve()
	}
}

func (f *fakeSMSC) event(e string) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
}

func (f *fakeSMSC) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func (f *fakeSMSC) submitted() []*SubmitSM {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*SubmitSM(nil), f.submits...)
}

// conn returns the latest connection.
func (f *fakeSMSC) conn() *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.conns) == 0 {
		return nil
	}
	return f.conns[len(f.conns)-1]
}

// dropAll closes every connection without a word, as a network failure
// would.
func (f *fakeSMSC) dropAll() {
	f.mu.Lock()
	conns := append([]*fakeConn(nil), f.conns...)
	f.mu.Unlock()
	for _, fc := range conns {
		fc.close()
	}
}

func (fc *fakeConn) close() {
	fc.closeOnce.Do(func() {
		fc.c.Close()
		close(fc.closed)
	})
}

func (fc *fakeConn) send(p *PDU) error {
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	return fc.writeRaw(b)
}

func (fc *fakeConn) writeRaw(b []byte) error {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, err := fc.c.Write(b)
	return err
}

// request sends a request to the client with a fresh sequence number.
func (fc *fakeConn) request(id CommandID, body Body) uint32 {
	seq := fc.seq.Add(1) + 1000
	fc.send(&PDU{ID: id, Seq: seq, Body: body})
	return seq
}

// ack answers a submit_sm with ESME_ROK and a fresh hex message id.
func (fc *fakeConn) ack(p *PDU) string {
	fc.f.mu.Lock()
	fc.f.nextID++
	id := fmt.Sprintf("%X", 0xA000+fc.f.nextID)
	fc.f.mu.Unlock()
	fc.outstanding.Add(-1) // before the write: the client may send again the moment it reads
	fc.f.event("submit_sm_resp")
	fc.send(&PDU{ID: CmdSubmitSMResp, Seq: p.Seq, Body: &SubmitSMResp{MessageID: id}})
	return id
}

// answer answers a submit_sm with a status and no body.
func (fc *fakeConn) answer(p *PDU, id CommandID, st Status) {
	fc.outstanding.Add(-1)
	fc.send(&PDU{ID: id, Status: st, Seq: p.Seq})
}

// waitResp returns the next response from the client with the sequence
// number, failing the test after d.
func (fc *fakeConn) waitResp(t testing.TB, seq uint32, d time.Duration) *PDU {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case p := <-fc.resps:
			if p.Seq == seq {
				return p
			}
		case <-deadline:
			t.Fatalf("no response to seq %d within %s", seq, d)
			return nil
		}
	}
}

func (fc *fakeConn) serve() {
	defer fc.close()
	f := fc.f
	br := bufio.NewReader(fc.c)
	for {
		p, err := ReadPDU(br)
		if err != nil {
			if p != nil && errors.Is(err, ErrBadBody) {
				continue
			}
			return
		}
		switch p.ID {
		case CmdBindTransceiver, CmdBindTransmitter, CmdBindReceiver:
			n := f.binds.Add(1)
			f.event("bind")
			b := p.Body.(*Bind)
			st := StatusOK
			if f.opts.bindStatus != nil {
				st = f.opts.bindStatus(n)
			} else if b.Password != f.opts.password {
				st = StatusInvPaswd
			}
			if st != StatusOK {
				fc.send(&PDU{ID: p.ID.Resp(), Status: st, Seq: p.Seq})
				return
			}
			fc.send(&PDU{ID: p.ID.Resp(), Seq: p.Seq, Body: &BindResp{SystemID: "fake",
				TLVs: TLVs{{Tag: TagSCInterfaceVersion, Value: []byte{0x34}}}}})
		case CmdSubmitSM:
			o := fc.outstanding.Add(1)
			for {
				m := f.maxOutstanding.Load()
				if o <= m || f.maxOutstanding.CompareAndSwap(m, o) {
					break
				}
			}
			f.mu.Lock()
			f.submits = append(f.submits, p.Body.(*SubmitSM))
			f.events = append(f.events, "submit_sm")
			f.mu.Unlock()
			if f.opts.onSubmit != nil {
				f.opts.onSubmit(fc, p)
			} else {
				fc.ack(p)
			}
		case CmdEnquireLink:
			f.enquires.Add(1)
			if f.opts.onEnquire != nil {
				f.opts.onEnquire(fc, p)
			} else {
				fc.send(&PDU{ID: CmdEnquireLinkResp, Seq: p.Seq})
			}
		case CmdUnbind:
			f.unbinds.Add(1)
			f.event("unbind")
			fc.send(&PDU{ID: CmdUnbindResp, Seq: p.Seq})
			return
		default:
			if p.ID.IsResponse() {
				select {
				case fc.resps <- p:
				default:
				}
			}
		}
	}
}

// testLogger logs to stderr when SMPP_TEST_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("SMPP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// harness is a client running against a fake SMSC.
type harness struct {
	f      *fakeSMSC
	c      *Client
	done   chan struct{} // closed when Run has returned, with its error in runErr
	runErr error
	stop   func() error
}

// setup starts a fake SMSC with opts and a client on it with cfg (test
// defaults for zero fields), running until the test ends or h.stop.
func setup(t *testing.T, opts fakeOpts, cfg Config) *harness {
	t.Helper()
	f := startFake(t, opts)
	cfg.Addr = f.addr
	cfg.SystemID = cmp.Or(cfg.SystemID, "unspoof")
	cfg.Password = cmp.Or(cfg.Password, "secret")
	cfg.Timeout = cmp.Or(cfg.Timeout, 2*time.Second)
	cfg.ReconnectMin = cmp.Or(cfg.ReconnectMin, 5*time.Millisecond)
	cfg.ReconnectMax = cmp.Or(cfg.ReconnectMax, 20*time.Millisecond)
	cfg.Logger = cmp.Or(cfg.Logger, testLogger())
	c := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{f: f, c: c, done: make(chan struct{})}
	go func() {
		h.runErr = c.Run(ctx)
		close(h.done)
	}()
	h.stop = func() error {
		cancel()
		select {
		case <-h.done:
			return h.runErr
		case <-time.After(15 * time.Second):
			return errors.New("Run did not return within 15s of cancel")
		}
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil && !errors.Is(err, ErrBindRefused) {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) waitBound(t testing.TB) {
	t.Helper()
	waitFor(t, 5*time.Second, "bound", h.c.Bound)
}

// testSM is a submit_sm for tests.
func testSM(text string) *SubmitSM {
	return &SubmitSM{SourceTON: 5, Source: "POLICE", DestTON: 1, DestNPI: 1, Dest: "447700900123", ShortMessage: []byte(text)}
}
