// Package smscsim is a message centre simulator: an SMPP 3.4 SMSC on loopback for trying alert
// campaigns without an operator account, and for the demo. It is a simulator and says so: it
// listens on loopback addresses only, names itself "unspoof-smsc-sim" in every bind response, and
// sends nothing anywhere: messages are only logged and answered.
//
// It accepts binds (transceiver, transmitter, receiver) with a system_id and password, answers
// each submit_sm with a message id of its own, and after a delay sends a delivery receipt (text
// and TLVs) to the account's receiver: delivered for most numbers, undeliverable or expired for a
// chosen share of them, picked by a hash of the number so that the same number always ends the
// same way. Receipts not yet acknowledged when a session drops are sent again on the account's
// next bind, as a real SMSC does. It can refuse submissions above a rate (ESME_RTHROTTLED) and
// can make one recipient reply "STOP".
//
//	sim, err := smscsim.New(smscsim.Config{Addr: "127.0.0.1:2775", SystemID: "unspoof", Password: "secret"})
//	if err == nil { err = sim.Open() }
//	… unspoof campaign run 1 --smsc 127.0.0.1:2775 …
//	sim.Close()
package smscsim

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unspoof/unspoof/smpp"
)

// Name is the system_id the simulator gives in its bind responses, so that a client's logs say
// it never spoke to a real SMSC.
const Name = "unspoof-smsc-sim"

// Defaults of Config.
const (
	DefaultAddr         = "127.0.0.1:2775"
	DefaultSystemID     = "unspoof"
	DefaultReceiptDelay = 500 * time.Millisecond
	DefaultStopText     = "STOP"
	// receiptWindow is how many receipts may await deliver_sm_resp on one session.
	receiptWindow = 64
)

// Config configures a simulator. Zero fields get defaults.
type Config struct {
	// Addr is where to listen: a loopback address and a port ("127.0.0.1:0" picks a free port).
	// Anything else is refused: the simulator is not a service for other machines.
	Addr     string
	SystemID string // the one account: "" = DefaultSystemID
	Password string // its password; "" accepts any password

	// ReceiptDelay is how long after the submit_sm_resp a receipt is sent (DefaultReceiptDelay;
	// negative: at once). Expired messages are reported after three times this delay.
	ReceiptDelay time.Duration
	// Undeliverable and Expired are the shares (0–1) of destination numbers whose messages end
	// UNDELIV or EXPIRED instead of DELIVRD. The share is picked by a hash of the number.
	Undeliverable, Expired float64
	// StopAfter, when > 0, makes the recipient of the StopAfter-th accepted message reply
	// StopText (default "STOP") to its sender, as a mobile-originated deliver_sm.
	StopAfter int
	StopText  string
	// Throttle, when > 0, is how many submit_sm a second the simulator accepts; the others are
	// answered ESME_RTHROTTLED.
	Throttle int

	// Log, when set, receives one JSON line per accepted submit_sm (id, source, destination,
	// text, parts), written before the response leaves.
	Log    io.Writer
	Logger *slog.Logger
	Now    func() time.Time
}

// Submission is one accepted submit_sm as the simulator logs it.
type Submission struct {
	ID     string    `json:"id"`
	Source string    `json:"source"`
	Dest   string    `json:"dest"`
	Text   string    `json:"text"`
	Part   int       `json:"part"`  // 1-based part of a concatenated message; 1 for a single
	Parts  int       `json:"parts"` // parts of the message it belongs to
	Stat   string    `json:"stat"`  // the receipt it will get: DELIVRD, UNDELIV or EXPIRED
	At     time.Time `json:"at"`
}

// Stats are the simulator's counters.
type Stats struct {
	Binds, Submits, Throttled, Rejected   int64
	Delivered, Undeliverable, Expired, MO int64 // deliver_sm acknowledged by the client
}

// Server is a running simulator.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ln   net.Listener
	wg   sync.WaitGroup
	stop chan struct{}

	mu       sync.Mutex
	sessions map[*session]bool
	queue    []*delivery // deliveries waiting for a receiver bind, oldest first
	logMu    sync.Mutex
	lastID   uint64
	window   []time.Time // accepted submit_sm times in the last second (Throttle)
	stopSent bool

	binds, submits, throttled, rejected atomic.Int64
	delivered, undeliv, expired, mo     atomic.Int64
}

// delivery is a deliver_sm to send: a receipt or an MO message.
type delivery struct {
	pdu  *smpp.DeliverSM
	kind string // smpp.StateDelivered, StateUndeliverable, StateExpired, or "MO"
}

// New checks cfg and returns a simulator ready to Open.
func New(cfg Config) (*Server, error) {
	cfg.Addr = cmp.Or(cfg.Addr, DefaultAddr)
	cfg.SystemID = cmp.Or(cfg.SystemID, DefaultSystemID)
	cfg.StopText = cmp.Or(cfg.StopText, DefaultStopText)
	if cfg.ReceiptDelay == 0 {
		cfg.ReceiptDelay = DefaultReceiptDelay
	}
	if cfg.ReceiptDelay < 0 {
		cfg.ReceiptDelay = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Undeliverable < 0 || cfg.Expired < 0 || cfg.Undeliverable+cfg.Expired > 1 {
		return nil, fmt.Errorf("smsc-sim: shares undeliverable %g and expired %g must be ≥ 0 and add up to at most 1",
			cfg.Undeliverable, cfg.Expired)
	}
	if err := CheckLoopback(cfg.Addr); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("component", "smsc-sim"), stop: make(chan struct{}),
		sessions: map[*session]bool{}, lastID: uint64(cfg.Now().Unix()) & 0xFFFFFF << 8}, nil
}

// CheckLoopback returns an error unless addr is HOST:PORT with HOST a loopback address
// (127.0.0.0/8, ::1 or "localhost").
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("smsc-sim: address %q: HOST:PORT, e.g. 127.0.0.1:2775", addr)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("smsc-sim: address %q is not loopback: the simulator only listens on 127.0.0.1 or ::1", addr)
}

// Open starts listening and serving; it returns once the address is bound.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smsc-sim: %w", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	s.log.Info("smsc simulator listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the simulator listens on, once Open.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, unbinds every session and waits for them to end.
func (s *Server) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	err := s.ln.Close()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{Binds: s.binds.Load(), Submits: s.submits.Load(), Throttled: s.throttled.Load(), Rejected: s.rejected.Load(),
		Delivered: s.delivered.Load(), Undeliverable: s.undeliv.Load(), Expired: s.expired.Load(), MO: s.mo.Load()}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.stop:
			default:
				s.log.Error("smsc simulator stopped accepting", "err", err)
			}
			return
		}
		ss := &session{srv: s, conn: c, w: bufio.NewWriter(c), inflight: map[uint32]*delivery{}, slots: make(chan struct{}, receiptWindow),
			done: make(chan struct{})}
		s.mu.Lock()
		s.sessions[ss] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ss.serve()
		}()
	}
}

// outcome is the final state the simulator gives messages to dest.
func (s *Server) outcome(dest string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.TrimPrefix(dest, "+")))
	// FNV's last byte barely reaches the high bits, so numbers a digit apart would share an
	// outcome: mix them through (splitmix64's finaliser) before taking the top 53.
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	u := float64(x>>11) / (1 << 53)
	switch {
	case u < s.cfg.Undeliverable:
		return smpp.StateUndeliverable
	case u < s.cfg.Undeliverable+s.cfg.Expired:
		return smpp.StateExpired
	}
	return smpp.StateDelivered
}

// admit reports whether one more submit_sm may be accepted now under Throttle.
func (s *Server) admit(now time.Time) bool {
	if s.cfg.Throttle <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := 0
	for cut < len(s.window) && now.Sub(s.window[cut]) >= time.Second {
		cut++
	}
	s.window = s.window[cut:]
	if len(s.window) >= s.cfg.Throttle {
		return false
	}
	s.window = append(s.window, now)
	return true
}

// nextID returns a new message id: ten upper-case hex digits.
func (s *Server) nextID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	return fmt.Sprintf("%010X", s.lastID)
}

// enqueue hands d to a session bound to receive, or keeps it for the next one.
func (s *Server) enqueue(d *delivery) {
	s.mu.Lock()
	var to *session
	for ss := range s.sessions {
		if ss.receiver.Load() && ss.alive() {
			to = ss
			break
		}
	}
	if to == nil {
		s.queue = append(s.queue, d)
	}
	s.mu.Unlock()
	if to != nil {
		to.deliver(d)
	}
}

// requeue puts deliveries a dropped session never had acknowledged back in front of the queue,
// and hands the queue to another receiver if one is bound.
func (s *Server) requeue(ds []*delivery) {
	s.mu.Lock()
	s.queue = append(ds, s.queue...)
	s.mu.Unlock()
	s.flush()
}

// flush sends the queued deliveries to a bound receiver, if any.
func (s *Server) flush() {
	s.mu.Lock()
	var to *session
	for ss := range s.sessions {
		if ss.receiver.Load() && ss.alive() {
			to = ss
			break
		}
	}
	if to == nil || len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	go func() {
		for _, d := range q {
			to.deliver(d)
		}
	}()
}

func (s *Server) logSubmission(sub *Submission) {
	if s.cfg.Log == nil {
		return
	}
	b, _ := json.Marshal(sub)
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.cfg.Log.Write(append(b, '\n'))
}

// session is one client connection.
type session struct {
	srv      *Server
	conn     net.Conn
	wmu      sync.Mutex
	w        *bufio.Writer
	bound    atomic.Bool
	transmit atomic.Bool // bound as transceiver or transmitter: may submit
	receiver atomic.Bool // bound as transceiver or receiver: gets receipts and MO
	seq      atomic.Uint32
	slots    chan struct{} // receiptWindow deliver_sm awaiting their response

	mu       sync.Mutex
	inflight map[uint32]*delivery // deliver_sm sent, awaiting deliver_sm_resp, by sequence number
	done     chan struct{}
	once     sync.Once
}

func (ss *session) alive() bool {
	select {
	case <-ss.done:
		return false
	default:
		return true
	}
}

func (ss *session) close() {
	ss.once.Do(func() {
		close(ss.done)
		ss.conn.Close()
	})
}

func (ss *session) send(p *smpp.PDU) error {
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if _, err := ss.w.Write(b); err != nil {
		return err
	}
	return ss.w.Flush()
}

func (ss *session) reply(req *smpp.PDU, st smpp.Status, body smpp.Body) {
	if err := ss.send(&smpp.PDU{ID: req.ID.Resp(), Status: st, Seq: req.Seq, Body: body}); err != nil {
		ss.close()
	}
}

func (ss *session) serve() {
	s := ss.srv
	defer func() {
		ss.close()
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
		ss.mu.Lock()
		var back []*delivery
		for _, d := range ss.inflight {
			back = append(back, d)
		}
		ss.inflight = nil
		ss.mu.Unlock()
		if len(back) > 0 {
			s.log.Info("session ended with receipts unacknowledged: kept for the next bind", "count", len(back))
		}
		s.requeue(back)
	}()
	r := bufio.NewReader(ss.conn)
	for {
		p, err := smpp.ReadPDU(r)
		if err != nil && (p == nil || !errors.Is(err, smpp.ErrBadBody)) {
			return
		}
		if err != nil {
			ss.reply(&smpp.PDU{ID: smpp.CmdGenericNack, Seq: p.Seq}, smpp.StatusInvCmdLen, nil)
			continue
		}
		if !ss.handle(p) {
			return
		}
	}
}

// handle answers one PDU; false ends the session.
func (ss *session) handle(p *smpp.PDU) bool {
	s := ss.srv
	switch p.ID {
	case smpp.CmdBindTransceiver, smpp.CmdBindTransmitter, smpp.CmdBindReceiver:
		if ss.bound.Load() {
			ss.reply(p, smpp.StatusAlyBnd, nil)
			return true
		}
		b := p.Body.(*smpp.Bind)
		switch {
		case b.SystemID != s.cfg.SystemID:
			ss.reply(p, smpp.StatusInvSysID, nil)
			return false
		case s.cfg.Password != "" && b.Password != s.cfg.Password:
			ss.reply(p, smpp.StatusInvPaswd, nil)
			return false
		}
		ss.bound.Store(true)
		s.binds.Add(1)
		ss.reply(p, smpp.StatusOK, &smpp.BindResp{SystemID: Name})
		ss.transmit.Store(p.ID != smpp.CmdBindReceiver)
		if p.ID != smpp.CmdBindTransmitter {
			ss.receiver.Store(true)
			s.flush()
		}
		s.log.Info("bound", "command", p.ID.String(), "system_id", b.SystemID)
	case smpp.CmdSubmitSM:
		if !ss.transmit.Load() {
			ss.reply(p, smpp.StatusInvBndSts, nil)
			return true
		}
		ss.submit(p)
	case smpp.CmdDeliverSMResp, smpp.CmdGenericNack:
		ss.mu.Lock()
		d := ss.inflight[p.Seq]
		delete(ss.inflight, p.Seq)
		ss.mu.Unlock()
		if d == nil {
			return true
		}
		<-ss.slots
		if p.ID == smpp.CmdGenericNack || p.Status != smpp.StatusOK {
			s.log.Warn("client refused a deliver_sm: sending it again later", "status", p.Status.String())
			time.AfterFunc(time.Second, func() { s.enqueue(d) })
			return true
		}
		switch d.kind {
		case smpp.StateDelivered:
			s.delivered.Add(1)
		case smpp.StateUndeliverable:
			s.undeliv.Add(1)
		case smpp.StateExpired:
			s.expired.Add(1)
		default:
			s.mo.Add(1)
		}
	case smpp.CmdEnquireLink:
		ss.reply(p, smpp.StatusOK, nil)
	case smpp.CmdUnbind:
		ss.reply(p, smpp.StatusOK, nil)
		return false
	case smpp.CmdEnquireLinkResp, smpp.CmdUnbindResp:
	default:
		if p.ID.IsResponse() {
			return true
		}
		ss.reply(&smpp.PDU{ID: smpp.CmdGenericNack, Seq: p.Seq}, smpp.StatusInvCmdID, nil)
	}
	return true
}

func (ss *session) submit(p *smpp.PDU) {
	s := ss.srv
	sm := p.Body.(*smpp.SubmitSM)
	now := s.cfg.Now()
	dest := strings.TrimPrefix(sm.Dest, "+")
	if !digits(dest) || len(dest) < 6 || len(dest) > 15 {
		s.rejected.Add(1)
		ss.reply(p, smpp.StatusInvDstAdr, nil)
		return
	}
	if !s.admit(now) {
		s.throttled.Add(1)
		ss.reply(p, smpp.StatusThrottled, nil)
		return
	}
	text, part, parts := messageText(sm)
	sub := &Submission{ID: s.nextID(), Source: sm.Source, Dest: dest, Text: text, Part: part, Parts: parts,
		Stat: s.outcome(dest), At: now.UTC()}
	s.logSubmission(sub)
	n := s.submits.Add(1)
	ss.reply(p, smpp.StatusOK, &smpp.SubmitSMResp{MessageID: sub.ID})
	if sm.RegisteredDelivery&0x03 != 0 {
		delay := s.cfg.ReceiptDelay
		if sub.Stat == smpp.StateExpired {
			delay *= 3
		}
		d := receipt(sub, sm, now.Add(delay))
		time.AfterFunc(delay, func() { s.enqueue(d) })
	}
	if s.cfg.StopAfter > 0 && n >= int64(s.cfg.StopAfter) {
		s.mu.Lock()
		first := !s.stopSent
		s.stopSent = true
		s.mu.Unlock()
		if first {
			mo := &smpp.DeliverSM{SourceTON: 1, SourceNPI: 1, Source: dest, DestTON: sm.SourceTON, DestNPI: sm.SourceNPI,
				Dest: sm.Source, ShortMessage: []byte(s.cfg.StopText)}
			time.AfterFunc(s.cfg.ReceiptDelay+s.cfg.ReceiptDelay/2, func() { s.enqueue(&delivery{pdu: mo, kind: "MO"}) })
		}
	}
}

// deliver sends d as a deliver_sm, waiting for a free slot in the receipt window; if the session
// ends first, d goes back to the server's queue.
func (ss *session) deliver(d *delivery) {
	select {
	case ss.slots <- struct{}{}:
	case <-ss.done:
		ss.srv.requeue([]*delivery{d})
		return
	}
	seq := ss.seq.Add(1)
	ss.mu.Lock()
	if ss.inflight == nil { // the session has ended and handed its deliveries back
		ss.mu.Unlock()
		<-ss.slots
		ss.srv.requeue([]*delivery{d})
		return
	}
	ss.inflight[seq] = d
	ss.mu.Unlock()
	if err := ss.send(&smpp.PDU{ID: smpp.CmdDeliverSM, Seq: seq, Body: d.pdu}); err != nil {
		ss.close() // serve's deferred clean-up hands d back
	}
}

// receipt is the delivery receipt of sub, done at done: SMPP 3.4 Appendix B text plus the
// receipted_message_id and message_state TLVs.
func receipt(sub *Submission, sm *smpp.SubmitSM, done time.Time) *delivery {
	state, errCode := map[string]byte{smpp.StateDelivered: 2, smpp.StateExpired: 3, smpp.StateUndeliverable: 5}[sub.Stat], "000"
	dlvrd := "001"
	if sub.Stat != smpp.StateDelivered {
		dlvrd, errCode = "000", "001"
		if sub.Stat == smpp.StateExpired {
			errCode = "000"
		}
	}
	snippet := []rune(sub.Text)
	if len(snippet) > 20 {
		snippet = snippet[:20]
	}
	text := fmt.Sprintf("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s", sub.ID, dlvrd,
		sub.At.Format("0601021504"), done.UTC().Format("0601021504"), sub.Stat, errCode, asciiOnly(string(snippet)))
	var tlvs smpp.TLVs
	tlvs.Set(smpp.TagReceiptedMessageID, append([]byte(sub.ID), 0))
	tlvs.Set(smpp.TagMessageState, []byte{state})
	return &delivery{kind: sub.Stat, pdu: &smpp.DeliverSM{SourceTON: 1, SourceNPI: 1, Source: sub.Dest, DestTON: sm.SourceTON,
		DestNPI: sm.SourceNPI, Dest: sm.Source, ESMClass: smpp.ESMClassReceipt, ShortMessage: []byte(text), TLVs: tlvs}}
}

// messageText decodes a submit_sm's text and, for a part of a concatenated message, which part.
func messageText(sm *smpp.SubmitSM) (text string, part, parts int) {
	body := sm.ShortMessage
	if len(body) == 0 {
		if v, ok := sm.TLVs.Get(smpp.TagMessagePayload); ok {
			body = v
		}
	}
	part, parts = 1, 1
	if sm.ESMClass&smpp.ESMClassUDHI != 0 && len(body) > 0 && int(body[0])+1 <= len(body) {
		udh := body[1 : 1+int(body[0])]
		body = body[1+int(body[0]):]
		for i := 0; i+1 < len(udh); {
			iei, l := udh[i], int(udh[i+1])
			if i+2+l > len(udh) {
				break
			}
			v := udh[i+2 : i+2+l]
			switch {
			case iei == 0x00 && l == 3:
				parts, part = int(v[1]), int(v[2])
			case iei == 0x08 && l == 4:
				parts, part = int(v[2]), int(v[3])
			}
			i += 2 + l
		}
	}
	t, err := smpp.Decode(sm.DataCoding, body)
	if err != nil {
		t = string(body)
	}
	return t, part, parts
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// asciiOnly replaces what a GSM-7 receipt text cannot carry safely.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7E {
			return '?'
		}
		return r
	}, s)
}

// Run serves until ctx ends, then closes the simulator.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	return s.Close()
}
