package smpp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// outcome classifies a Submit error into the three cases the campaign
// engine relies on, checking they never overlap.
func outcome(t *testing.T, err error) string {
	t.Helper()
	var se *StatusError
	isStatus, notSent, unknown := errors.As(err, &se), errors.Is(err, ErrNotSent), errors.Is(err, ErrUnknownOutcome)
	n := 0
	for _, b := range []bool{isStatus, notSent, unknown} {
		if b {
			n++
		}
	}
	switch {
	case err == nil:
		return "ok"
	case n != 1:
		t.Fatalf("error %q is in %d of the three cases (status=%v notsent=%v unknown=%v)", err, n, isStatus, notSent, unknown)
	case isStatus:
		return "status"
	case notSent:
		return "notsent"
	}
	return "unknown"
}

func TestClientBindAndSubmit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var states []bool
	h := setup(t, fakeOpts{}, Config{SystemType: "police", OnState: func(b bool) {
		mu.Lock()
		states = append(states, b)
		mu.Unlock()
	}})
	h.waitBound(t)
	id, err := h.c.Submit(context.Background(), testSM("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if id != "A001" {
		t.Errorf("message id = %q, want A001", id)
	}
	subs := h.f.submitted()
	if len(subs) != 1 || string(subs[0].ShortMessage) != "hello" || subs[0].Dest != "447700900123" {
		t.Errorf("SMSC saw %+v", subs)
	}
	st := h.c.Stats()
	if st.Submits != 1 || st.Responses != 1 || st.InFlight != 0 || !st.Bound || st.Reconnects != 0 {
		t.Errorf("stats = %+v", st)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil on clean shutdown", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(states, []bool{true, false}) {
		t.Errorf("OnState calls = %v, want [true false]", states)
	}
}

func TestClientBindSendsCredentials(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *PDU, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		p, err := ReadPDU(c)
		if err == nil {
			got <- p
		}
	}()
	c := New(Config{Addr: ln.Addr().String(), SystemID: "unspoof", Password: "pw", SystemType: "police", Timeout: time.Second, Logger: testLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	p := <-got
	cancel()
	<-done
	want := &PDU{ID: CmdBindTransceiver, Seq: p.Seq, Body: &Bind{SystemID: "unspoof", Password: "pw", SystemType: "police", InterfaceVersion: 0x34}}
	if fmt.Sprint(p.Body) != fmt.Sprint(want.Body) || p.ID != want.ID || p.Seq == 0 {
		t.Errorf("bind = %+v %+v, want %+v %+v", p, p.Body, want, want.Body)
	}
}

func TestClientBadPasswordIsPermanent(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{}, Config{Password: "wrong"})
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept retrying a refused password")
	}
	err := h.runErr
	var se *StatusError
	if !errors.Is(err, ErrBindRefused) || !errors.As(err, &se) || se.Status != StatusInvPaswd {
		t.Fatalf("Run = %v, want ErrBindRefused wrapping ESME_RINVPASWD", err)
	}
	if n := h.f.binds.Load(); n != 1 {
		t.Errorf("bind attempts = %d, want 1", n)
	}
	_, err = h.c.Submit(context.Background(), testSM("x"))
	if outcome(t, err) != "notsent" {
		t.Errorf("Submit after Run returned = %v, want ErrNotSent", err)
	}
}

func TestClientBindFailureRetries(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{bindStatus: func(n int64) Status {
		if n <= 2 {
			return StatusBindFail
		}
		return StatusOK
	}}, Config{})
	h.waitBound(t)
	if n := h.f.binds.Load(); n != 3 {
		t.Errorf("bind attempts = %d, want 3", n)
	}
	if r := h.c.Stats().Reconnects; r != 2 {
		t.Errorf("Reconnects = %d, want 2", r)
	}
	if _, err := h.c.Submit(context.Background(), testSM("x")); err != nil {
		t.Fatal(err)
	}
}

func TestClientWindowNeverExceeded(t *testing.T) {
	t.Parallel()
	const window, n = 4, 200
	h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {
		go func() {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			fc.ack(p)
		}()
	}}, Config{Window: window})
	h.waitBound(t)
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = h.c.Submit(context.Background(), testSM(fmt.Sprint(i))) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("submit %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatalf("message id %q returned twice", ids[i])
		}
		seen[ids[i]] = true
	}
	if m := h.f.maxOutstanding.Load(); m > window {
		t.Errorf("SMSC saw %d outstanding, window is %d", m, window)
	} else if m < window {
		t.Errorf("SMSC saw at most %d outstanding: the window of %d was never used", m, window)
	}
}

func TestClientResponseTimeout(t *testing.T) {
	t.Parallel()
	var held atomic.Pointer[PDU]
	var heldConn atomic.Pointer[fakeConn]
	h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {
		if string(p.Body.(*SubmitSM).ShortMessage) == "silent" {
			held.Store(p)
			heldConn.Store(fc)
			return
		}
		fc.ack(p)
	}}, Config{Timeout: 150 * time.Millisecond, EnquireLink: time.Hour})
	h.waitBound(t)
	start := time.Now()
	_, err := h.c.Submit(context.Background(), testSM("silent"))
	if outcome(t, err) != "unknown" {
		t.Fatalf("Submit = %v, want ErrUnknownOutcome", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("gave up after %s, before the 150ms timeout", el)
	}
	// The late answer must not be taken for the next request's.
	p := held.Load()
	heldConn.Load().outstanding.Add(-1)
	heldConn.Load().send(&PDU{ID: CmdSubmitSMResp, Seq: p.Seq, Body: &SubmitSMResp{MessageID: "LATE"}})
	id, err := h.c.Submit(context.Background(), testSM("next"))
	if err != nil || id == "LATE" || id == "" {
		t.Fatalf("next Submit = %q, %v; want its own id", id, err)
	}
	st := h.c.Stats()
	if st.Unknown != 1 || st.InFlight != 0 {
		t.Errorf("stats = %+v, want Unknown 1, InFlight 0", st)
	}
	if h.f.binds.Load() != 1 {
		t.Errorf("a response timeout dropped the link")
	}
}

func TestClientLinkLossInFlight(t *testing.T) {
	t.Parallel()
	var hold atomic.Bool
	hold.Store(true)
	h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {
		if !hold.Load() {
			fc.ack(p)
		}
	}}, Config{})
	h.waitBound(t)
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := h.c.Submit(context.Background(), testSM("x"))
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "5 submits outstanding", func() bool { return h.f.conn().outstanding.Load() == n })
	if got := h.c.Stats().InFlight; got != n {
		t.Errorf("InFlight = %d, want %d", got, n)
	}
	hold.Store(false)
	h.f.dropAll()
	for range n {
		if err := <-errs; outcome(t, err) != "unknown" {
			t.Fatalf("in-flight Submit after link loss = %v, want ErrUnknownOutcome", err)
		}
	}
	h.waitBound(t)
	for i := range 3 {
		if _, err := h.c.Submit(context.Background(), testSM("after")); err != nil {
			t.Fatalf("submit %d after reconnect: %v", i, err)
		}
	}
	if r := h.c.Stats().Reconnects; r < 1 {
		t.Errorf("Reconnects = %d, want ≥ 1", r)
	}
	if got := len(h.f.submitted()); got != n+3 {
		t.Errorf("SMSC saw %d submits, want %d (nothing resent)", got, n+3)
	}
}

func TestClientBrokenResponses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(fc *fakeConn, p *PDU)
	}{
		{"half-written response", func(fc *fakeConn, p *PDU) {
			b, _ := (&PDU{ID: CmdSubmitSMResp, Seq: p.Seq, Body: &SubmitSMResp{MessageID: "A1"}}).MarshalBinary()
			fc.writeRaw(b[:len(b)/2])
			fc.close()
		}},
		{"garbage bytes", func(fc *fakeConn, p *PDU) {
			fc.writeRaw([]byte("GARBAGE GARBAGE GARBAGE"))
		}},
		{"command_length below 16", func(fc *fakeConn, p *PDU) {
			fc.writeRaw([]byte{0, 0, 0, 8, 0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var faulted atomic.Bool
			h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {
				if faulted.CompareAndSwap(false, true) {
					tc.fault(fc, p)
					return
				}
				fc.ack(p)
			}}, Config{})
			h.waitBound(t)
			_, err := h.c.Submit(context.Background(), testSM("x"))
			if outcome(t, err) != "unknown" {
				t.Fatalf("Submit = %v, want ErrUnknownOutcome", err)
			}
			if _, err := h.c.Submit(context.Background(), testSM("y")); err != nil {
				t.Fatalf("Submit after reconnect: %v", err)
			}
			if h.f.binds.Load() != 2 {
				t.Errorf("binds = %d, want 2 (one reconnect)", h.f.binds.Load())
			}
		})
	}
}

func TestClientUnreadableAcceptedResponse(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {
		fc.outstanding.Add(-1)
		// status OK, but message_id lacks its NUL: accepted, id unknown.
		fc.send(&PDU{ID: CmdSubmitSMResp, Seq: p.Seq, Body: &RawBody{Data: []byte("A1")}})
	}}, Config{})
	h.waitBound(t)
	_, err := h.c.Submit(context.Background(), testSM("x"))
	if outcome(t, err) != "unknown" {
		t.Fatalf("Submit = %v, want ErrUnknownOutcome", err)
	}
	if h.f.binds.Load() != 1 {
		t.Errorf("a malformed body dropped the link")
	}
}

func TestClientStatusErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   CommandID
		st   Status
		want Status
	}{
		{"throttled", CmdSubmitSMResp, StatusThrottled, StatusThrottled},
		{"queue full", CmdSubmitSMResp, StatusMsgQFull, StatusMsgQFull},
		{"bad destination", CmdSubmitSMResp, StatusInvDstAdr, StatusInvDstAdr},
		{"generic_nack", CmdGenericNack, StatusInvCmdID, StatusInvCmdID},
		{"generic_nack without status", CmdGenericNack, StatusOK, StatusUnknownErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) { fc.answer(p, tc.id, tc.st) }}, Config{})
			h.waitBound(t)
			_, err := h.c.Submit(context.Background(), testSM("x"))
			var se *StatusError
			if outcome(t, err) != "status" || !errors.As(err, &se) || se.Status != tc.want {
				t.Fatalf("Submit = %v, want StatusError %s", err, tc.want)
			}
			if se.Status.Temporary() != (tc.want == StatusThrottled || tc.want == StatusMsgQFull) {
				t.Errorf("%s.Temporary() = %v", se.Status, se.Status.Temporary())
			}
			if st := h.c.Stats(); st.Rejected != 1 || st.Responses != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestClientEnquireLinkWhenIdle(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{}, Config{EnquireLink: 40 * time.Millisecond})
	h.waitBound(t)
	waitFor(t, 5*time.Second, "3 enquire_link", func() bool { return h.f.enquires.Load() >= 3 })
	if h.f.binds.Load() != 1 || !h.c.Bound() {
		t.Errorf("keep-alive disturbed the session: binds %d", h.f.binds.Load())
	}
}

func TestClientNoEnquireLinkWhileBusy(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{}, Config{EnquireLink: 150 * time.Millisecond})
	h.waitBound(t)
	end := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(end) {
		if _, err := h.c.Submit(context.Background(), testSM("busy")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.f.enquires.Load(); n != 0 {
		t.Errorf("%d enquire_link sent while responses kept arriving", n)
	}
}

func TestClientEnquireLinkAnsweredLate(t *testing.T) {
	t.Parallel()
	t.Run("within timeout", func(t *testing.T) {
		t.Parallel()
		h := setup(t, fakeOpts{onEnquire: func(fc *fakeConn, p *PDU) {
			go func() {
				time.Sleep(30 * time.Millisecond)
				fc.send(&PDU{ID: CmdEnquireLinkResp, Seq: p.Seq})
			}()
		}}, Config{EnquireLink: 40 * time.Millisecond, Timeout: time.Second})
		h.waitBound(t)
		waitFor(t, 5*time.Second, "3 enquire_link", func() bool { return h.f.enquires.Load() >= 3 })
		if n := h.f.binds.Load(); n != 1 {
			t.Errorf("binds = %d: a slow but timely answer dropped the link", n)
		}
	})
	t.Run("past timeout", func(t *testing.T) {
		t.Parallel()
		var answered atomic.Bool
		h := setup(t, fakeOpts{onEnquire: func(fc *fakeConn, p *PDU) {
			if answered.Load() {
				fc.send(&PDU{ID: CmdEnquireLinkResp, Seq: p.Seq})
				return
			}
			go func() {
				time.Sleep(400 * time.Millisecond)
				fc.send(&PDU{ID: CmdEnquireLinkResp, Seq: p.Seq})
			}()
		}}, Config{EnquireLink: 40 * time.Millisecond, Timeout: 100 * time.Millisecond})
		h.waitBound(t)
		waitFor(t, 5*time.Second, "a reconnect after the unanswered enquire_link", func() bool { return h.f.binds.Load() >= 2 })
		answered.Store(true)
		if _, err := h.c.Submit(context.Background(), testSM("x")); err != nil {
			t.Fatalf("Submit after reconnect: %v", err)
		}
	})
}

func TestClientAnswersSMSCRequests(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{}, Config{})
	h.waitBound(t)
	fc := h.f.conn()

	seq := fc.request(CmdEnquireLink, nil)
	if p := fc.waitResp(t, seq, 2*time.Second); p.ID != CmdEnquireLinkResp || p.Status != StatusOK {
		t.Errorf("enquire_link answered with %s %s", p.ID, p.Status)
	}
	seq = fc.request(CmdDataSM, &RawBody{Data: []byte{0, 1, 2}})
	if p := fc.waitResp(t, seq, 2*time.Second); p.ID != CmdGenericNack || p.Status != StatusInvCmdID {
		t.Errorf("data_sm answered with %s %s, want generic_nack ESME_RINVCMDID", p.ID, p.Status)
	}
	seq = fc.request(CommandID(0x0000FFFF), nil)
	if p := fc.waitResp(t, seq, 2*time.Second); p.ID != CmdGenericNack || p.Status != StatusInvCmdID {
		t.Errorf("unknown command answered with %s %s", p.ID, p.Status)
	}
	// A deliver_sm whose body is cut short is answered, and the link lives.
	fc.writeRaw([]byte{0, 0, 0, 19, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x10, 0x01, 0, 1, 1})
	if p := fc.waitResp(t, 0x1001, 2*time.Second); p.ID != CmdGenericNack || p.Status != StatusInvCmdLen {
		t.Errorf("malformed deliver_sm answered with %s %s", p.ID, p.Status)
	}
	if _, err := h.c.Submit(context.Background(), testSM("still up")); err != nil {
		t.Fatal(err)
	}

	// unbind from the SMSC: answered, then the client binds again.
	seq = fc.request(CmdUnbind, nil)
	if p := fc.waitResp(t, seq, 2*time.Second); p.ID != CmdUnbindResp {
		t.Errorf("unbind answered with %s", p.ID)
	}
	waitFor(t, 5*time.Second, "rebind after the SMSC's unbind", func() bool { return h.f.binds.Load() == 2 && h.c.Bound() })
}

func TestClientDeliver(t *testing.T) {
	t.Parallel()
	got := make(chan *Deliver, 100)
	release := make(chan struct{})
	var first atomic.Bool
	h := setup(t, fakeOpts{}, Config{Deliver: func(d *Deliver) {
		got <- d
		if first.CompareAndSwap(false, true) {
			<-release
		}
	}})
	h.waitBound(t)
	fc := h.f.conn()
	receipt := &DeliverSM{SourceTON: 1, SourceNPI: 1, Source: "447700900123", Dest: "POLICE", ESMClass: ESMClassReceipt,
		ShortMessage: []byte("id:A001 sub:001 dlvrd:001 submit date:2501021530 done date:2501021531 stat:DELIVRD err:000 text:hello")}
	seq := fc.request(CmdDeliverSM, receipt)

	var d *Deliver
	select {
	case d = <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("Deliver not called")
	}
	if d.Receipt == nil || d.Receipt.ID != "A001" || d.Receipt.State != StateDelivered || !d.Receipt.Final {
		t.Fatalf("receipt = %+v", d.Receipt)
	}
	select {
	case p := <-fc.resps:
		t.Fatalf("%s sent before Deliver returned", p.ID)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if p := fc.waitResp(t, seq, 2*time.Second); p.ID != CmdDeliverSMResp || p.Status != StatusOK {
		t.Errorf("deliver_sm answered with %s %s", p.ID, p.Status)
	}

	// Messages from handsets, in order, each answered.
	var seqs []uint32
	for i := range 50 {
		seqs = append(seqs, fc.request(CmdDeliverSM, &DeliverSM{Source: "447700900123", Dest: "447700900999", ShortMessage: []byte(fmt.Sprintf("STOP %d", i))}))
	}
	for i := range 50 {
		select {
		case d := <-got:
			if want := fmt.Sprintf("STOP %d", i); d.Text != want || d.Receipt != nil {
				t.Fatalf("deliver %d = %q (receipt %v), want %q", i, d.Text, d.Receipt, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("deliver %d not called", i)
		}
	}
	for _, s := range seqs {
		fc.waitResp(t, s, 2*time.Second)
	}
	if st := h.c.Stats(); st.Delivers != 51 || st.Receipts != 1 {
		t.Errorf("stats = %+v, want 51 delivers, 1 receipt", st)
	}
}

func TestClientSubmitBeforeRunWaits(t *testing.T) {
	t.Parallel()
	f := startFake(t, fakeOpts{})
	c := New(Config{Addr: f.addr, SystemID: "unspoof", Password: "secret", Logger: testLogger()})
	type result struct {
		id  string
		err error
	}
	res := make(chan result, 1)
	go func() {
		id, err := c.Submit(context.Background(), testSM("early"))
		res <- result{id, err}
	}()
	select {
	case r := <-res:
		t.Fatalf("Submit returned %q, %v before Run", r.id, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	select {
	case r := <-res:
		if r.err != nil || r.id == "" {
			t.Fatalf("Submit = %q, %v", r.id, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Submit still waiting after bind")
	}
}

func TestClientNotSent(t *testing.T) {
	t.Parallel()
	t.Run("cancelled waiting for bind", func(t *testing.T) {
		t.Parallel()
		c := New(Config{Addr: "127.0.0.1:1", Logger: testLogger()})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Submit(ctx, testSM("x"))
		if outcome(t, err) != "notsent" || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Submit = %v, want ErrNotSent wrapping the deadline", err)
		}
	})
	t.Run("cancelled waiting for a window slot", func(t *testing.T) {
		t.Parallel()
		h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {}}, Config{Window: 1, Timeout: time.Second, EnquireLink: time.Hour})
		h.waitBound(t)
		go h.c.Submit(context.Background(), testSM("holds the slot"))
		waitFor(t, 5*time.Second, "first submit outstanding", func() bool { return len(h.f.submitted()) == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := h.c.Submit(ctx, testSM("waits"))
		if outcome(t, err) != "notsent" {
			t.Fatalf("Submit = %v, want ErrNotSent", err)
		}
		if n := len(h.f.submitted()); n != 1 {
			t.Errorf("SMSC saw %d submits, want 1", n)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		h := setup(t, fakeOpts{}, Config{})
		h.waitBound(t)
		sm := testSM("")
		sm.ShortMessage = make([]byte, 300)
		_, err := h.c.Submit(context.Background(), sm)
		if outcome(t, err) != "notsent" || !errors.Is(err, ErrInvalid) {
			t.Fatalf("Submit = %v, want ErrNotSent and ErrInvalid", err)
		}
		if n := len(h.f.submitted()); n != 0 {
			t.Errorf("SMSC saw %d submits", n)
		}
	})
	t.Run("client closed", func(t *testing.T) {
		t.Parallel()
		h := setup(t, fakeOpts{}, Config{})
		h.waitBound(t)
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
		_, err := h.c.Submit(context.Background(), testSM("x"))
		if outcome(t, err) != "notsent" {
			t.Fatalf("Submit = %v, want ErrNotSent", err)
		}
	})
}

// faultConn fails one chosen write: after writing `keep` bytes of it.
type faultConn struct {
	net.Conn
	writes atomic.Int64
	failAt int64
	keep   int
}

func (c *faultConn) Write(b []byte) (int, error) {
	if c.writes.Add(1) != c.failAt {
		return c.Conn.Write(b)
	}
	n, _ := c.Conn.Write(b[:c.keep])
	return n, errors.New("injected write failure")
}

func TestClientWriteFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		keep int
		want string
	}{
		{"part-way", 20, "unknown"},
		{"nothing written", 0, "ok"}, // retried on the next session: safe, as nothing left
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dials atomic.Int64
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil || dials.Add(1) > 1 {
					return conn, err
				}
				return &faultConn{Conn: conn, failAt: 2, keep: tc.keep}, nil // write 1 is the bind
			}
			h := setup(t, fakeOpts{}, Config{Dial: dial})
			h.waitBound(t)
			_, err := h.c.Submit(context.Background(), testSM("x"))
			if got := outcome(t, err); got != tc.want {
				t.Fatalf("Submit = %v (%s), want %s", err, got, tc.want)
			}
			h.waitBound(t)
			if _, err := h.c.Submit(context.Background(), testSM("y")); err != nil {
				t.Fatal(err)
			}
			wantSeen := 1
			if tc.want == "ok" {
				wantSeen = 2
			}
			if n := len(h.f.submitted()); n != wantSeen {
				t.Errorf("SMSC saw %d whole submits, want %d", n, wantSeen)
			}
		})
	}
}

func TestClientCleanUnbindOnCancel(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{onSubmit: func(fc *fakeConn, p *PDU) {
		go func() {
			time.Sleep(100 * time.Millisecond)
			fc.ack(p)
		}()
	}}, Config{})
	h.waitBound(t)
	res := make(chan error, 1)
	go func() {
		_, err := h.c.Submit(context.Background(), testSM("in flight at shutdown"))
		res <- err
	}()
	waitFor(t, 5*time.Second, "submit outstanding", func() bool { return len(h.f.submitted()) == 1 })
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if err := <-res; err != nil {
		t.Errorf("in-flight Submit = %v: shutdown should wait for its answer", err)
	}
	if h.f.unbinds.Load() != 1 {
		t.Fatalf("SMSC saw %d unbinds, want 1", h.f.unbinds.Load())
	}
	ev := h.f.eventLog()
	if i, j := slices.Index(ev, "submit_sm_resp"), slices.Index(ev, "unbind"); i < 0 || j < i {
		t.Errorf("events %v: unbind before the in-flight answer", ev)
	}
	select {
	case <-h.f.conn().closed:
	case <-time.After(2 * time.Second):
		t.Error("connection still open after Run returned")
	}
	if h.c.Bound() {
		t.Error("Bound after Run returned")
	}
}

func TestClientRunTwiceConcurrently(t *testing.T) {
	t.Parallel()
	h := setup(t, fakeOpts{}, Config{})
	h.waitBound(t)
	if err := h.c.Run(context.Background()); err == nil {
		t.Fatal("second concurrent Run returned nil")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	lo, hi := 250*time.Millisecond, 30*time.Second
	for n, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second} {
		for range 100 {
			if d := backoff(lo, hi, n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
		}
	}
	for range 100 {
		if d := backoff(lo, hi, 1000); d < hi/2 || d > hi {
			t.Fatalf("backoff(1000) = %s, want capped in [%s, %s]", d, hi/2, hi)
		}
	}
}

func TestSequenceWraps(t *testing.T) {
	t.Parallel()
	c := New(Config{})
	c.seq.Store(0x7FFFFFFD)
	var got []uint32
	for range 3 {
		got = append(got, c.nextSeq())
	}
	if want := []uint32{0x7FFFFFFE, 0x7FFFFFFF, 1}; !slices.Equal(got, want) {
		t.Errorf("sequence = %x, want %x", got, want)
	}
}
