package sipscreen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/unspoof/unspoof"
)

// DefaultAddr is where a Server listens when Config.Addr is empty: the standard SIP port on
// loopback, so that nothing is exposed by accident.
const DefaultAddr = "127.0.0.1:5060"

// Config configures a Server. Only Screener is required; zero fields get defaults.
type Config struct {
	// Screener decides about each INVITE. Required.
	Screener unspoof.Screener

	// Addr is the host:port to listen on, over both UDP and TCP (the same port for both). Port 0
	// picks a free port; Server.Addr tells which. Default DefaultAddr.
	Addr string

	// Ingress says where a request entered the network: unspoof.IngressDomestic or
	// unspoof.IngressInternational. nil treats every call as domestic. IngressFromCIDRs builds
	// one from the address ranges of the international peers.
	Ingress func(req *sip.Request) string

	// Trunk names the ingress trunk or peer of a request, for the egress and velocity rules.
	// nil leaves ScreenRequest.Trunk empty.
	Trunk func(req *sip.Request) string

	// Timeout bounds each Screen call through its context; the Screener applies its own
	// fail-open deadline within it. 0 means no bound beyond the server's life.
	Timeout time.Duration

	// Metrics counts responses and screening time; nil records nothing. See NewMetrics.
	Metrics *Metrics

	// Logger receives the server's log lines (with component=sip). Lines that carry phone
	// numbers are logged at debug level only; sipgo's own lines are all lowered to debug,
	// since they may quote whole requests. nil discards everything.
	Logger *slog.Logger

	// Now gives the time stamped on each ScreenRequest. Default time.Now.
	Now func() time.Time
}

// Server is a SIP redirect server that screens each INVITE: it answers 302 Moved Temporarily
// (allow, flag) or 603 Decline (block), with the verdict in headers (see the package doc).
// OPTIONS is answered 200; other methods 405. Safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	udp    net.PacketConn
	tcp    net.Listener
	addr   string
	cancel context.CancelFunc // ends the screenings in flight
	wg     sync.WaitGroup
}

// New returns a Server for cfg; Open starts it.
func New(cfg Config) *Server {
	cfg.Addr = cmp.Or(cfg.Addr, DefaultAddr)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: logger.With("component", "sip")}
}

// Open listens on Config.Addr over UDP and TCP and serves in the background; it returns once
// both sockets are bound, so a test can use port 0 and read Addr right away.
func (s *Server) Open() error {
	if s.cfg.Screener == nil {
		return unspoof.Errorf(unspoof.EINVALID, "sipscreen: no Screener configured")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ua != nil {
		return unspoof.Errorf(unspoof.ECONFLICT, "sipscreen: already open")
	}
	udp, tcp, err := listen(s.cfg.Addr)
	if err != nil {
		return err
	}
	// sipgo logs whole start lines (with phone numbers) at info and error level: lower them.
	quiet := slog.New(debugOnly{s.log.Handler()})
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("unspoof"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
	)
	if err != nil {
		udp.Close()
		tcp.Close()
		return fmt.Errorf("sipscreen: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return fmt.Errorf("sipscreen: server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) { s.handleInvite(ctx, req, tx) })
	srv.OnOptions(s.handleOptions)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {}) // an ACK is never answered
	srv.OnNoRoute(s.handleOther)

	s.cancel = cancel
	s.ua, s.srv, s.udp, s.tcp = ua, srv, udp, tcp
	s.addr = udp.LocalAddr().String()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); srv.ServeUDP(udp) }()
	go func() { defer s.wg.Done(); srv.ServeTCP(tcp) }()
	s.log.Info("listening", "addr", s.addr, "transports", "udp,tcp")
	return nil
}

// udpReadBuffer is the UDP receive buffer the server asks for, so that a burst of INVITEs
// waits in the kernel rather than being dropped (each is retransmitted 500 ms later).
const udpReadBuffer = 4 << 20

// listen binds UDP and TCP on the same address. With port 0, UDP picks the port and TCP takes
// the same one; if TCP finds it taken, both try again.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, unspoof.Errorf(unspoof.EINVALID, "sipscreen: address %q: %v", addr, err)
	}
	for try := 0; ; try++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("sipscreen: listen udp: %w", err)
		}
		if uc, ok := udp.(*net.UDPConn); ok {
			uc.SetReadBuffer(udpReadBuffer) // best effort: the kernel caps it at net.core.rmem_max
		}
		_, bound, _ := net.SplitHostPort(udp.LocalAddr().String())
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || try == 20 {
			return nil, nil, fmt.Errorf("sipscreen: listen tcp: %w", err)
		}
	}
}

// Addr returns the host:port the server listens on (UDP and TCP), or "" before Open.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops listening, cancels screenings in flight and releases the transaction layer.
// Responses already sent stay retransmitted by nobody: close only when the proxies have moved
// on. Close on a server that is not open does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ua == nil {
		return nil
	}
	s.cancel()
	err := errors.Join(s.udp.Close(), s.tcp.Close())
	s.wg.Wait()
	if e := s.ua.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
		err = errors.Join(err, e)
	}
	s.ua, s.srv, s.udp, s.tcp = nil, nil, nil, nil
	if err != nil {
		return fmt.Errorf("sipscreen: close: %w", err)
	}
	return nil
}

// handleInvite screens the INVITE and answers 302 or 603.
func (s *Server) handleInvite(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	t0 := time.Now()
	if strings.ContainsFunc(req.Recipient.String(), isControl) {
		// The Contact of a 302 repeats the Request-URI: a line break in it would forge headers.
		s.respond(req, tx, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request-URI", nil), t0)
		return
	}
	sr, c := s.screenRequest(req)
	v := s.screen(ctx, sr)
	res := response(req, c, v)
	s.respond(req, tx, res, t0)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("screened", "call_id", sr.CallID, "from", sr.From, "to", sr.To,
			"action", v.Action, "verstat", v.Verstat, "reasons", reasonCodes(v.Reasons, false),
			"status", res.StatusCode, "took", time.Since(t0))
	}
}

// screenRequest builds the ScreenRequest of an INVITE.
func (s *Server) screenRequest(req *sip.Request) (*unspoof.ScreenRequest, caller) {
	sr, c := buildRequest(req)
	if s.cfg.Ingress != nil {
		sr.Ingress = s.cfg.Ingress(req)
	}
	if s.cfg.Trunk != nil {
		sr.Trunk = s.cfg.Trunk(req)
	}
	sr.At = s.cfg.Now()
	return sr, c
}

// screen asks the Screener, failing open on a panic or a nil verdict: a broken screener must not
// stop a network's calls.
func (s *Server) screen(ctx context.Context, sr *unspoof.ScreenRequest) (v *unspoof.Verdict) {
	if s.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("screener panicked: call allowed (failed open)", "call_id", sr.CallID, "panic", fmt.Sprint(p))
			v = &unspoof.Verdict{Action: unspoof.ActionAllow, Verstat: unspoof.VerstatNone, FailedOpen: true}
		}
	}()
	v = s.cfg.Screener.Screen(ctx, sr)
	if v == nil {
		s.log.Error("screener gave no verdict: call allowed (failed open)", "call_id", sr.CallID)
		v = &unspoof.Verdict{Action: unspoof.ActionAllow, Verstat: unspoof.VerstatNone, FailedOpen: true}
	}
	return v
}

// handleOptions answers the keep-alive pings of proxies.
func (s *Server) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	s.respond(req, tx, res, time.Time{})
}

// handleOther answers every method but INVITE, ACK and OPTIONS: 481 to a CANCEL that matches no
// INVITE (sipgo answers the ones that do), 405 to the rest.
func (s *Server) handleOther(req *sip.Request, tx sip.ServerTransaction) {
	var res *sip.Response
	if req.IsCancel() {
		res = sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
	} else {
		res = sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
	}
	s.respond(req, tx, res, time.Time{})
}

// allowed is the Allow header of 200 (OPTIONS) and 405.
const allowed = "INVITE, ACK, CANCEL, OPTIONS"

// respond sends res on tx and counts it; t0, when set, is when screening began.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, res *sip.Response, t0 time.Time) {
	if err := tx.Respond(res); err != nil {
		callID := ""
		if h := req.CallID(); h != nil {
			callID = h.Value()
		}
		s.log.Warn("response not sent", "method", string(req.Method), "status", res.StatusCode,
			"call_id", callID, "err", err)
		s.cfg.Metrics.response(string(req.Method), "not_sent", t0)
		return
	}
	s.cfg.Metrics.response(string(req.Method), strconv.Itoa(res.StatusCode), t0)
}

// debugOnly is a slog.Handler that lowers every record to debug level: sipgo logs whole start
// lines, with phone numbers, at info and error level.
type debugOnly struct{ h slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(as []slog.Attr) slog.Handler { return debugOnly{d.h.WithAttrs(as)} }
func (d debugOnly) WithGroup(n string) slog.Handler       { return debugOnly{d.h.WithGroup(n)} }
