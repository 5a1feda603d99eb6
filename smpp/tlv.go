package smpp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Tag identifies an optional parameter (TLV) of a PDU.
type Tag uint16

// Optional parameter tags used by this package (SMPP 3.4 §5.3.2). Any other
// tag is decoded as well and carried through unchanged.
const (
	TagReceiptedMessageID   Tag = 0x001E // receipted_message_id: C-string
	TagUserMessageReference Tag = 0x0204 // user_message_reference: 2 bytes
	TagSourcePort           Tag = 0x020A // source_port: 2 bytes
	TagDestinationPort      Tag = 0x020B // destination_port: 2 bytes
	TagSarMsgRefNum         Tag = 0x020C // sar_msg_ref_num: 2 bytes
	TagSarTotalSegments     Tag = 0x020E // sar_total_segments: 1 byte
	TagSarSegmentSeqnum     Tag = 0x020F // sar_segment_seqnum: 1 byte
	TagSCInterfaceVersion   Tag = 0x0210 // sc_interface_version: 1 byte (bind responses)
	TagNetworkErrorCode     Tag = 0x0423 // network_error_code: 3 bytes (network type, error code)
	TagMessagePayload       Tag = 0x0424 // message_payload: the message when longer than short_message allows
	TagMessageState         Tag = 0x0427 // message_state: 1 byte, see Receipt
)

// TLV is one optional parameter: a tag and its raw value.
type TLV struct {
	Tag   Tag
	Value []byte
}

// TLVs is a PDU's optional parameters in wire order. Unknown tags are kept,
// so a PDU decoded and encoded again carries the same parameters.
type TLVs []TLV

// Get returns the value of the first parameter with the tag.
func (ts TLVs) Get(tag Tag) ([]byte, bool) {
	for _, t := range ts {
		if t.Tag == tag {
			return t.Value, true
		}
	}
	return nil, false
}

// Byte returns a one-byte parameter's value; ok is false when the tag is
// absent or its value is not exactly one byte.
func (ts TLVs) Byte(tag Tag) (v byte, ok bool) {
	b, found := ts.Get(tag)
	if !found || len(b) != 1 {
		return 0, false
	}
	return b[0], true
}

// Uint16 returns a two-byte big-endian parameter's value; ok is false when
// the tag is absent or its value is not exactly two bytes.
func (ts TLVs) Uint16(tag Tag) (v uint16, ok bool) {
	b, found := ts.Get(tag)
	if !found || len(b) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(b), true
}

// CString returns a C-string parameter's value without its terminating NUL
// (a value that lacks the NUL is returned whole).
func (ts TLVs) CString(tag Tag) (string, bool) {
	b, found := ts.Get(tag)
	if !found {
		return "", false
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), true
}

// Set replaces the value of the first parameter with the tag, or appends
// the parameter when it is absent.
func (ts *TLVs) Set(tag Tag, value []byte) {
	for i := range *ts {
		if (*ts)[i].Tag == tag {
			(*ts)[i].Value = value
			return
		}
	}
	*ts = append(*ts, TLV{Tag: tag, Value: value})
}

// appendTLVs writes the parameters in order.
func appendTLVs(b []byte, ts TLVs) ([]byte, error) {
	for _, t := range ts {
		if len(t.Value) > 0xFFFF {
			return b, fmt.Errorf("tlv 0x%04x: value of %d bytes is longer than 65535", uint16(t.Tag), len(t.Value))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(t.Tag))
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}

// decodeTLVs reads parameters until the end of b. Values alias b.
func decodeTLVs(b []byte) (TLVs, error) {
	var ts TLVs
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("tlv at offset %d: %d bytes left, need 4 for tag and length", off, len(b)-off)
		}
		tag := Tag(binary.BigEndian.Uint16(b[off:]))
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		if n > len(b)-off {
			return nil, fmt.Errorf("tlv 0x%04x: length %d past end of pdu (%d bytes left)", uint16(tag), n, len(b)-off)
		}
		ts = append(ts, TLV{Tag: tag, Value: b[off : off+n : off+n]})
		off += n
	}
	return ts, nil
}
