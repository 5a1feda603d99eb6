package sipscreen_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sipscreen"
)

// screenFunc is a Screener made of a function; it records every request it is asked about.
type screenFunc struct {
	f    func(*unspoof.ScreenRequest) *unspoof.Verdict
	mu   sync.Mutex
	seen []unspoof.ScreenRequest
}

func (s *screenFunc) Screen(_ context.Context, r *unspoof.ScreenRequest) *unspoof.Verdict {
	s.mu.Lock()
	s.seen = append(s.seen, *r)
	s.mu.Unlock()
	return s.f(r)
}

func (s *screenFunc) requests() []unspoof.ScreenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]unspoof.ScreenRequest(nil), s.seen...)
}

// setup starts a server on a free loopback port and closes it when the test ends.
func setup(t *testing.T, cfg sipscreen.Config) *sipscreen.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv := sipscreen.New(cfg)
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return srv
}

// invite returns an INVITE from a local UA at laddr to +441632960001, presenting from.
func invite(laddr, transport, callID, from string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:+441632960001@127.0.0.1:5099;user=phone SIP/2.0\r\n")
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK-%s;rport\r\n", transport, laddr, callID)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:%s@carrier.example;user=phone>;tag=f-%s\r\n", from, callID)
	fmt.Fprintf(&b, "To: <sip:+441632960001@127.0.0.1;user=phone>\r\n")
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: 1 INVITE\r\n", callID)
	fmt.Fprintf(&b, "Contact: <sip:caller@%s>\r\n", laddr)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// request returns a request of another method, outside any dialog.
func request(method, laddr, transport, callID string) string {
	return fmt.Sprintf("%s sip:screen@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-%s\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:proxy@127.0.0.1>;tag=p1\r\nTo: <sip:screen@127.0.0.1>\r\n"+
		"Call-ID: %s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n", method, transport, laddr, callID, callID, method)
}

// peer is a raw SIP endpoint: it writes messages as given and reads what comes back.
type peer struct {
	t    *testing.T
	conn net.Conn
	tp   string // "UDP" or "TCP"
	rd   *bufio.Reader
}

func dial(t *testing.T, network, addr string) *peer {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c, tp: strings.ToUpper(network), rd: bufio.NewReader(c)}
}

func (p *peer) laddr() string { return p.conn.LocalAddr().String() }

func (p *peer) send(msg string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads the next response (bodies are always empty here), skipping 100 Trying.
func (p *peer) recv() *sip.Response {
	p.t.Helper()
	for {
		p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var raw []byte
		if p.tp == "UDP" {
			buf := make([]byte, 65535)
			n, err := p.conn.Read(buf)
			if err != nil {
				p.t.Fatalf("no response: %v", err)
			}
			raw = buf[:n]
		} else {
			var b strings.Builder
			for !strings.HasSuffix(b.String(), "\r\n\r\n") {
				line, err := p.rd.ReadString('\n')
				if err != nil {
					p.t.Fatalf("no response: %v", err)
				}
				b.WriteString(line)
			}
			raw = []byte(b.String())
		}
		msg, err := sip.ParseMessage(raw)
		if err != nil {
			p.t.Fatalf("response does not parse: %v\n%s", err, raw)
		}
		res, ok := msg.(*sip.Response)
		if !ok {
			p.t.Fatalf("not a response:\n%s", raw)
		}
		if res.StatusCode != 100 {
			return res
		}
	}
}

func header(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// TestServer runs the redirect server over real sockets, UDP and TCP, against raw messages.
func TestServer(t *testing.T) {
	t.Parallel()
	scr := &screenFunc{f: func(r *unspoof.ScreenRequest) *unspoof.Verdict {
		switch r.From {
		case "+441632960999": // a DNO number
			return &unspoof.Verdict{Action: unspoof.ActionBlock, Verstat: unspoof.VerstatNone,
				Reasons: []unspoof.Reason{{Code: "dno", Rule: "dno"}}}
		case "+12025550100":
			return &unspoof.Verdict{Action: unspoof.ActionFlag, Verstat: unspoof.VerstatFailed,
				Reasons: []unspoof.Reason{{Code: "passport-signature", Rule: "stirshaken"}}}
		case "+449999999999":
			panic("boom")
		}
		return &unspoof.Verdict{Action: unspoof.ActionAllow, Verstat: unspoof.VerstatPassed, Attest: "A",
			SPC: "1234", From: "+447700900123"}
	}}
	reg := prometheus.NewRegistry()
	srv := setup(t, sipscreen.Config{
		Screener: scr,
		Ingress:  sipscreen.IngressFromCIDRs([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
		Trunk:    func(*sip.Request) string { return "trunk-a" },
		Metrics:  sipscreen.NewMetrics(reg),
		Now:      func() time.Time { return time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC) },
	})

	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			p := dial(t, network, srv.Addr())

			// Allowed, signed: 302 back to the Request-URI, verstat on the caller.
			id := "allow-" + network
			p.send(invite(p.laddr(), p.tp, id, "+447700900123", "Identity: a.b.c;info=<https://x.example/c.pem>"))
			res := p.recv()
			if res.StatusCode != 302 || res.CallID().Value() != id {
				t.Fatalf("got %s", res.StartLine())
			}
			for h, want := range map[string]string{
				"Contact":                  "<sip:+441632960001@127.0.0.1:5099;user=phone>",
				"P-Asserted-Identity":      "<sip:+447700900123;verstat=TN-Validation-Passed@carrier.example;user=phone>",
				sipscreen.HeaderVerdict:    "allow",
				sipscreen.HeaderVerstat:    unspoof.VerstatPassed,
				sipscreen.HeaderAttest:     "A",
				sipscreen.HeaderSPC:        "1234",
				sipscreen.HeaderFailedOpen: "",
			} {
				if got := header(res, h); got != want {
					t.Errorf("302 %s: %q, want %q", h, got, want)
				}
			}
			var got *unspoof.ScreenRequest
			for _, r := range scr.requests() {
				if r.CallID == id {
					got = &r
				}
			}
			if got == nil {
				t.Fatal("screener not asked")
			}
			want := unspoof.ScreenRequest{From: "+447700900123", To: "+441632960001",
				Identity: []string{"a.b.c;info=<https://x.example/c.pem>"}, Ingress: unspoof.IngressInternational,
				SourceIP: "127.0.0.1", Trunk: "trunk-a", CallID: id, At: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)}
			if fmt.Sprint(*got) != fmt.Sprint(want) {
				t.Errorf("screen request\n got %+v\nwant %+v", *got, want)
			}
			// The proxy's ACK ends the transaction; nothing comes back.
			p.send(strings.Replace(strings.Replace(invite(p.laddr(), p.tp, id, "+447700900123"),
				"INVITE sip:", "ACK sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 ACK", 1))

			// Flagged: still a 302, with the reason.
			p.send(invite(p.laddr(), p.tp, "flag-"+network, "+12025550100"))
			res = p.recv()
			if res.StatusCode != 302 || header(res, sipscreen.HeaderVerdict) != "flag" ||
				header(res, sipscreen.HeaderReasons) != "passport-signature" {
				t.Errorf("flag: got\n%s", res)
			}

			// Blocked: 603 with an RFC 3326 Reason.
			p.send(invite(p.laddr(), p.tp, "block-"+network, "+441632960999"))
			res = p.recv()
			if res.StatusCode != 603 || res.Reason != "Decline" ||
				header(res, "Reason") != `SIP;cause=603;text="dno"` || header(res, sipscreen.HeaderVerdict) != "block" ||
				header(res, "Contact") != "" {
				t.Errorf("block: got\n%s", res)
			}

			// A broken screener fails open.
			p.send(invite(p.laddr(), p.tp, "panic-"+network, "+449999999999"))
			res = p.recv()
			if res.StatusCode != 302 || header(res, sipscreen.HeaderFailedOpen) != "true" {
				t.Errorf("panic: got\n%s", res)
			}

			// Keep-alive and other methods.
			p.send(request("OPTIONS", p.laddr(), p.tp, "options-"+network))
			if res = p.recv(); res.StatusCode != 200 || header(res, "Allow") != "INVITE, ACK, CANCEL, OPTIONS" {
				t.Errorf("OPTIONS: got\n%s", res)
			}
			p.send(request("MESSAGE", p.laddr(), p.tp, "message-"+network))
			if res = p.recv(); res.StatusCode != 405 {
				t.Errorf("MESSAGE: got\n%s", res)
			}
			p.send(request("CANCEL", p.laddr(), p.tp, "cancel-"+network))
			if res = p.recv(); res.StatusCode != 481 {
				t.Errorf("stray CANCEL: got\n%s", res)
			}
		})
	}

	// A response is counted once it is sent, so the count may trail what the peer read.
	for code, want := range map[string]float64{"302": 6, "603": 2} {
		got := counter(t, reg, "INVITE", code)
		for deadline := time.Now().Add(2 * time.Second); got != want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
			got = counter(t, reg, "INVITE", code)
		}
		if got != want {
			t.Errorf("responses_total{INVITE,%s} = %v, want %v", code, got, want)
		}
	}
}

// counter finds one child of unspoof_sip_responses_total in reg.
func counter(t *testing.T, reg *prometheus.Registry, method, code string) float64 {
	t.Helper()
	var v float64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "unspoof_sip_responses_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

// TestRetransmission: a retransmitted INVITE is answered again from the transaction, without a
// second screening.
func TestRetransmission(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	scr := &screenFunc{f: func(*unspoof.ScreenRequest) *unspoof.Verdict {
		calls.Add(1)
		return &unspoof.Verdict{Action: unspoof.ActionBlock, Reasons: []unspoof.Reason{{Code: "dno"}}}
	}}
	srv := setup(t, sipscreen.Config{Screener: scr})
	p := dial(t, "udp", srv.Addr())
	msg := invite(p.laddr(), "UDP", "rtx-1", "+441632960999")
	p.send(msg)
	first := p.recv()
	p.send(msg)
	second := p.recv()
	if first.StatusCode != 603 || second.StatusCode != 603 {
		t.Fatalf("got %d then %d", first.StatusCode, second.StatusCode)
	}
	if header(first, "To") != header(second, "To") {
		t.Errorf("retransmitted answer has another To tag: %q vs %q", header(first, "To"), header(second, "To"))
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("screened %d times, want 1", n)
	}
}

// TestOpen covers the lifecycle: a missing Screener, a taken port, Close before Open and twice.
func TestOpen(t *testing.T) {
	t.Parallel()
	if err := sipscreen.New(sipscreen.Config{Addr: "127.0.0.1:0"}).Open(); unspoof.ErrorCode(err) != unspoof.EINVALID {
		t.Errorf("no screener: %v", err)
	}
	scr := &screenFunc{f: func(*unspoof.ScreenRequest) *unspoof.Verdict { return nil }}
	srv := setup(t, sipscreen.Config{Screener: scr})
	if srv.Addr() == "" || strings.HasSuffix(srv.Addr(), ":0") {
		t.Fatalf("addr %q", srv.Addr())
	}
	if err := sipscreen.New(sipscreen.Config{Screener: scr, Addr: srv.Addr()}).Open(); err == nil {
		t.Error("second server opened on a taken port")
	}
	idle := sipscreen.New(sipscreen.Config{Screener: scr})
	if err := idle.Close(); err != nil {
		t.Errorf("close before open: %v", err)
	}
	// A nil verdict fails open.
	p := dial(t, "tcp", srv.Addr())
	p.send(invite(p.laddr(), "TCP", "nil-1", "+447700900123"))
	if res := p.recv(); res.StatusCode != 302 || header(res, sipscreen.HeaderFailedOpen) != "true" {
		t.Errorf("nil verdict: got\n%s", res)
	}
	other := sipscreen.New(sipscreen.Config{Screener: scr, Addr: "127.0.0.1:0"})
	if err := other.Open(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Error(err)
	}
	if err := other.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// ctxScreener waits for its context to end, then answers nothing.
type ctxScreener struct{}

func (ctxScreener) Screen(ctx context.Context, _ *unspoof.ScreenRequest) *unspoof.Verdict {
	<-ctx.Done()
	return nil
}

// TestTimeout: Config.Timeout bounds a screener that hangs; the call is let through.
func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := setup(t, sipscreen.Config{Screener: ctxScreener{}, Timeout: 50 * time.Millisecond})
	p := dial(t, "udp", srv.Addr())
	t0 := time.Now()
	p.send(invite(p.laddr(), "UDP", "hang-1", "+447700900123"))
	res := p.recv()
	if res.StatusCode != 302 || header(res, sipscreen.HeaderFailedOpen) != "true" {
		t.Errorf("got\n%s", res)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("answered after %s", d)
	}
}
