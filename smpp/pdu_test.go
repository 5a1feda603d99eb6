package smpp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readHex reads a testdata .hex file: hex digits, whitespace ignored,
// '#' comments to the end of the line.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var digits strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

var receiptText = "id:0A3F sub:001 dlvrd:001 submit date:2501021530 done date:2501021531 stat:DELIVRD err:000 text:hello"

// golden maps each testdata/*.hex file to the PDU it holds.
var golden = map[string]*PDU{
	"bind_transceiver.hex": {ID: CmdBindTransceiver, Seq: 1, Body: &Bind{SystemID: "unspoof", Password: "secret", InterfaceVersion: 0x34}},
	"bind_transmitter.hex": {ID: CmdBindTransmitter, Seq: 10, Body: &Bind{SystemID: "esme", Password: "pw", SystemType: "VMA", InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: "^44"}},
	"bind_receiver.hex":    {ID: CmdBindReceiver, Seq: 2, Body: &Bind{InterfaceVersion: 0x34}},
	"bind_transceiver_resp.hex": {ID: CmdBindTransceiverResp, Seq: 1, Body: &BindResp{SystemID: "SMSC",
		TLVs: TLVs{{Tag: TagSCInterfaceVersion, Value: []byte{0x34}}}}},
	"bind_transceiver_resp_invpaswd.hex": {ID: CmdBindTransceiverResp, Status: StatusInvPaswd, Seq: 1},
	"bind_transmitter_resp.hex":          {ID: CmdBindTransmitterResp, Seq: 10, Body: &BindResp{SystemID: "fake"}},
	"bind_receiver_resp.hex":             {ID: CmdBindReceiverResp, Seq: 2, Body: &BindResp{}},
	"submit_sm.hex": {ID: CmdSubmitSM, Seq: 2, Body: &SubmitSM{SourceTON: 5, Source: "POLICE", DestTON: 1, DestNPI: 1,
		Dest: "447700900123", RegisteredDelivery: 1, ShortMessage: []byte("hello")}},
	"submit_sm_udh.hex": {ID: CmdSubmitSM, Seq: 3, Body: &SubmitSM{SourceTON: 1, SourceNPI: 1, Source: "447700900999",
		DestTON: 1, DestNPI: 1, Dest: "447700900123", ESMClass: ESMClassUDHI, DataCoding: CodingUCS2,
		ShortMessage: []byte{5, 0, 3, 0x2a, 3, 2, 0x01, 0x75, 0x00, 0x21}}},
	"submit_sm_payload.hex": {ID: CmdSubmitSM, Seq: 4, Body: &SubmitSM{DestTON: 1, DestNPI: 1, Dest: "447700900123", DataCoding: CodingUCS2,
		TLVs: TLVs{{Tag: TagMessagePayload, Value: []byte{0, 'h', 0, 'i'}}, {Tag: 0x1400, Value: []byte("ab")}}}},
	"submit_sm_resp.hex":           {ID: CmdSubmitSMResp, Seq: 2, Body: &SubmitSMResp{MessageID: "0a3f"}},
	"submit_sm_resp_throttled.hex": {ID: CmdSubmitSMResp, Status: StatusThrottled, Seq: 2},
	"deliver_sm_receipt.hex": {ID: CmdDeliverSM, Seq: 7, Body: &DeliverSM{SourceTON: 1, SourceNPI: 1, Source: "447700900123",
		DestTON: 5, Dest: "POLICE", ESMClass: ESMClassReceipt, ShortMessage: []byte(receiptText),
		TLVs: TLVs{{Tag: TagReceiptedMessageID, Value: []byte("0A3F\x00")}, {Tag: TagMessageState, Value: []byte{2}}}}},
	"deliver_sm_mo.hex": {ID: CmdDeliverSM, Seq: 8, Body: &DeliverSM{SourceTON: 1, SourceNPI: 1, Source: "447700900123",
		DestTON: 1, DestNPI: 1, Dest: "60006", ShortMessage: []byte("STOP")}},
	"deliver_sm_resp.hex":   {ID: CmdDeliverSMResp, Seq: 7, Body: &DeliverSMResp{}},
	"enquire_link.hex":      {ID: CmdEnquireLink, Seq: 3},
	"enquire_link_resp.hex": {ID: CmdEnquireLinkResp, Seq: 3},
	"unbind.hex":            {ID: CmdUnbind, Seq: 4},
	"unbind_resp.hex":       {ID: CmdUnbindResp, Seq: 4},
	"generic_nack.hex":      {ID: CmdGenericNack, Status: StatusInvCmdID, Seq: 9},
	"data_sm_raw.hex":       {ID: CmdDataSM, Seq: 11, Body: &RawBody{Data: []byte{0xde, 0xad, 0xbe, 0xef}}},
}

func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.hex")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(golden) {
		t.Errorf("%d .hex files, %d golden entries: keep them in step", len(files), len(golden))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := golden[name]
			if !ok {
				t.Fatalf("no golden entry for %s", name)
			}
			wire := readHex(t, name)
			got, err := want.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wire) {
				t.Errorf("encode:\n got % x\nwant % x", got, wire)
			}
			p, err := ReadPDU(bytes.NewReader(wire))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("decode:\n got %+v %+v\nwant %+v %+v", p, p.Body, want, want.Body)
			}
			var q PDU
			if err := q.UnmarshalBinary(wire); err != nil || !reflect.DeepEqual(&q, want) {
				t.Errorf("UnmarshalBinary = %+v, %v", q, err)
			}
		})
	}
}

func TestReadPDUStream(t *testing.T) {
	t.Parallel()
	var stream []byte
	names := []string{"bind_transceiver_resp.hex", "submit_sm_resp.hex", "deliver_sm_receipt.hex", "enquire_link.hex"}
	for _, n := range names {
		stream = append(stream, readHex(t, n)...)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, n := range names {
		p, err := ReadPDU(r)
		if err != nil || p.ID != golden[n].ID {
			t.Fatalf("%s: got %v, %v", n, p, err)
		}
	}
	if _, err := ReadPDU(r); err != io.EOF {
		t.Errorf("at end of stream: %v, want io.EOF", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	hdr := func(n uint32, id CommandID) []byte {
		return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), 0, 0, 0, 0, 0, 0, 0, 1}
	}
	with := func(n uint32, id CommandID, body ...byte) []byte { return append(hdr(n, id), body...) }
	for _, tc := range []struct {
		name    string
		in      []byte
		badBody bool // frame read whole, stream still in step
	}{
		{"command_length 0", hdr(0, CmdEnquireLink), false},
		{"command_length 15", hdr(15, CmdEnquireLink), false},
		{"command_length 65537", hdr(65537, CmdSubmitSM), false},
		{"command_length 0xffffffff", hdr(0xffffffff, CmdSubmitSM), false},
		{"truncated header", hdr(16, CmdEnquireLink)[:9], false},
		{"truncated body", with(40, CmdSubmitSMResp, 'a', 0), false},
		{"message_id without NUL", with(19, CmdSubmitSMResp, 'a', 'b', 'c'), true},
		{"bind_resp system_id without NUL", with(18, CmdBindTransceiverResp, 'x', 'y'), true},
		{"empty submit_sm", with(16, CmdSubmitSM), true},
		{"submit_sm cut after source", with(20, CmdSubmitSM, 0, 5, 0, 0), true},
		{"sm_length past end", with(16+1+2+1+2+1+3+2+4+1+2, CmdSubmitSM, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 'h', 'i'), true},
		{"tlv length past end", with(16+2+8, CmdSubmitSMResp, '1', 0, 0x04, 0x24, 0x00, 0x09, 'a', 'b', 'c', 'd'), true},
		{"tlv header cut", with(16+2+3, CmdSubmitSMResp, '1', 0, 0x04, 0x24, 0x00), true},
		{"enquire_link with body", with(17, CmdEnquireLink, 0), true},
		{"generic_nack with body", with(18, CmdGenericNack, 0, 0), true},
		{"bind cut before interface_version", with(19, CmdBindTransceiver, 0, 0, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReadPDU(bytes.NewReader(tc.in))
			if err == nil {
				t.Fatalf("decoded %+v without error", p)
			}
			if got := errors.Is(err, ErrBadBody); got != tc.badBody {
				t.Errorf("errors.Is(ErrBadBody) = %v, want %v (%v)", got, tc.badBody, err)
			}
			if tc.badBody && (p == nil || p.Seq != 1 || p.Body != nil) {
				t.Errorf("bad body: want the header back with a nil body, got %+v", p)
			}
			var q PDU
			if err := q.UnmarshalBinary(tc.in); err == nil {
				t.Error("UnmarshalBinary accepted it")
			}
		})
	}
	if _, err := ReadPDU(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    *PDU
	}{
		{"short_message over 255", &PDU{ID: CmdSubmitSM, Body: &SubmitSM{ShortMessage: make([]byte, 256)}}},
		{"NUL in destination", &PDU{ID: CmdSubmitSM, Body: &SubmitSM{Dest: "44\x0077"}}},
		{"NUL in password", &PDU{ID: CmdBindTransceiver, Body: &Bind{Password: "a\x00"}}},
		{"submit_sm without body", &PDU{ID: CmdSubmitSM}},
		{"bind without body", &PDU{ID: CmdBindTransceiver}},
		{"wrong body type", &PDU{ID: CmdSubmitSM, Body: &DeliverSM{}}},
		{"body on enquire_link", &PDU{ID: CmdEnquireLink, Body: &SubmitSMResp{}}},
		{"tlv over 65535", &PDU{ID: CmdSubmitSMResp, Body: &SubmitSMResp{TLVs: TLVs{{Tag: 1, Value: make([]byte, 65536)}}}}},
		{"pdu over 65536", &PDU{ID: CmdSubmitSM, Body: &SubmitSM{TLVs: TLVs{{Tag: 1, Value: make([]byte, 65500)}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := tc.p.MarshalBinary(); err == nil {
				t.Errorf("encoded % x", b[:min(len(b), 32)])
			}
		})
	}
}

func TestTLVs(t *testing.T) {
	t.Parallel()
	var ts TLVs
	ts.Set(TagMessageState, []byte{2})
	ts.Set(TagReceiptedMessageID, []byte("abc\x00"))
	ts.Set(TagSarMsgRefNum, []byte{0x12, 0x34})
	ts.Set(TagMessageState, []byte{5})
	if len(ts) != 3 {
		t.Fatalf("Set appended a duplicate: %v", ts)
	}
	if v, ok := ts.Byte(TagMessageState); !ok || v != 5 {
		t.Errorf("Byte = %d, %v", v, ok)
	}
	if v, ok := ts.Uint16(TagSarMsgRefNum); !ok || v != 0x1234 {
		t.Errorf("Uint16 = %x, %v", v, ok)
	}
	if v, ok := ts.CString(TagReceiptedMessageID); !ok || v != "abc" {
		t.Errorf("CString = %q, %v", v, ok)
	}
	if _, ok := ts.Byte(TagSarMsgRefNum); ok {
		t.Error("Byte accepted a two-byte value")
	}
	if _, ok := ts.Get(TagMessagePayload); ok {
		t.Error("Get found an absent tag")
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for s, want := range map[Status]string{
		StatusOK: "ESME_ROK", StatusThrottled: "ESME_RTHROTTLED", StatusMsgQFull: "ESME_RMSGQFUL",
		StatusInvPaswd: "ESME_RINVPASWD", StatusBindFail: "ESME_RBINDFAIL", StatusInvDstAdr: "ESME_RINVDSTADR",
		0x400: "ESME_0x00000400",
	} {
		if got := s.String(); got != want {
			t.Errorf("Status(0x%x) = %q, want %q", uint32(s), got, want)
		}
	}
	if got := CmdSubmitSMResp.String(); got != "submit_sm_resp" {
		t.Errorf("CmdSubmitSMResp = %q", got)
	}
	if !CmdGenericNack.IsResponse() || CmdDeliverSM.IsResponse() || CmdDeliverSM.Resp() != CmdDeliverSMResp {
		t.Error("IsResponse/Resp wrong")
	}
	if got := (&StatusError{StatusThrottled}).Error(); !strings.Contains(got, "ESME_RTHROTTLED") {
		t.Errorf("StatusError text %q lacks the name", got)
	}
}
