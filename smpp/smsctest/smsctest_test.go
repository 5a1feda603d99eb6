package smsctest_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unspoof/unspoof/smpp/smsctest"
)

// A minimal SMPP 3.4 encoder/decoder written by hand, so these tests prove the peer without
// depending on the project's client (smpp/), which is built against this peer.

const (
	cmdGenericNack     = 0x80000000
	cmdBindReceiver    = 0x00000001
	cmdBindTransmitter = 0x00000002
	cmdSubmitSM        = 0x00000004
	cmdDeliverSM       = 0x00000005
	cmdUnbind          = 0x00000006
	cmdBindTransceiver = 0x00000009
	cmdEnquireLink     = 0x00000015
	respBit            = 0x80000000
)

type pdu struct {
	id, status, seq uint32
	body            []byte
}

type conn struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	seq uint32
	// deliver_sm the peer sent while the test waited for something else (already answered).
	held []deliverSM
}

func dial(t testing.TB, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, r: bufio.NewReader(c)}
}

func cstr(b *bytes.Buffer, s string) { b.WriteString(s); b.WriteByte(0) }

func (c *conn) write(id, status, seq uint32, body []byte) {
	c.t.Helper()
	h := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(h[0:], uint32(16+len(body)))
	binary.BigEndian.PutUint32(h[4:], id)
	binary.BigEndian.PutUint32(h[8:], status)
	binary.BigEndian.PutUint32(h[12:], seq)
	if _, err := c.c.Write(append(h, body...)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *conn) request(id uint32, body []byte) uint32 {
	c.t.Helper()
	c.seq++
	c.write(id, 0, c.seq, body)
	return c.seq
}

func (c *conn) read(timeout time.Duration) (pdu, error) {
	c.c.SetReadDeadline(time.Now().Add(timeout))
	var h [16]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return pdu{}, err
	}
	n := binary.BigEndian.Uint32(h[0:])
	p := pdu{id: binary.BigEndian.Uint32(h[4:]), status: binary.BigEndian.Uint32(h[8:]), seq: binary.BigEndian.Uint32(h[12:])}
	if n < 16 || n > 64<<10 {
		return p, fmt.Errorf("bad command_length %d", n)
	}
	p.body = make([]byte, n-16)
	_, err := io.ReadFull(c.r, p.body)
	return p, err
}

// expect reads until a PDU with that command id arrives, answering (and holding) deliver_sm and
// answering enquire_link on the way.
func (c *conn) expect(id uint32) pdu {
	c.t.Helper()
	for {
		p, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for command 0x%08X: %v", id, err)
		}
		if p.id == id {
			return p
		}
		switch p.id {
		case cmdDeliverSM:
			c.held = append(c.held, parseDeliver(c.t, p))
			c.write(cmdDeliverSM|respBit, 0, p.seq, []byte{0})
		case cmdEnquireLink:
			c.write(cmdEnquireLink|respBit, 0, p.seq, nil)
		default:
			c.t.Fatalf("waiting for command 0x%08X, got 0x%08X status 0x%X", id, p.id, p.status)
		}
	}
}

// deliver returns the next deliver_sm (held or new), answered with ESME_ROK.
func (c *conn) deliver() deliverSM {
	c.t.Helper()
	if len(c.held) > 0 {
		d := c.held[0]
		c.held = c.held[1:]
		return d
	}
	p := c.expect(cmdDeliverSM)
	c.write(cmdDeliverSM|respBit, 0, p.seq, []byte{0})
	return parseDeliver(c.t, p)
}

func (c *conn) bind(id uint32, systemID, password string) pdu {
	c.t.Helper()
	var b bytes.Buffer
	cstr(&b, systemID)
	cstr(&b, password)
	cstr(&b, "")                // system_type
	b.Write([]byte{0x34, 0, 0}) // interface_version, addr_ton, addr_npi
	cstr(&b, "")                // address_range
	seq := c.request(id, b.Bytes())
	p := c.expect(id | respBit)
	if p.seq != seq {
		c.t.Fatalf("bind_resp seq %d, want %d", p.seq, seq)
	}
	return p
}

func (c *conn) mustBind(t testing.TB) {
	t.Helper()
	if p := c.bind(cmdBindTransceiver, "unspoof", "secret"); p.status != 0 {
		t.Fatalf("bind_transceiver: status 0x%X", p.status)
	}
}

type sm struct {
	src, dst        string
	esm, rd, coding byte
	msg             []byte
}

func submitBody(m sm) []byte {
	var b bytes.Buffer
	cstr(&b, "")                 // service_type
	b.Write([]byte{5, 0})        // source ton (alphanumeric), npi
	cstr(&b, m.src)              //
	b.Write([]byte{1, 1})        // dest ton, npi
	cstr(&b, m.dst)              //
	b.Write([]byte{m.esm, 0, 0}) // esm_class, protocol_id, priority_flag
	cstr(&b, "")                 // schedule_delivery_time
	cstr(&b, "")                 // validity_period
	b.Write([]byte{m.rd, 0, m.coding, 0, byte(len(m.msg))})
	b.Write(m.msg)
	return b.Bytes()
}

// submit sends one submit_sm and returns its response's status and message_id.
func (c *conn) submit(m sm) (uint32, string) {
	c.t.Helper()
	seq := c.request(cmdSubmitSM, submitBody(m))
	p := c.expect(cmdSubmitSM | respBit)
	if p.seq != seq {
		c.t.Fatalf("submit_sm_resp seq %d, want %d", p.seq, seq)
	}
	return p.status, strings.TrimRight(string(p.body), "\x00")
}

type deliverSM struct {
	src, dst        string
	esm, coding, rd byte
	msg             []byte
	tlv             map[uint16][]byte
}

func parseDeliver(t testing.TB, p pdu) deliverSM {
	t.Helper()
	b := p.body
	cs := func() string {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			t.Fatalf("deliver_sm: unterminated string in % X", p.body)
		}
		s := string(b[:i])
		b = b[i+1:]
		return s
	}
	var d deliverSM
	cs()         // service_type
	b = b[2:]    // source ton, npi
	d.src = cs() //
	b = b[2:]    // dest ton, npi
	d.dst = cs() //
	d.esm = b[0]
	b = b[3:] // esm_class, protocol_id, priority_flag
	cs()      // schedule_delivery_time
	cs()      // validity_period
	d.rd, d.coding = b[0], b[2]
	n := int(b[4])
	d.msg = b[5 : 5+n]
	b = b[5+n:]
	d.tlv = map[uint16][]byte{}
	for len(b) >= 4 {
		tag, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		d.tlv[tag] = b[4 : 4+l]
		b = b[4+l:]
	}
	return d
}

// gsm encodes the few characters these tests use as unpacked GSM 03.38 septets.
func gsm(s string) []byte {
	var out []byte
	for _, r := range s {
		switch {
		case r == '£':
			out = append(out, 0x01)
		case r == '€':
			out = append(out, 0x1B, 0x65)
		case r == '@':
			out = append(out, 0x00)
		case r == '{':
			out = append(out, 0x1B, 0x28)
		case r == '}':
			out = append(out, 0x1B, 0x29)
		case r < 0x80 && !strings.ContainsRune("$_`[]\\^~|", r):
			out = append(out, byte(r))
		default:
			panic("gsm: " + string(r))
		}
	}
	return out
}

func ucs2(s string) []byte {
	var out []byte
	for _, r := range s {
		out = binary.BigEndian.AppendUint16(out, uint16(r))
	}
	return out
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(fmt.Sprint(err), "reset by peer")
}

// ---------------------------------------------------------------------------------------------

func TestBind(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{})

	c := dial(t, s.Addr)
	if p, _ := c.submit(sm{src: "UNSPOOF", dst: "447700900001", msg: gsm("x")}); p != 0x04 {
		t.Errorf("submit_sm before bind: status 0x%X, want 0x04 (ESME_RINVBNDSTS)", p)
	}
	p := c.bind(cmdBindTransceiver, "unspoof", "secret")
	if p.status != 0 || !bytes.HasPrefix(p.body, []byte("unspoof-smsc\x00")) {
		t.Fatalf("good bind: status 0x%X body %q", p.status, p.body)
	}
	if p := c.bind(cmdBindTransceiver, "unspoof", "secret"); p.status != 0x05 {
		t.Errorf("second bind on a bound session: status 0x%X, want 0x05 (ESME_RALYBND)", p.status)
	}

	for _, tc := range []struct {
		cmd        uint32
		sys, pass  string
		wantStatus uint32
	}{
		{cmdBindTransmitter, "unspoof", "wrong", 0x0E},
		{cmdBindReceiver, "someone", "secret", 0x0F},
		{cmdBindTransceiver, "unspoof", "", 0x0E},
	} {
		c := dial(t, s.Addr)
		if p := c.bind(tc.cmd, tc.sys, tc.pass); p.status != tc.wantStatus {
			t.Errorf("bind 0x%X %s/%s: status 0x%X, want 0x%X", tc.cmd, tc.sys, tc.pass, p.status, tc.wantStatus)
		}
		if _, err := c.read(2 * time.Second); !isEOF(err) {
			t.Errorf("after a refused bind the peer should close the session; read: %v", err)
		}
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Binds != 1 || st.BindRefused != 3 || st.Bound != 1 {
		t.Errorf("stats %+v: want 1 bind, 3 refused, 1 bound", st)
	}

	// Other credentials, and a receiver cannot submit.
	s2 := smsctest.Start(t, smsctest.Options{SystemID: "force", Password: "pw"})
	c = dial(t, s2.Addr)
	if p := c.bind(cmdBindReceiver, "force", "pw"); p.status != 0 {
		t.Fatalf("bind_receiver with configured credentials: 0x%X", p.status)
	}
	if p, _ := c.submit(sm{src: "A", dst: "1", msg: gsm("x")}); p != 0x04 {
		t.Errorf("submit_sm on a receiver: status 0x%X, want 0x04", p)
	}
}

func TestSubmitLoggedAndDecoded(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{})
	c := dial(t, s.Addr)
	c.mustBind(t)

	udh := func(ref, total, seq byte) []byte { return []byte{5, 0, 3, ref, total, seq} }
	msgs := []sm{
		{src: "UNSPOOF", dst: "447700900123", coding: 0, msg: gsm("Police: £5 fee? No. € {ok} @home")},
		{src: "UNSPOOF", dst: "447700900124", coding: 8, msg: ucs2("Heddlu: ŵ ŷ ✓")},
		{src: "UNSPOOF", dst: "447700900125", coding: 3, msg: []byte("caf\xe9")},
		{src: "UNSPOOF", dst: "447700900126", esm: 0x40, coding: 0, msg: append(udh(7, 2, 1), gsm("part one ")...)},
		{src: "UNSPOOF", dst: "447700900126", esm: 0x40, coding: 0, msg: append(udh(7, 2, 2), gsm("part two")...)},
	}
	wantText := []string{"Police: £5 fee? No. € {ok} @home", "Heddlu: ŵ ŷ ✓", "café", "part one ", "part two"}
	var ids []string
	hexID := regexp.MustCompile(`^[0-9A-F]{8}$`)
	for _, m := range msgs {
		st, id := c.submit(m)
		if st != 0 || !hexID.MatchString(id) {
			t.Fatalf("submit_sm to %s: status 0x%X id %q", m.dst, st, id)
		}
		ids = append(ids, id)
	}
	// A 16-bit concatenation reference, in message_payload (sm_length 0) rather than short_message.
	payload := append([]byte{6, 8, 4, 0x12, 0x34, 3, 3}, ucs2("tri")...)
	body := submitBody(sm{src: "UNSPOOF", dst: "447700900127", esm: 0x40, coding: 8})
	body = binary.BigEndian.AppendUint16(body, 0x0424)
	body = binary.BigEndian.AppendUint16(body, uint16(len(payload)))
	c.request(cmdSubmitSM, append(body, payload...))
	if p := c.expect(cmdSubmitSM | respBit); p.status != 0 {
		t.Fatalf("submit_sm with message_payload: 0x%X", p.status)
	} else {
		ids = append(ids, strings.TrimRight(string(p.body), "\x00"))
	}
	msgs = append(msgs, sm{src: "UNSPOOF", dst: "447700900127", esm: 0x40, coding: 8, msg: payload})
	wantText = append(wantText, "tri")
	if ids[0] != "0000A3F1" {
		t.Errorf("first id %q, want 0000A3F1", ids[0])
	}
	subs, err := s.Submits()
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != len(msgs) {
		t.Fatalf("%d submits logged, want %d", len(subs), len(msgs))
	}
	for i, sub := range subs {
		m := msgs[i]
		if sub.ID != ids[i] || sub.Text != wantText[i] || sub.Dest != m.dst || sub.Source != m.src ||
			sub.DataCoding != int(m.coding) || sub.ESMClass != int(m.esm) || sub.Bytes != hex.EncodeToString(m.msg) ||
			sub.SourceTON != 5 || sub.DestTON != 1 || sub.DestNPI != 1 || !bytes.Equal(sub.Raw(), m.msg) {
			t.Errorf("log line %d = %+v\nwant id %s text %q bytes %x", i, sub, ids[i], wantText[i], m.msg)
		}
		if time.Since(sub.Time()) > time.Minute {
			t.Errorf("log line %d time %v", i, sub.Time())
		}
	}
	if subs[0].UDH != nil || subs[3].UDH == nil || *subs[3].UDH != (smsctest.UDH{Ref: 7, Total: 2, Seq: 1}) ||
		*subs[4].UDH != (smsctest.UDH{Ref: 7, Total: 2, Seq: 2}) || *subs[5].UDH != (smsctest.UDH{Ref: 0x1234, Total: 3, Seq: 3}) {
		t.Errorf("udh: %+v %+v %+v %+v", subs[0].UDH, subs[3].UDH, subs[4].UDH, subs[5].UDH)
	}

	// Decimal ids.
	s2 := smsctest.Start(t, smsctest.Options{IDFormat: "dec", IDStart: 1000})
	c2 := dial(t, s2.Addr)
	c2.mustBind(t)
	if st, id := c2.submit(msgs[0]); st != 0 || id != "1001" {
		t.Errorf("dec id: status 0x%X id %q, want 1001", st, id)
	}
}

func TestReceipts(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{
		ReceiptIDFormat: "dec",
		ReceiptDelay:    20 * time.Millisecond,
		ReceiptRules:    map[string]string{"13": "undeliverable", "913": "expired"},
	})
	c := dial(t, s.Addr)
	c.mustBind(t)
	submitted := map[string]string{} // dest -> id
	for _, dst := range []string{"447700900012", "447700900013", "447700900913"} {
		st, id := c.submit(sm{src: "UNSPOOF", dst: dst, rd: 1, msg: gsm("Your reference is ABC-123, call 101 about it")})
		if st != 0 {
			t.Fatalf("submit: 0x%X", st)
		}
		submitted[dst] = id
	}
	if st, _ := c.submit(sm{src: "UNSPOOF", dst: "447700900014", rd: 0, msg: gsm("no receipt")}); st != 0 {
		t.Fatalf("submit: 0x%X", st)
	}
	want := map[string]struct {
		stat  string
		state byte
	}{
		"447700900012": {"DELIVRD", 2}, "447700900013": {"UNDELIV", 5}, "447700900913": {"EXPIRED", 3},
	}
	re := regexp.MustCompile(`^id:(\S+) sub:001 dlvrd:00[01] submit date:\d{10} done date:\d{10} stat:(\S+) err:\d{3} text:(.*)$`)
	for range 3 {
		d := c.deliver()
		if d.esm != 0x04 || d.dst != "UNSPOOF" {
			t.Fatalf("receipt esm_class 0x%X dst %q", d.esm, d.dst)
		}
		id, ok := submitted[d.src]
		if !ok {
			t.Fatalf("receipt from unexpected %q", d.src)
		}
		delete(submitted, d.src)
		n, _ := strconv.ParseUint(id, 16, 32)
		dec := strconv.FormatUint(n, 10)
		m := re.FindStringSubmatch(string(d.msg))
		if m == nil || m[1] != dec || m[2] != want[d.src].stat || m[3] != "Your reference is AB" {
			t.Errorf("receipt text %q: want id:%s (hex %s) stat:%s", d.msg, dec, id, want[d.src].stat)
		}
		if got := string(bytes.TrimRight(d.tlv[0x001E], "\x00")); got != dec {
			t.Errorf("receipted_message_id %q, want %q", got, dec)
		}
		if got := d.tlv[0x0427]; len(got) != 1 || got[0] != want[d.src].state {
			t.Errorf("message_state %v, want %d", got, want[d.src].state)
		}
	}
	if p, err := c.read(400 * time.Millisecond); err == nil {
		t.Errorf("unexpected PDU 0x%08X (no receipt was asked for)", p.id)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.ReceiptsSent != 3 || st.ReceiptsAcked != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestReceiptFirstTextOnly(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{ReceiptFirst: true, NoReceiptTLV: true, Receipt: "rejected", ReceiptIDFormat: "hex-lower"})
	c := dial(t, s.Addr)
	c.mustBind(t)
	c.request(cmdSubmitSM, submitBody(sm{src: "447700900999", dst: "447700900001", rd: 1, msg: gsm("hi")}))
	p, err := c.read(5 * time.Second)
	if err != nil || p.id != cmdDeliverSM {
		t.Fatalf("first PDU after submit_sm: 0x%08X %v, want deliver_sm", p.id, err)
	}
	d := parseDeliver(t, p)
	c.write(cmdDeliverSM|respBit, 0, p.seq, []byte{0})
	r := c.expect(cmdSubmitSM | respBit)
	id := strings.TrimRight(string(r.body), "\x00")
	if want := "id:" + strings.ToLower(id) + " "; !strings.HasPrefix(string(d.msg), want) || !strings.Contains(string(d.msg), "stat:REJECTD") {
		t.Errorf("receipt %q, want prefix %q and stat:REJECTD", d.msg, want)
	}
	if len(d.tlv) != 0 {
		t.Errorf("receipt TLVs %v, want none", d.tlv)
	}
}

func TestReceiptHeldUntilReceiverBinds(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{ReceiptDelay: -1})
	tx := dial(t, s.Addr)
	if p := tx.bind(cmdBindTransmitter, "unspoof", "secret"); p.status != 0 {
		t.Fatal(p.status)
	}
	_, id := tx.submit(sm{src: "UNSPOOF", dst: "447700900001", rd: 1, msg: gsm("hi")})
	time.Sleep(100 * time.Millisecond)
	if st, _ := s.Stats(); st.Pending != 1 {
		t.Errorf("pending %d, want 1", st.Pending)
	}
	rx := dial(t, s.Addr)
	if p := rx.bind(cmdBindReceiver, "unspoof", "secret"); p.status != 0 {
		t.Fatal(p.status)
	}
	if d := rx.deliver(); !bytes.HasPrefix(d.msg, []byte("id:"+id+" ")) {
		t.Errorf("receipt %q, want id %s", d.msg, id)
	}
}

func TestThrottle(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{Throttle: 3})
	c := dial(t, s.Addr)
	c.mustBind(t)
	for range 6 {
		c.request(cmdSubmitSM, submitBody(sm{src: "UNSPOOF", dst: "447700900001", msg: gsm("x")}))
	}
	var got []uint32
	for range 6 {
		got = append(got, c.expect(cmdSubmitSM|respBit).status)
	}
	if fmt.Sprint(got) != fmt.Sprint([]uint32{0, 0, 0, 0x58, 0x58, 0x58}) {
		t.Errorf("statuses %x, want three 0 then three 0x58", got)
	}
	time.Sleep(1100 * time.Millisecond) // the window rolls on
	if st, _ := c.submit(sm{src: "UNSPOOF", dst: "447700900001", msg: gsm("x")}); st != 0 {
		t.Errorf("after a second: 0x%X", st)
	}
	subs, _ := s.Submits()
	st, _ := s.Stats()
	if len(subs) != 4 || st.Throttled != 3 || st.Accepted != 4 {
		t.Errorf("%d logged, stats %+v", len(subs), st)
	}
}

func TestQueueFullAndFailRules(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{QueueFullEvery: 3, FailRules: map[string]uint32{"99": 0x0B, "199": 0x45}})
	c := dial(t, s.Addr)
	c.mustBind(t)
	dests := []string{"447700900001", "447700900002", "447700900003", "447700900099", "447700900199", "447700900006"}
	want := []uint32{0, 0, 0x14, 0x0B, 0x45, 0x14}
	for i, d := range dests {
		if st, _ := c.submit(sm{src: "UNSPOOF", dst: d, msg: gsm("x")}); st != want[i] {
			t.Errorf("submit %d to %s: 0x%X, want 0x%X", i+1, d, st, want[i])
		}
	}
	subs, _ := s.Submits()
	if len(subs) != 2 {
		t.Errorf("%d logged, want 2", len(subs))
	}
}

func TestDropAfter(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{DropAfter: 2, ReceiptDelay: 50 * time.Millisecond})
	c := dial(t, s.Addr)
	c.mustBind(t)
	var seqs []uint32
	for range 3 {
		seqs = append(seqs, c.request(cmdSubmitSM, submitBody(sm{src: "UNSPOOF", dst: "447700900001", rd: 1, msg: gsm("x")})))
	}
	for i := range 2 {
		if p := c.expect(cmdSubmitSM | respBit); p.status != 0 || p.seq != seqs[i] {
			t.Fatalf("response %d: status 0x%X seq %d", i+1, p.status, p.seq)
		}
	}
	if p, err := c.read(2 * time.Second); !isEOF(err) {
		t.Fatalf("after the 2nd accepted submit the socket should be destroyed; got 0x%08X %v", p.id, err)
	}
	if _, err := s.WaitEvent("drop", 2*time.Second); err != nil {
		t.Error(err)
	}
	// Reconnect: works, and the receipts for the two accepted messages arrive on the new session.
	c = dial(t, s.Addr)
	c.mustBind(t)
	if st, _ := c.submit(sm{src: "UNSPOOF", dst: "447700900001", msg: gsm("x")}); st != 0 {
		t.Errorf("submit after reconnect: 0x%X", st)
	}
	c.deliver()
	c.deliver()
	subs, _ := s.Submits()
	if len(subs) != 3 {
		t.Errorf("%d logged, want 3", len(subs))
	}
}

func TestMO(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{MOAfter: 2, MOFrom: "447700900555", MOText: "STOP"})
	if err := s.SendMO("447700900555", "UNSPOOF", "nobody bound"); err == nil {
		t.Error("SendMO with nothing bound should fail")
	}
	c := dial(t, s.Addr)
	c.mustBind(t)
	if err := s.SendMO("447700900123", "447700900000", "STOP please £5 €"); err != nil {
		t.Fatal(err)
	}
	d := c.deliver()
	if d.esm != 0 || d.coding != 0 || d.src != "447700900123" || d.dst != "447700900000" || !bytes.Equal(d.msg, gsm("STOP please £5 €")) {
		t.Errorf("MO %+v", d)
	}
	c.submit(sm{src: "447700900000", dst: "447700900001", msg: gsm("x")})
	c.submit(sm{src: "447700900777", dst: "447700900002", msg: gsm("x")})
	d = c.deliver()
	if d.esm != 0 || d.src != "447700900555" || d.dst != "447700900777" || string(d.msg) != "STOP" {
		t.Errorf("MO after 2 submits: %+v", d)
	}
	if evs, err := s.WaitEvents("mo_sent", 2, time.Second); err != nil {
		t.Error(err, evs)
	}
}

func TestEnquireLinkUnknownUnbind(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{})
	c := dial(t, s.Addr)
	seq := c.request(cmdEnquireLink, nil)
	if p := c.expect(cmdEnquireLink | respBit); p.seq != seq || p.status != 0 {
		t.Errorf("enquire_link_resp %+v", p)
	}
	c.mustBind(t)
	seq = c.request(0x00000777, []byte{1, 2, 3})
	if p := c.expect(cmdGenericNack); p.seq != seq || p.status != 0x03 {
		t.Errorf("generic_nack %+v, want status 3 seq %d", p, seq)
	}
	seq = c.request(0x00000003, []byte("1\x00\x00\x00\x00")) // query_sm: not implemented by this peer
	if p := c.expect(cmdGenericNack); p.seq != seq || p.status != 0x03 {
		t.Errorf("query_sm: %+v, want generic_nack status 3", p)
	}
	seq = c.request(cmdUnbind, nil)
	if p := c.expect(cmdUnbind | respBit); p.seq != seq || p.status != 0 {
		t.Errorf("unbind_resp %+v", p)
	}
	if _, err := c.read(2 * time.Second); !isEOF(err) {
		t.Errorf("after unbind_resp the peer should close; read: %v", err)
	}
}

func TestDropAndRestartOnSamePort(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{EnquireLink: 50 * time.Millisecond})
	c := dial(t, s.Addr)
	c.mustBind(t)
	c.expect(cmdEnquireLink) // the peer checks on its clients
	if err := s.Drop(); err != nil {
		t.Fatal(err)
	}
	for {
		p, err := c.read(2 * time.Second)
		if isEOF(err) {
			break
		}
		if err != nil || p.id != cmdEnquireLink {
			t.Fatalf("after Drop: 0x%08X %v", p.id, err)
		}
	}

	c = dial(t, s.Addr)
	c.mustBind(t)
	c.submit(sm{src: "UNSPOOF", dst: "447700900001", msg: gsm("x")})
	// Stop sends bound clients an unbind; answer it while Stop waits.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	p := c.expect(cmdUnbind)
	c.write(cmdUnbind|respBit, 0, p.seq, nil)
	c.c.Close()
	wg.Wait()
	if subs, err := s.Submits(); err != nil || len(subs) != 1 {
		t.Errorf("log after Stop: %d lines, %v", len(subs), err)
	}

	s2 := smsctest.Start(t, smsctest.Options{Port: s.Port, IDStart: 0x10000})
	if s2.Addr != s.Addr {
		t.Fatalf("restarted on %s, want %s", s2.Addr, s.Addr)
	}
	c = dial(t, s2.Addr)
	c.mustBind(t)
	if st, id := c.submit(sm{src: "UNSPOOF", dst: "447700900001", msg: gsm("x")}); st != 0 || id != "00010001" {
		t.Errorf("after restart: 0x%X %q", st, id)
	}
}

func TestManySessions(t *testing.T) {
	s := smsctest.Start(t, smsctest.Options{})
	const sessions, each = 20, 50
	var wg sync.WaitGroup
	ids := make(chan string, sessions*each)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, s.Addr)
			c.mustBind(t)
			for j := range each {
				st, id := c.submit(sm{src: "UNSPOOF", dst: fmt.Sprintf("4477009%05d", i*each+j), msg: gsm("x")})
				if st != 0 {
					t.Errorf("status 0x%X", st)
					return
				}
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
	}
	subs, _ := s.Submits()
	if len(seen) != sessions*each || len(subs) != sessions*each {
		t.Errorf("%d ids, %d logged, want %d", len(seen), len(subs), sessions*each)
	}
}

// BenchmarkSubmitWindow10 pushes submit_sm through one transceiver with up to 10 in flight, as the
// client's window allows; the peer logs each one synchronously and sends a receipt for each.
// Reports submits/s.
func BenchmarkSubmitWindow10(b *testing.B) {
	s := smsctest.Start(b, smsctest.Options{})
	c := dial(b, s.Addr)
	c.mustBind(b)
	body := submitBody(sm{src: "UNSPOOF", dst: "447700900123", rd: 1, msg: gsm("Police alert: you were called by a spoofed number. Ref ABC-123.")})
	const window = 10
	b.ResetTimer()
	start := time.Now()
	sent, done := 0, 0
	for done < b.N {
		for sent < b.N && sent-done < window {
			c.request(cmdSubmitSM, body)
			sent++
		}
		p := c.expect(cmdSubmitSM | respBit)
		if p.status != 0 {
			b.Fatalf("status 0x%X", p.status)
		}
		done++
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "submits/s")
}
