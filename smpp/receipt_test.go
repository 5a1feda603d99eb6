package smpp

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func date(y, mo, d, h, mi, s int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
}

func TestParseReceipt(t *testing.T) {
	t.Parallel()
	tlvID := func(id string) TLV { return TLV{Tag: TagReceiptedMessageID, Value: []byte(id + "\x00")} }
	tlvState := func(s byte) TLV { return TLV{Tag: TagMessageState, Value: []byte{s}} }
	for _, tc := range []struct {
		name    string
		text    string
		tlvs    TLVs
		want    Receipt // ParseErr compared as present/absent
		wantErr bool
	}{
		{
			name: "appendix B text only",
			text: "id:0A3F sub:001 dlvrd:001 submit date:2501021530 done date:2501021531 stat:DELIVRD err:000 text:Hello there",
			want: Receipt{ID: "0A3F", State: StateDelivered, Err: "000", Sub: "001", Dlvrd: "001", Text: "Hello there",
				Submitted: date(2025, 1, 2, 15, 30, 0), Done: date(2025, 1, 2, 15, 31, 0), Final: true},
		},
		{
			name: "TLV only",
			tlvs: TLVs{tlvID("12345"), tlvState(5)},
			want: Receipt{ID: "12345", State: StateUndeliverable, Final: true},
		},
		{
			name: "both: TLVs win for id and state",
			text: "id:2623 sub:001 dlvrd:000 submit date:2501021530 done date:2501031530 stat:DELIVRD err:000 text:",
			tlvs: TLVs{tlvID("a3f"), tlvState(3)},
			want: Receipt{ID: "a3f", State: StateExpired, Err: "000", Sub: "001", Dlvrd: "000",
				Submitted: date(2025, 1, 2, 15, 30, 0), Done: date(2025, 1, 3, 15, 30, 0), Final: true},
		},
		{
			name: "lower-case keys and stat",
			text: "id:abc123 sub:001 dlvrd:000 submit date:2501021530 done date:2501021531 stat:undeliv err:001 text:",
			want: Receipt{ID: "abc123", State: StateUndeliverable, Err: "001", Sub: "001", Dlvrd: "000",
				Submitted: date(2025, 1, 2, 15, 30, 0), Done: date(2025, 1, 2, 15, 31, 0), Final: true},
		},
		{
			name: "capitalised keys, full state name, seconds, underscores",
			text: "ID:7731 Sub:1 Dlvrd:1 Submit_date:250102153005 Done_date:250102153107 Stat:DELIVERED Err:0",
			want: Receipt{ID: "7731", State: StateDelivered, Err: "0", Sub: "1", Dlvrd: "1",
				Submitted: date(2025, 1, 2, 15, 30, 5), Done: date(2025, 1, 2, 15, 31, 7), Final: true},
		},
		{
			name: "decimal id, no text field",
			text: "id:1234567890123 sub:001 dlvrd:001 submit date:2412312359 done date:2501010000 stat:REJECTD err:069",
			want: Receipt{ID: "1234567890123", State: StateRejected, Err: "069", Sub: "001", Dlvrd: "001",
				Submitted: date(2024, 12, 31, 23, 59, 0), Done: date(2025, 1, 1, 0, 0, 0), Final: true},
		},
		{
			name: "text field holding key-like words",
			text: "id:1 sub:001 dlvrd:001 submit date:2501021530 done date:2501021531 stat:DELIVRD err:000 text:my id:2 stat:UNDELIV",
			want: Receipt{ID: "1", State: StateDelivered, Err: "000", Sub: "001", Dlvrd: "001", Text: "my id:2 stat:UNDELIV",
				Submitted: date(2025, 1, 2, 15, 30, 0), Done: date(2025, 1, 2, 15, 31, 0), Final: true},
		},
		{
			name: "enroute is not final",
			text: "id:55 stat:ENROUTE",
			want: Receipt{ID: "55", State: StateEnroute},
		},
		{
			name: "network_error_code TLV fills err",
			tlvs: TLVs{tlvID("9"), tlvState(5), {Tag: TagNetworkErrorCode, Value: []byte{1, 0, 34}}},
			want: Receipt{ID: "9", State: StateUndeliverable, Err: "034", Final: true},
		},
		{
			name:    "garbled text",
			text:    "hello there",
			want:    Receipt{},
			wantErr: true,
		},
		{
			name:    "unknown stat kept, not final",
			text:    "id:77 stat:FOO",
			want:    Receipt{ID: "77", State: "FOO"},
			wantErr: true,
		},
		{
			name:    "bad date: the rest still read",
			text:    "id:1 submit date:25AB021530 done date:2501021531 stat:DELIVRD",
			want:    Receipt{ID: "1", State: StateDelivered, Done: date(2025, 1, 2, 15, 31, 0), Final: true},
			wantErr: true,
		},
		{
			name:    "no id",
			text:    "sub:001 dlvrd:001 stat:DELIVRD err:000",
			want:    Receipt{State: StateDelivered, Err: "000", Sub: "001", Dlvrd: "001", Final: true},
			wantErr: true,
		},
		{
			name:    "unknown message_state",
			tlvs:    TLVs{tlvID("5"), tlvState(42)},
			want:    Receipt{ID: "5", State: StateUnknown, Final: true},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReceipt([]byte(tc.text), tc.tlvs)
			if got == nil {
				t.Fatal("nil receipt")
			}
			if (err != nil) != tc.wantErr || (got.ParseErr != nil) != tc.wantErr {
				t.Errorf("err = %v, ParseErr = %v, want error %v", err, got.ParseErr, tc.wantErr)
			}
			got.ParseErr = nil
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseDeliver(t *testing.T) {
	t.Parallel()
	t.Run("receipt from golden PDU", func(t *testing.T) {
		p, err := ReadPDU(bytes.NewReader(readHex(t, "deliver_sm_receipt.hex")))
		if err != nil {
			t.Fatal(err)
		}
		d := ParseDeliver(p.Body.(*DeliverSM))
		if !d.IsReceipt() || d.Receipt.ID != "0A3F" || d.Receipt.State != StateDelivered || !d.Receipt.Final || d.Receipt.ParseErr != nil {
			t.Errorf("receipt = %+v", d.Receipt)
		}
		if d.Source != "447700900123" || d.Dest != "POLICE" {
			t.Errorf("addresses %q → %q", d.Source, d.Dest)
		}
	})
	t.Run("MO from golden PDU", func(t *testing.T) {
		p, err := ReadPDU(bytes.NewReader(readHex(t, "deliver_sm_mo.hex")))
		if err != nil {
			t.Fatal(err)
		}
		d := ParseDeliver(p.Body.(*DeliverSM))
		if d.IsReceipt() || d.Text != "STOP" {
			t.Errorf("deliver = %+v", d)
		}
	})
	for _, tc := range []struct {
		name    string
		sm      DeliverSM
		text    string
		udh     []byte
		receipt bool
		final   bool
	}{
		{"MO with UDH", DeliverSM{ESMClass: ESMClassUDHI, ShortMessage: []byte{5, 0, 3, 1, 2, 1, 'S', 'T', 'O', 'P'}}, "STOP", []byte{5, 0, 3, 1, 2, 1}, false, false},
		{"MO in UCS-2", DeliverSM{DataCoding: CodingUCS2, ShortMessage: []byte{0, 'S', 0, 'T', 0x01, 0x75}}, "STŵ", nil, false, false},
		{"MO in message_payload", DeliverSM{TLVs: TLVs{{Tag: TagMessagePayload, Value: []byte("STOP")}}}, "STOP", nil, false, false},
		{"MO with 8-bit bytes under dcs 0 falls back to Latin-1", DeliverSM{ShortMessage: []byte{'c', 'a', 'f', 0xE9}}, "café", nil, false, false},
		{"UDHI with oversize header length keeps the body", DeliverSM{ESMClass: ESMClassUDHI, ShortMessage: []byte{9, 'A'}}, "ÇA", nil, false, false},
		{"intermediate notification not final", DeliverSM{ESMClass: ESMClassIntermediate, ShortMessage: []byte("id:1 stat:DELIVRD")}, "id:1 stat:DELIVRD", nil, true, false},
		{"receipt by TLV on a plain esm_class", DeliverSM{TLVs: TLVs{{Tag: TagReceiptedMessageID, Value: []byte("7\x00")}, {Tag: TagMessageState, Value: []byte{2}}}}, "", nil, true, true},
		{"garbled receipt still delivered", DeliverSM{ESMClass: ESMClassReceipt, ShortMessage: []byte("???")}, "???", nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ParseDeliver(&tc.sm)
			if d.Text != tc.text || !bytes.Equal(d.UDH, tc.udh) {
				t.Errorf("text %q udh % x, want %q % x", d.Text, d.UDH, tc.text, tc.udh)
			}
			if d.IsReceipt() != tc.receipt {
				t.Fatalf("IsReceipt = %v", d.IsReceipt())
			}
			if tc.receipt && d.Receipt.Final != tc.final {
				t.Errorf("Final = %v, want %v", d.Receipt.Final, tc.final)
			}
		})
	}
}

func TestMessageIDKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		want []string
	}{
		{"0A3F", []string{"a3f", "2623"}},
		{"a3f", []string{"a3f", "2623"}},
		{" 0a3F\t", []string{"a3f", "2623"}},
		{"2623", []string{"2623", "9763"}},
		{"000123", []string{"123", "291"}},
		{"0", []string{"0"}},
		{"0000", []string{"0"}},
		{"9", []string{"9"}},
		{"10", []string{"10", "16"}},
		{"ffffffffffffffff", []string{"ffffffffffffffff", "18446744073709551615"}},
		{"00FFFFFFFFFFFFFFFF", []string{"ffffffffffffffff", "18446744073709551615"}}, // 64 bits after the zeros
		{"1ffffffffffffffff", []string{"1ffffffffffffffff"}},                         // 65 bits: string only
		{"18446744073709551616", []string{"18446744073709551616"}},                   // decimal past 64 bits
		{"abc-123", []string{"abc-123"}},
		{"MSG_77", []string{"msg_77"}},
		{"", nil},
	} {
		if got := MessageIDKeys(tc.id); !slices.Equal(got, tc.want) {
			t.Errorf("MessageIDKeys(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func sameMessage(a, b string) bool {
	for _, k := range MessageIDKeys(a) {
		if slices.Contains(MessageIDKeys(b), k) {
			return true
		}
	}
	return false
}

func TestMessageIDMatching(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		resp, receipt string
		same          bool
	}{
		{"0A3F", "2623", true},                               // hex answer, decimal receipt
		{"2623", "a3f", true},                                // decimal answer, hex receipt
		{"0A3F", "a3f", true},                                // case and zero padding
		{"12345678", "305419896", true},                      // all-digit hex answer
		{"a3f", "a40", false},                                // neighbours stay apart
		{"2623", "2624", false},                              // neighbours stay apart
		{"4bd0a1c2-77", "4BD0A1C2-77", true},                 // opaque ids: case only
		{"4bd0a1c2-77", "4bd0a1c2-78", false},                //
		{"1ffffffffffffffff", "36893488147419103231", false}, // over 64 bits: no numeric match
		{"10", "16", true},                                   // the documented false-positive risk
	} {
		if got := sameMessage(tc.resp, tc.receipt); got != tc.same {
			t.Errorf("same(%q, %q) = %v, want %v", tc.resp, tc.receipt, got, tc.same)
		}
	}
}
