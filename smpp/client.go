package smpp

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultWindow       = 10
	DefaultEnquireLink  = 30 * time.Second
	DefaultTimeout      = 10 * time.Second
	DefaultReconnectMin = 250 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
)

// maxUnbindWait bounds the wait for unbind_resp when Run stops.
const maxUnbindWait = 5 * time.Second

// deliverQueue is how many received deliver_sm may wait for Config.Deliver
// before the reader stops reading. The SMSC's own window is usually far
// smaller, since it waits for our deliver_sm_resp.
const deliverQueue = 1024

// Config configures a Client. Zero fields get the defaults above.
type Config struct {
	// Addr is the SMSC's host:port.
	Addr string
	// SystemID, Password and SystemType are sent in bind_transceiver.
	SystemID, Password, SystemType string
	// Window is the most requests outstanding (written, unanswered) on the
	// session at once. Default 10.
	Window int
	// EnquireLink is how long the link may be silent (nothing read) before
	// the client sends enquire_link; no answer within Timeout drops the
	// link. Default 30s.
	EnquireLink time.Duration
	// Timeout bounds the wait for each response, the dial and each write.
	// Default 10s.
	Timeout time.Duration
	// ReconnectMin and ReconnectMax bound the delay before reconnecting:
	// exponential from ReconnectMin, capped at ReconnectMax, with jitter.
	// Defaults 250ms and 30s.
	ReconnectMin, ReconnectMax time.Duration
	// Deliver is called for every deliver_sm (receipts and messages from
	// handsets), in order, from one goroutine; the client answers
	// deliver_sm_resp after it returns, so an SMSC redelivers what a crash
	// lost. It must not block for long: submit responses are read on
	// meanwhile, but a full queue stops the reader, and Run's shutdown
	// waits for it. A receipt can reach Deliver before the Submit that sent
	// its message has returned; the SMSC may also deliver one twice. Nil:
	// answered and dropped.
	Deliver func(*Deliver)
	// DeliverAsync, if set, is called instead of Deliver, with ack: the
	// client answers deliver_sm_resp only when ack is called (from any
	// goroutine, in any order; later calls do nothing). A receiver that
	// acks only once it has stored the receipt loses none to a crash: what
	// was never acked, the SMSC delivers again after the next bind. An ack
	// after the session ended is dropped, for the same reason.
	DeliverAsync func(d *Deliver, ack func())
	// Logger receives the client's logs under component=smpp. Phone
	// numbers are logged in full only at debug level. Nil: discarded.
	Logger *slog.Logger
	// Dial opens the connection. Nil: net.Dialer.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnState, if set, is called with true when a session is bound and with
	// false when it ends.
	OnState func(bound bool)
}

var (
	// ErrNotSent is wrapped by Submit errors when nothing was written to the
	// socket (the context ended while waiting for a session or a window slot,
	// the client is closed, or the request is invalid): sending again
	// cannot duplicate the message.
	ErrNotSent = errors.New("smpp: not sent")
	// ErrUnknownOutcome is wrapped by Submit errors when the request was, or
	// may have been, written but no response came (timeout, link lost, a
	// write that failed part-way, a response that could not be read): the
	// SMSC may have accepted the message, so it must not be sent again
	// automatically.
	ErrUnknownOutcome = errors.New("smpp: outcome unknown")
	// ErrBindRefused is wrapped by the error Run returns when the SMSC
	// refuses the credentials (ESME_RINVPASWD, ESME_RINVSYSID): retrying
	// cannot help, so Run stops. The error also wraps the *StatusError.
	ErrBindRefused = errors.New("smpp: bind refused")
)

// errSessionGone: the session ended before the request was written; the
// caller tries the next session.
var errSessionGone = errors.New("smpp: session gone before write")

// Stats are the client's counters since New.
type Stats struct {
	Submits    uint64 // submit_sm written
	Responses  uint64 // submit_sm answered (submit_sm_resp or generic_nack)
	Rejected   uint64 // answered with a non-zero status (Temporary ones included)
	Unknown    uint64 // Submit calls that ended with ErrUnknownOutcome
	InFlight   int64  // submit_sm written and not yet answered or given up
	Reconnects uint64 // connection attempts after the first
	Delivers   uint64 // deliver_sm handed to Config.Deliver
	Receipts   uint64 // of which delivery receipts
	Bound      bool   // a session is bound now
}

type clientState int

const (
	stateIdle     clientState = iota // Run not yet called: Submit waits
	stateRunning                     // Run is connecting or bound
	stateStopping                    // Run's context ended: no new requests
	stateStopped                     // Run returned
)

// Client is an SMPP 3.4 ESME bound as a transceiver. Create it with New,
// start it with Run, and Submit from any number of goroutines.
type Client struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	state   clientState
	sess    *session
	changed chan struct{} // closed and replaced when state or sess changes

	seq atomic.Uint32

	submits, responses, rejected, unknown atomic.Uint64
	reconnects, delivers, receipts        atomic.Uint64
	inflight                              atomic.Int64
}

// New returns a Client for cfg. It does not connect: call Run.
func New(cfg Config) *Client {
	cfg.Window = cmp.Or(cfg.Window, DefaultWindow)
	cfg.EnquireLink = cmp.Or(cfg.EnquireLink, DefaultEnquireLink)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.ReconnectMin = cmp.Or(cfg.ReconnectMin, DefaultReconnectMin)
	cfg.ReconnectMax = max(cmp.Or(cfg.ReconnectMax, DefaultReconnectMax), cfg.ReconnectMin)
	if cfg.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
	}
	logger := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Client{
		cfg:     cfg,
		log:     logger.With("component", "smpp"),
		changed: make(chan struct{}),
	}
}

// Bound reports whether a session is bound now.
func (c *Client) Bound() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil && c.sess.alive()
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Submits:    c.submits.Load(),
		Responses:  c.responses.Load(),
		Rejected:   c.rejected.Load(),
		Unknown:    c.unknown.Load(),
		InFlight:   c.inflight.Load(),
		Reconnects: c.reconnects.Load(),
		Delivers:   c.delivers.Load(),
		Receipts:   c.receipts.Load(),
		Bound:      c.Bound(),
	}
}

// setLocked changes state and session and wakes waiters; c.mu is held.
func (c *Client) setLocked(st clientState, s *session) {
	c.state, c.sess = st, s
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Client) setState(st clientState) {
	c.mu.Lock()
	c.setLocked(st, c.sess)
	c.mu.Unlock()
}

func (c *Client) setSession(s *session) {
	c.mu.Lock()
	c.setLocked(c.state, s)
	c.mu.Unlock()
}

// nextSeq returns sequence numbers 1..0x7FFFFFFF, wrapping.
func (c *Client) nextSeq() uint32 {
	return (c.seq.Add(1)-1)%0x7FFFFFFF + 1
}

// Run connects, binds as a transceiver and keeps the session: it sends
// enquire_link when the link is idle, answers the SMSC's enquire_link and
// unbind, and reconnects with capped, jittered exponential backoff after any
// link loss or failed bind. When ctx ends it stops taking new requests,
// waits up to Timeout for those in flight, unbinds (waiting briefly for
// unbind_resp), closes the connection and returns nil. If the SMSC refuses
// the credentials it returns an error wrapping ErrBindRefused at once.
//
// Run may be called again after it returns, but not concurrently.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.state == stateRunning || c.state == stateStopping {
		c.mu.Unlock()
		return errors.New("smpp: run: client already running")
	}
	c.setLocked(stateRunning, nil)
	c.mu.Unlock()
	defer c.setState(stateStopped)

	attempt := 0
	for first := true; ; first = false {
		if ctx.Err() != nil {
			return nil
		}
		if !first {
			c.reconnects.Add(1)
		}
		boundFor, err := c.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var se *StatusError
		if errors.As(err, &se) && (se.Status == StatusInvPaswd || se.Status == StatusInvSysID) {
			c.log.Error("smpp bind refused", "addr", c.cfg.Addr, "system_id", c.cfg.SystemID, "status", se.Status.String())
			return fmt.Errorf("%w: %w", ErrBindRefused, se)
		}
		if boundFor >= c.cfg.ReconnectMax {
			attempt = 0 // a session that lasted is not a flapping link
		}
		delay := backoff(c.cfg.ReconnectMin, c.cfg.ReconnectMax, attempt)
		attempt++
		c.log.Warn("smpp link down", "addr", c.cfg.Addr, "err", err, "bound_for", boundFor.Round(time.Millisecond), "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// backoff returns the delay before reconnect attempt n (from 0): lo·2ⁿ
// capped at hi, then a uniformly random point in its upper half.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// runSession dials, binds and serves one session until the link is lost or
// ctx ends. It returns how long the session was bound and why it ended.
func (c *Client) runSession(ctx context.Context) (time.Duration, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	conn, err := c.cfg.Dial(dctx, "tcp", c.cfg.Addr)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	s := &session{
		c:        c,
		conn:     conn,
		br:       bufio.NewReaderSize(conn, 16<<10),
		window:   make(chan struct{}, c.cfg.Window),
		pending:  make(map[uint32]chan response),
		done:     make(chan struct{}),
		deliverQ: make(chan *PDU, deliverQueue),
	}
	if err := s.bind(ctx); err != nil {
		conn.Close()
		return 0, err
	}
	boundAt := time.Now()
	s.touch()
	c.log.Info("smpp bound", "addr", c.cfg.Addr, "system_id", c.cfg.SystemID)
	c.setSession(s)
	if c.cfg.OnState != nil {
		c.cfg.OnState(true)
	}
	s.wg.Add(3)
	go s.readLoop()
	go s.deliverLoop()
	go s.keepalive()

	select {
	case <-ctx.Done():
		c.setState(stateStopping)
		s.shutdown()
	case <-s.done:
	}
	c.setSession(nil)
	if c.cfg.OnState != nil {
		c.cfg.OnState(false)
	}
	s.conn.Close()
	s.wg.Wait()
	return time.Since(boundAt), s.cause()
}

// Submit sends one submit_sm and returns the message id from its
// submit_sm_resp. It is safe for concurrent use. It waits for a bound
// session and a window slot (both bounded by ctx), writes the PDU, then
// waits up to Config.Timeout for the response; once written, the wait is not
// cut short by ctx, since an answer then is worth more than a prompt return.
//
// Errors tell three cases apart:
//   - *StatusError (errors.As): the SMSC answered with a non-zero status
//     (generic_nack included): the message was not accepted.
//   - ErrNotSent (errors.Is): nothing was written; sending again is safe.
//     Invalid requests wrap ErrInvalid too, and will fail again.
//   - ErrUnknownOutcome (errors.Is): the PDU was or may have been written
//     and no usable response came: do not send again automatically.
//
// The caller keeps ownership of sm; Submit does not modify it.
func (c *Client) Submit(ctx context.Context, sm *SubmitSM) (string, error) {
	if sm == nil {
		return "", fmt.Errorf("%w: %w: nil submit_sm", ErrNotSent, ErrInvalid)
	}
	frame, err := (&PDU{ID: CmdSubmitSM, Body: sm}).AppendBinary(make([]byte, 0, 64+len(sm.ShortMessage)+len(sm.Source)+len(sm.Dest)))
	if err != nil {
		return "", fmt.Errorf("%w: %w: %w", ErrNotSent, ErrInvalid, err)
	}
	for {
		s, err := c.waitSession(ctx)
		if err != nil {
			return "", err
		}
		r, err := s.roundTrip(ctx, frame)
		if err == errSessionGone {
			continue // nothing written; the next session will take it
		}
		if err != nil {
			if errors.Is(err, ErrUnknownOutcome) {
				c.unknown.Add(1)
				c.log.Debug("smpp submit outcome unknown", "dest", sm.Dest, "err", err)
			}
			return "", err
		}
		c.responses.Add(1)
		p := r.pdu
		if p.Status != StatusOK || p.ID == CmdGenericNack {
			c.rejected.Add(1)
			return "", &StatusError{Status: cmp.Or(p.Status, StatusUnknownErr)}
		}
		if r.err != nil {
			c.unknown.Add(1)
			return "", fmt.Errorf("%w: accepted, but the response was unreadable: %w", ErrUnknownOutcome, r.err)
		}
		if p.ID != CmdSubmitSMResp {
			c.unknown.Add(1)
			return "", fmt.Errorf("%w: answered with %s", ErrUnknownOutcome, p.ID)
		}
		var id string
		if b, ok := p.Body.(*SubmitSMResp); ok {
			id = b.MessageID
		}
		c.log.Debug("smpp submitted", "dest", sm.Dest, "message_id", id)
		return id, nil
	}
}

// waitSession returns the bound session, waiting for one while Run is
// connecting or not yet started.
func (c *Client) waitSession(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		st, s, changed := c.state, c.sess, c.changed
		c.mu.Unlock()
		if st == stateStopping || st == stateStopped {
			return nil, fmt.Errorf("%w: client closed", ErrNotSent)
		}
		if s != nil && s.alive() {
			return s, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for a bound session: %w", ErrNotSent, context.Cause(ctx))
		}
	}
}

// response is what the reader hands a waiting request: the PDU, and err
// when its body could not be decoded (the header is still valid).
type response struct {
	pdu *PDU
	err error
}

// session is one bound connection.
type session struct {
	c      *Client
	conn   net.Conn
	br     *bufio.Reader
	window chan struct{} // a slot per outstanding request
	wmu    sync.Mutex    // one writer at a time: PDUs are never interleaved

	mu      sync.Mutex
	pending map[uint32]chan response
	closing bool // no new requests: link lost or shutting down
	done    chan struct{}
	err     error

	lastRead atomic.Int64 // unix nanoseconds of the last PDU read
	deliverQ chan *PDU
	wg       sync.WaitGroup
}

func (s *session) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing
}

func (s *session) cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *session) touch() { s.lastRead.Store(time.Now().UnixNano()) }

// fail ends the session: it records the first cause, wakes every waiter
// and closes the connection.
func (s *session) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		s.closing = true
		close(s.done)
	}
	s.mu.Unlock()
	s.conn.Close()
}

// bind sends bind_transceiver and waits for its response, before the
// session's goroutines start.
func (s *session) bind(ctx context.Context) error {
	cfg := s.c.cfg
	s.conn.SetDeadline(time.Now().Add(cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer stop()
	seq := s.c.nextSeq()
	req := &PDU{ID: CmdBindTransceiver, Seq: seq, Body: &Bind{
		SystemID:         cfg.SystemID,
		Password:         cfg.Password,
		SystemType:       cfg.SystemType,
		InterfaceVersion: InterfaceVersion,
	}}
	frame, err := req.MarshalBinary()
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if _, err := s.conn.Write(frame); err != nil {
		return fmt.Errorf("bind: write: %w", err)
	}
	for {
		p, err := ReadPDU(s.br)
		if err != nil && (p == nil || p.Seq != seq) {
			if p != nil {
				continue // a malformed PDU that is not our answer
			}
			return fmt.Errorf("bind: read: %w", err)
		}
		switch {
		case p.Seq == seq && (p.ID == CmdBindTransceiverResp || p.ID == CmdGenericNack):
			if p.Status != StatusOK || p.ID == CmdGenericNack {
				return fmt.Errorf("bind: %w", &StatusError{Status: cmp.Or(p.Status, StatusUnknownErr)})
			}
			return s.conn.SetDeadline(time.Time{})
		case p.ID == CmdEnquireLink:
			s.reply(p.Seq, CmdEnquireLinkResp, StatusOK, nil)
		}
	}
}

// roundTrip takes a window slot, sends the request and waits for its
// response. errSessionGone means nothing was written.
func (s *session) roundTrip(ctx context.Context, frame []byte) (response, error) {
	select {
	case s.window <- struct{}{}:
	case <-s.done:
		return response{}, errSessionGone
	case <-ctx.Done():
		return response{}, fmt.Errorf("%w: waiting for a window slot: %w", ErrNotSent, context.Cause(ctx))
	}
	defer func() { <-s.window }()
	return s.send(frame, true, false, s.c.cfg.Timeout)
}

// send writes a request frame (its sequence number filled in here) and
// waits up to timeout for the response. submit keeps the submit counters;
// force sends even while the session is shutting down (for unbind).
func (s *session) send(frame []byte, submit, force bool, timeout time.Duration) (response, error) {
	seq := s.c.nextSeq()
	binary.BigEndian.PutUint32(frame[12:], seq)
	ch := make(chan response, 1)
	s.mu.Lock()
	if s.closing && (!force || s.err != nil) {
		s.mu.Unlock()
		return response{}, errSessionGone
	}
	s.pending[seq] = ch
	s.mu.Unlock()

	n, err := s.write(frame)
	if err != nil {
		s.claim(seq)
		if n == 0 {
			return response{}, errSessionGone
		}
		if submit {
			s.c.submits.Add(1)
		}
		return response{}, fmt.Errorf("%w: write failed after %d of %d bytes: %w", ErrUnknownOutcome, n, len(frame), err)
	}
	if submit {
		s.c.submits.Add(1)
		s.c.inflight.Add(1)
		defer s.c.inflight.Add(-1)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		if waiting := s.claim(seq); !waiting {
			return <-ch, nil // answered just now
		}
		return response{}, fmt.Errorf("%w: no response in %s", ErrUnknownOutcome, timeout)
	case <-s.done:
		if waiting := s.claim(seq); !waiting {
			return <-ch, nil
		}
		return response{}, fmt.Errorf("%w: link lost awaiting the response: %w", ErrUnknownOutcome, s.cause())
	}
}

// claim stops waiting for seq. It reports false when the reader has taken
// the entry, in which case the response is in (or about to be in) its
// channel.
func (s *session) claim(seq uint32) (waiting bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, waiting = s.pending[seq]
	delete(s.pending, seq)
	return waiting
}

func (s *session) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// write writes one whole frame; on error the session fails.
func (s *session) write(frame []byte) (int, error) {
	s.wmu.Lock()
	s.conn.SetWriteDeadline(time.Now().Add(s.c.cfg.Timeout))
	n, err := s.conn.Write(frame)
	s.wmu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("write: %w", err))
	}
	return n, err
}

// reply answers a request from the SMSC.
func (s *session) reply(seq uint32, id CommandID, st Status, body Body) {
	frame, err := (&PDU{ID: id, Status: st, Seq: seq, Body: body}).MarshalBinary()
	if err != nil {
		s.c.log.Error("smpp encode reply", "command", id.String(), "err", err)
		return
	}
	s.write(frame)
}

// readLoop reads PDUs until the link fails, handing responses to their
// waiting requests and answering the SMSC's requests.
func (s *session) readLoop() {
	defer s.wg.Done()
	defer close(s.deliverQ)
	for {
		p, err := ReadPDU(s.br)
		if err != nil && (p == nil || !errors.Is(err, ErrBadBody)) {
			s.fail(fmt.Errorf("read: %w", err))
			return
		}
		s.touch()
		if err != nil {
			s.c.log.Warn("smpp malformed pdu", "command", p.ID.String(), "seq", p.Seq, "err", err)
			if p.ID.IsResponse() {
				s.resolve(response{pdu: p, err: err})
			} else {
				s.reply(p.Seq, CmdGenericNack, StatusInvCmdLen, nil)
			}
			continue
		}
		switch {
		case p.ID.IsResponse():
			s.resolve(response{pdu: p})
		case p.ID == CmdDeliverSM:
			select {
			case s.deliverQ <- p:
			case <-s.done:
				return
			}
		case p.ID == CmdEnquireLink:
			s.reply(p.Seq, CmdEnquireLinkResp, StatusOK, nil)
		case p.ID == CmdUnbind:
			s.reply(p.Seq, CmdUnbindResp, StatusOK, nil)
			s.fail(errors.New("smsc unbound"))
			return
		case p.ID == CmdAlertNotification || p.ID == CmdOutbind:
			// No response is defined; nothing to do for a transceiver.
		default:
			s.reply(p.Seq, CmdGenericNack, StatusInvCmdID, nil)
		}
	}
}

// resolve hands a response to the request waiting for its sequence number.
func (s *session) resolve(r response) {
	s.mu.Lock()
	ch, ok := s.pending[r.pdu.Seq]
	delete(s.pending, r.pdu.Seq)
	s.mu.Unlock()
	if !ok {
		s.c.log.Info("smpp response to no waiting request (late, after a timeout?)", "command", r.pdu.ID.String(), "seq", r.pdu.Seq, "status", r.pdu.Status.String())
		return
	}
	ch <- r
}

// deliverLoop hands deliver_sm to Config.Deliver in order and answers each
// after it returns.
func (s *session) deliverLoop() {
	defer s.wg.Done()
	for p := range s.deliverQ {
		d := ParseDeliver(p.Body.(*DeliverSM))
		s.c.delivers.Add(1)
		if d.Receipt != nil {
			s.c.receipts.Add(1)
			if d.Receipt.ParseErr != nil {
				s.c.log.Warn("smpp receipt read in part", "message_id", d.Receipt.ID, "err", d.Receipt.ParseErr)
			}
		}
		s.c.log.Debug("smpp deliver", "source", d.Source, "dest", d.Dest, "receipt", d.Receipt != nil)
		if s.c.cfg.DeliverAsync != nil {
			seq := p.Seq
			var once sync.Once
			s.c.cfg.DeliverAsync(d, func() {
				once.Do(func() {
					select {
					case <-s.done:
					default:
						s.reply(seq, CmdDeliverSMResp, StatusOK, &DeliverSMResp{})
					}
				})
			})
			continue
		}
		if s.c.cfg.Deliver != nil {
			s.c.cfg.Deliver(d)
		}
		s.reply(p.Seq, CmdDeliverSMResp, StatusOK, &DeliverSMResp{})
	}
}

// keepalive sends enquire_link whenever nothing has been read for
// EnquireLink, and fails the session if it goes unanswered.
func (s *session) keepalive() {
	defer s.wg.Done()
	every := s.c.cfg.EnquireLink
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if idle := time.Since(time.Unix(0, s.lastRead.Load())); idle < every {
			t.Reset(every - idle)
			continue
		}
		select {
		case s.window <- struct{}{}:
		default:
			t.Reset(every) // requests are outstanding: their answers test the link
			continue
		}
		frame, _ := (&PDU{ID: CmdEnquireLink}).MarshalBinary()
		_, err := s.send(frame, false, false, s.c.cfg.Timeout)
		<-s.window
		if err == errSessionGone {
			return
		}
		if err != nil {
			s.fail(fmt.Errorf("enquire_link: %w", err))
			return
		}
		t.Reset(every)
	}
}

// shutdown stops new requests, lets those in flight finish (up to
// Timeout), then unbinds and waits briefly for unbind_resp.
func (s *session) shutdown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	deadline := time.Now().Add(s.c.cfg.Timeout)
	for s.pendingCount() > 0 && time.Now().Before(deadline) {
		select {
		case <-s.done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	frame, _ := (&PDU{ID: CmdUnbind}).MarshalBinary()
	r, err := s.send(frame, false, true, min(s.c.cfg.Timeout, maxUnbindWait))
	switch {
	case err != nil:
		s.c.log.Warn("smpp unbind", "err", err)
	case r.pdu.ID != CmdUnbindResp || r.pdu.Status != StatusOK:
		s.c.log.Warn("smpp unbind answered", "command", r.pdu.ID.String(), "status", r.pdu.Status.String())
	default:
		s.c.log.Info("smpp unbound", "addr", s.c.cfg.Addr)
	}
	s.fail(errors.New("closed"))
}
