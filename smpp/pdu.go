package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame limits. command_length counts the whole PDU, header included.
const (
	HeaderLen = 16    // command_length, command_id, command_status, sequence_number
	MaxPDULen = 65536 // longest PDU read or written; longer lengths are framing errors
)

// InterfaceVersion is the interface_version sent in binds: SMPP 3.4.
const InterfaceVersion = 0x34

// CommandID identifies an SMPP operation (command_id). Responses have bit 31
// set.
type CommandID uint32

// Command ids (SMPP 3.4 §5.1.2.1).
const (
	CmdGenericNack         CommandID = 0x80000000
	CmdBindReceiver        CommandID = 0x00000001
	CmdBindReceiverResp    CommandID = 0x80000001
	CmdBindTransmitter     CommandID = 0x00000002
	CmdBindTransmitterResp CommandID = 0x80000002
	CmdQuerySM             CommandID = 0x00000003
	CmdQuerySMResp         CommandID = 0x80000003
	CmdSubmitSM            CommandID = 0x00000004
	CmdSubmitSMResp        CommandID = 0x80000004
	CmdDeliverSM           CommandID = 0x00000005
	CmdDeliverSMResp       CommandID = 0x80000005
	CmdUnbind              CommandID = 0x00000006
	CmdUnbindResp          CommandID = 0x80000006
	CmdReplaceSM           CommandID = 0x00000007
	CmdReplaceSMResp       CommandID = 0x80000007
	CmdCancelSM            CommandID = 0x00000008
	CmdCancelSMResp        CommandID = 0x80000008
	CmdBindTransceiver     CommandID = 0x00000009
	CmdBindTransceiverResp CommandID = 0x80000009
	CmdOutbind             CommandID = 0x0000000B
	CmdEnquireLink         CommandID = 0x00000015
	CmdEnquireLinkResp     CommandID = 0x80000015
	CmdSubmitMulti         CommandID = 0x00000021
	CmdSubmitMultiResp     CommandID = 0x80000021
	CmdAlertNotification   CommandID = 0x00000102
	CmdDataSM              CommandID = 0x00000103
	CmdDataSMResp          CommandID = 0x80000103
)

var commandNames = map[CommandID]string{
	CmdGenericNack:         "generic_nack",
	CmdBindReceiver:        "bind_receiver",
	CmdBindReceiverResp:    "bind_receiver_resp",
	CmdBindTransmitter:     "bind_transmitter",
	CmdBindTransmitterResp: "bind_transmitter_resp",
	CmdQuerySM:             "query_sm",
	CmdQuerySMResp:         "query_sm_resp",
	CmdSubmitSM:            "submit_sm",
	CmdSubmitSMResp:        "submit_sm_resp",
	CmdDeliverSM:           "deliver_sm",
	CmdDeliverSMResp:       "deliver_sm_resp",
	CmdUnbind:              "unbind",
	CmdUnbindResp:          "unbind_resp",
	CmdReplaceSM:           "replace_sm",
	CmdReplaceSMResp:       "replace_sm_resp",
	CmdCancelSM:            "cancel_sm",
	CmdCancelSMResp:        "cancel_sm_resp",
	CmdBindTransceiver:     "bind_transceiver",
	CmdBindTransceiverResp: "bind_transceiver_resp",
	CmdOutbind:             "outbind",
	CmdEnquireLink:         "enquire_link",
	CmdEnquireLinkResp:     "enquire_link_resp",
	CmdSubmitMulti:         "submit_multi",
	CmdSubmitMultiResp:     "submit_multi_resp",
	CmdAlertNotification:   "alert_notification",
	CmdDataSM:              "data_sm",
	CmdDataSMResp:          "data_sm_resp",
}

// String returns the spec's name of the command, or its hex value.
func (id CommandID) String() string {
	if s, ok := commandNames[id]; ok {
		return s
	}
	return fmt.Sprintf("command_0x%08x", uint32(id))
}

// IsResponse reports whether the command is a response (generic_nack
// included).
func (id CommandID) IsResponse() bool { return id&0x80000000 != 0 }

// Resp returns the response command id for a request id.
func (id CommandID) Resp() CommandID { return id | 0x80000000 }

// Status is a response's command_status: zero for success, else an ESME_R*
// error code.
type Status uint32

// Command status codes (SMPP 3.4 §5.1.3).
const (
	StatusOK              Status = 0x00000000 // ESME_ROK
	StatusInvMsgLen       Status = 0x00000001 // ESME_RINVMSGLEN
	StatusInvCmdLen       Status = 0x00000002 // ESME_RINVCMDLEN
	StatusInvCmdID        Status = 0x00000003 // ESME_RINVCMDID
	StatusInvBndSts       Status = 0x00000004 // ESME_RINVBNDSTS
	StatusAlyBnd          Status = 0x00000005 // ESME_RALYBND
	StatusInvPrtFlg       Status = 0x00000006 // ESME_RINVPRTFLG
	StatusInvRegDlvFlg    Status = 0x00000007 // ESME_RINVREGDLVFLG
	StatusSysErr          Status = 0x00000008 // ESME_RSYSERR
	StatusInvSrcAdr       Status = 0x0000000A // ESME_RINVSRCADR
	StatusInvDstAdr       Status = 0x0000000B // ESME_RINVDSTADR
	StatusInvMsgID        Status = 0x0000000C // ESME_RINVMSGID
	StatusBindFail        Status = 0x0000000D // ESME_RBINDFAIL
	StatusInvPaswd        Status = 0x0000000E // ESME_RINVPASWD
	StatusInvSysID        Status = 0x0000000F // ESME_RINVSYSID
	StatusCancelFail      Status = 0x00000011 // ESME_RCANCELFAIL
	StatusReplaceFail     Status = 0x00000013 // ESME_RREPLACEFAIL
	StatusMsgQFull        Status = 0x00000014 // ESME_RMSGQFUL
	StatusInvSerTyp       Status = 0x00000015 // ESME_RINVSERTYP
	StatusInvNumDests     Status = 0x00000033 // ESME_RINVNUMDESTS
	StatusInvDLName       Status = 0x00000034 // ESME_RINVDLNAME
	StatusInvDestFlag     Status = 0x00000040 // ESME_RINVDESTFLAG
	StatusInvSubRep       Status = 0x00000042 // ESME_RINVSUBREP
	StatusInvEsmClass     Status = 0x00000043 // ESME_RINVESMCLASS
	StatusCntSubDL        Status = 0x00000044 // ESME_RCNTSUBDL
	StatusSubmitFail      Status = 0x00000045 // ESME_RSUBMITFAIL
	StatusInvSrcTON       Status = 0x00000048 // ESME_RINVSRCTON
	StatusInvSrcNPI       Status = 0x00000049 // ESME_RINVSRCNPI
	StatusInvDstTON       Status = 0x00000050 // ESME_RINVDSTTON
	StatusInvDstNPI       Status = 0x00000051 // ESME_RINVDSTNPI
	StatusInvSysTyp       Status = 0x00000053 // ESME_RINVSYSTYP
	StatusInvRepFlag      Status = 0x00000054 // ESME_RINVREPFLAG
	StatusInvNumMsgs      Status = 0x00000055 // ESME_RINVNUMMSGS
	StatusThrottled       Status = 0x00000058 // ESME_RTHROTTLED
	StatusInvSched        Status = 0x00000061 // ESME_RINVSCHED
	StatusInvExpiry       Status = 0x00000062 // ESME_RINVEXPIRY
	StatusInvDftMsgID     Status = 0x00000063 // ESME_RINVDFTMSGID
	StatusXTAppn          Status = 0x00000064 // ESME_RX_T_APPN
	StatusXPAppn          Status = 0x00000065 // ESME_RX_P_APPN
	StatusXRAppn          Status = 0x00000066 // ESME_RX_R_APPN
	StatusQueryFail       Status = 0x00000067 // ESME_RQUERYFAIL
	StatusInvOptParStream Status = 0x000000C0 // ESME_RINVOPTPARSTREAM
	StatusOptParNotAllwd  Status = 0x000000C1 // ESME_ROPTPARNOTALLWD
	StatusInvParLen       Status = 0x000000C2 // ESME_RINVPARLEN
	StatusMissingOptParam Status = 0x000000C3 // ESME_RMISSINGOPTPARAM
	StatusInvOptParamVal  Status = 0x000000C4 // ESME_RINVOPTPARAMVAL
	StatusDeliveryFailure Status = 0x000000FE // ESME_RDELIVERYFAILURE
	StatusUnknownErr      Status = 0x000000FF // ESME_RUNKNOWNERR
)

var statusNames = map[Status]string{
	StatusOK:              "ESME_ROK",
	StatusInvMsgLen:       "ESME_RINVMSGLEN",
	StatusInvCmdLen:       "ESME_RINVCMDLEN",
	StatusInvCmdID:        "ESME_RINVCMDID",
	StatusInvBndSts:       "ESME_RINVBNDSTS",
	StatusAlyBnd:          "ESME_RALYBND",
	StatusInvPrtFlg:       "ESME_RINVPRTFLG",
	StatusInvRegDlvFlg:    "ESME_RINVREGDLVFLG",
	StatusSysErr:          "ESME_RSYSERR",
	StatusInvSrcAdr:       "ESME_RINVSRCADR",
	StatusInvDstAdr:       "ESME_RINVDSTADR",
	StatusInvMsgID:        "ESME_RINVMSGID",
	StatusBindFail:        "ESME_RBINDFAIL",
	StatusInvPaswd:        "ESME_RINVPASWD",
	StatusInvSysID:        "ESME_RINVSYSID",
	StatusCancelFail:      "ESME_RCANCELFAIL",
	StatusReplaceFail:     "ESME_RREPLACEFAIL",
	StatusMsgQFull:        "ESME_RMSGQFUL",
	StatusInvSerTyp:       "ESME_RINVSERTYP",
	StatusInvNumDests:     "ESME_RINVNUMDESTS",
	StatusInvDLName:       "ESME_RINVDLNAME",
	StatusInvDestFlag:     "ESME_RINVDESTFLAG",
	StatusInvSubRep:       "ESME_RINVSUBREP",
	StatusInvEsmClass:     "ESME_RINVESMCLASS",
	StatusCntSubDL:        "ESME_RCNTSUBDL",
	StatusSubmitFail:      "ESME_RSUBMITFAIL",
	StatusInvSrcTON:       "ESME_RINVSRCTON",
	StatusInvSrcNPI:       "ESME_RINVSRCNPI",
	StatusInvDstTON:       "ESME_RINVDSTTON",
	StatusInvDstNPI:       "ESME_RINVDSTNPI",
	StatusInvSysTyp:       "ESME_RINVSYSTYP",
	StatusInvRepFlag:      "ESME_RINVREPFLAG",
	StatusInvNumMsgs:      "ESME_RINVNUMMSGS",
	StatusThrottled:       "ESME_RTHROTTLED",
	StatusInvSched:        "ESME_RINVSCHED",
	StatusInvExpiry:       "ESME_RINVEXPIRY",
	StatusInvDftMsgID:     "ESME_RINVDFTMSGID",
	StatusXTAppn:          "ESME_RX_T_APPN",
	StatusXPAppn:          "ESME_RX_P_APPN",
	StatusXRAppn:          "ESME_RX_R_APPN",
	StatusQueryFail:       "ESME_RQUERYFAIL",
	StatusInvOptParStream: "ESME_RINVOPTPARSTREAM",
	StatusOptParNotAllwd:  "ESME_ROPTPARNOTALLWD",
	StatusInvParLen:       "ESME_RINVPARLEN",
	StatusMissingOptParam: "ESME_RMISSINGOPTPARAM",
	StatusInvOptParamVal:  "ESME_RINVOPTPARAMVAL",
	StatusDeliveryFailure: "ESME_RDELIVERYFAILURE",
	StatusUnknownErr:      "ESME_RUNKNOWNERR",
}

// String returns the ESME_R* name of the status, or its hex value for codes
// the spec does not name (vendor-specific codes, 0x400–0x4FF, among them).
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ESME_0x%08x", uint32(s))
}

// Temporary reports whether the SMSC refused for load rather than for the
// message itself (ESME_RTHROTTLED, ESME_RMSGQFUL): the same message may be
// submitted again later, more slowly.
func (s Status) Temporary() bool { return s == StatusThrottled || s == StatusMsgQFull }

// StatusError is a response with a non-zero command_status: the SMSC
// answered and did not accept the request.
type StatusError struct {
	Status Status
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("smpp: smsc answered %s (0x%08x)", e.Status, uint32(e.Status))
}

// ErrBadBody is wrapped by decode errors of PDUs whose frame was read whole
// but whose body is malformed; the byte stream is still in step.
var ErrBadBody = errors.New("smpp: malformed pdu body")

// PDU is one SMPP protocol data unit: the header fields and a body.
//
// Body is nil for PDUs without one (enquire_link, unbind, their responses,
// generic_nack) and for responses sent without a body, as an SMSC may do
// when the status is not ESME_ROK. Otherwise it is the typed body for ID:
// *Bind, *BindResp, *SubmitSM, *SubmitSMResp, *DeliverSM, *DeliverSMResp,
// or *RawBody for the commands this package does not parse. A *RawBody may be
// given for any command when encoding (tests use it to craft broken PDUs).
type PDU struct {
	ID     CommandID
	Status Status
	Seq    uint32
	Body   Body
}

// Body is the part of a PDU after the header. The implementations are the
// body types of this package.
type Body interface {
	appendBody(b []byte) ([]byte, error)
}

// Bind is the body of bind_transceiver, bind_transmitter and
// bind_receiver.
type Bind struct {
	SystemID         string
	Password         string
	SystemType       string
	InterfaceVersion byte
	AddrTON          byte
	AddrNPI          byte
	AddressRange     string
	TLVs             TLVs // none in SMPP 3.4; kept if an SMSC sends them
}

// BindResp is the body of the bind responses.
type BindResp struct {
	SystemID string
	TLVs     TLVs // sc_interface_version, usually
}

// SubmitSM is the body of submit_sm: one short message to one address.
type SubmitSM struct {
	ServiceType          string
	SourceTON            byte
	SourceNPI            byte
	Source               string
	DestTON              byte
	DestNPI              byte
	Dest                 string
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           DataCoding
	SMDefaultMsgID       byte
	ShortMessage         []byte // at most 255 bytes; use TagMessagePayload for more
	TLVs                 TLVs
}

// DeliverSM is the body of deliver_sm. Its layout is submit_sm's; the
// client turns it into a Deliver.
type DeliverSM SubmitSM

// SubmitSMResp is the body of submit_sm_resp.
type SubmitSMResp struct {
	MessageID string
	TLVs      TLVs // none in SMPP 3.4; kept if an SMSC sends them
}

// DeliverSMResp is the body of deliver_sm_resp. MessageID is unused and
// sent empty.
type DeliverSMResp struct {
	MessageID string
	TLVs      TLVs
}

// RawBody is the undecoded body of a command this package does not parse.
type RawBody struct {
	Data []byte
}

// esm_class bits.
const (
	ESMClassUDHI         = 0x40 // short_message starts with a user data header
	ESMClassReceipt      = 0x04 // message type: SMSC delivery receipt
	ESMClassIntermediate = 0x20 // message type: intermediate delivery notification
	esmClassTypeMask     = 0x3C
)

// MarshalBinary encodes the PDU, command_length included.
func (p *PDU) MarshalBinary() ([]byte, error) { return p.AppendBinary(make([]byte, 0, 64)) }

// AppendBinary appends the encoded PDU to b.
func (p *PDU) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(p.ID))
	b = binary.BigEndian.AppendUint32(b, uint32(p.Status))
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	if err := checkBody(p.ID, p.Body); err != nil {
		return b[:start], fmt.Errorf("smpp: encode %s: %w", p.ID, err)
	}
	if p.Body != nil {
		var err error
		if b, err = p.Body.appendBody(b); err != nil {
			return b[:start], fmt.Errorf("smpp: encode %s: %w", p.ID, err)
		}
	}
	n := len(b) - start
	if n > MaxPDULen {
		return b[:start], fmt.Errorf("smpp: encode %s: %d bytes is longer than %d", p.ID, n, MaxPDULen)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// checkBody reports a body that does not belong to the command.
func checkBody(id CommandID, body Body) error {
	if _, raw := body.(*RawBody); raw {
		return nil
	}
	ok := false
	switch id {
	case CmdBindReceiver, CmdBindTransmitter, CmdBindTransceiver:
		_, ok = body.(*Bind)
	case CmdBindReceiverResp, CmdBindTransmitterResp, CmdBindTransceiverResp:
		_, ok = body.(*BindResp)
		ok = ok || body == nil
	case CmdSubmitSM:
		_, ok = body.(*SubmitSM)
	case CmdDeliverSM:
		_, ok = body.(*DeliverSM)
	case CmdSubmitSMResp:
		_, ok = body.(*SubmitSMResp)
		ok = ok || body == nil
	case CmdDeliverSMResp:
		_, ok = body.(*DeliverSMResp)
		ok = ok || body == nil
	default:
		ok = body == nil
	}
	if !ok {
		if body == nil {
			return errors.New("body missing")
		}
		return fmt.Errorf("body %T does not belong to this command", body)
	}
	return nil
}

func (r *RawBody) appendBody(b []byte) ([]byte, error) { return append(b, r.Data...), nil }

func (bd *Bind) appendBody(b []byte) ([]byte, error) {
	var err error
	b, err = appendCString(b, "system_id", bd.SystemID, err)
	b, err = appendCString(b, "password", bd.Password, err)
	b, err = appendCString(b, "system_type", bd.SystemType, err)
	b = append(b, bd.InterfaceVersion, bd.AddrTON, bd.AddrNPI)
	b, err = appendCString(b, "address_range", bd.AddressRange, err)
	if err != nil {
		return b, err
	}
	return appendTLVs(b, bd.TLVs)
}

func (r *BindResp) appendBody(b []byte) ([]byte, error) {
	b, err := appendCString(b, "system_id", r.SystemID, nil)
	if err != nil {
		return b, err
	}
	return appendTLVs(b, r.TLVs)
}

func (r *SubmitSMResp) appendBody(b []byte) ([]byte, error) {
	b, err := appendCString(b, "message_id", r.MessageID, nil)
	if err != nil {
		return b, err
	}
	return appendTLVs(b, r.TLVs)
}

func (r *DeliverSMResp) appendBody(b []byte) ([]byte, error) {
	return (*SubmitSMResp)(r).appendBody(b)
}

func (d *DeliverSM) appendBody(b []byte) ([]byte, error) { return (*SubmitSM)(d).appendBody(b) }

func (sm *SubmitSM) appendBody(b []byte) ([]byte, error) {
	if len(sm.ShortMessage) > 255 {
		return b, fmt.Errorf("short_message: %d bytes is longer than 255 (use message_payload)", len(sm.ShortMessage))
	}
	var err error
	b, err = appendCString(b, "service_type", sm.ServiceType, err)
	b = append(b, sm.SourceTON, sm.SourceNPI)
	b, err = appendCString(b, "source_addr", sm.Source, err)
	b = append(b, sm.DestTON, sm.DestNPI)
	b, err = appendCString(b, "destination_addr", sm.Dest, err)
	b = append(b, sm.ESMClass, sm.ProtocolID, sm.PriorityFlag)
	b, err = appendCString(b, "schedule_delivery_time", sm.ScheduleDeliveryTime, err)
	b, err = appendCString(b, "validity_period", sm.ValidityPeriod, err)
	b = append(b, sm.RegisteredDelivery, sm.ReplaceIfPresent, byte(sm.DataCoding), sm.SMDefaultMsgID, byte(len(sm.ShortMessage)))
	b = append(b, sm.ShortMessage...)
	if err != nil {
		return b, err
	}
	return appendTLVs(b, sm.TLVs)
}

// appendCString writes s and its NUL unless an earlier field failed. A NUL
// inside s would end the field early and shift every later one, so it is an
// error.
func appendCString(b []byte, field, s string, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	if i := indexNUL(s); i >= 0 {
		return b, fmt.Errorf("%s: NUL byte at %d", field, i)
	}
	b = append(b, s...)
	return append(b, 0), nil
}

func indexNUL(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

// ReadPDU reads one PDU from r. It reads exactly command_length bytes, so r
// may be a bufio.Reader shared across calls.
//
// A command_length outside 16..65536, or a stream that ends inside a PDU, is
// an error after which the stream can no longer be read in step. When the
// frame was read whole but its body is malformed, ReadPDU returns the PDU's
// header (Body nil) together with an error wrapping ErrBadBody: the caller
// may answer it with generic_nack and read on.
func ReadPDU(r io.Reader) (*PDU, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("smpp: read header: %w", err)
		}
		return nil, err // io.EOF between PDUs: a clean end of stream
	}
	n := binary.BigEndian.Uint32(h[0:])
	if n < HeaderLen || n > MaxPDULen {
		return nil, fmt.Errorf("smpp: command_length %d outside %d..%d", n, HeaderLen, MaxPDULen)
	}
	p := &PDU{
		ID:     CommandID(binary.BigEndian.Uint32(h[4:])),
		Status: Status(binary.BigEndian.Uint32(h[8:])),
		Seq:    binary.BigEndian.Uint32(h[12:]),
	}
	body := make([]byte, n-HeaderLen)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("smpp: read %s body of %d bytes: %w", p.ID, len(body), err)
	}
	var err error
	if p.Body, err = decodeBody(p.ID, body); err != nil {
		return p, fmt.Errorf("%w: %s seq %d: %w", ErrBadBody, p.ID, p.Seq, err)
	}
	return p, nil
}

// UnmarshalBinary decodes one whole PDU; data must be exactly
// command_length bytes long. The PDU does not retain data.
func (p *PDU) UnmarshalBinary(data []byte) error {
	if len(data) < HeaderLen {
		return fmt.Errorf("smpp: pdu of %d bytes is shorter than the %d-byte header", len(data), HeaderLen)
	}
	n := binary.BigEndian.Uint32(data)
	if n < HeaderLen || n > MaxPDULen {
		return fmt.Errorf("smpp: command_length %d outside %d..%d", n, HeaderLen, MaxPDULen)
	}
	if int(n) != len(data) {
		return fmt.Errorf("smpp: command_length %d but %d bytes given", n, len(data))
	}
	q, err := ReadPDU(bytes.NewReader(bytes.Clone(data)))
	if q != nil {
		*p = *q
	}
	return err
}

// decodeBody parses the body of a known command. The result aliases body.
func decodeBody(id CommandID, body []byte) (Body, error) {
	d := decoder{b: body}
	switch id {
	case CmdBindReceiver, CmdBindTransmitter, CmdBindTransceiver:
		bd := &Bind{
			SystemID:         d.cstring("system_id"),
			Password:         d.cstring("password"),
			SystemType:       d.cstring("system_type"),
			InterfaceVersion: d.byte("interface_version"),
			AddrTON:          d.byte("addr_ton"),
			AddrNPI:          d.byte("addr_npi"),
			AddressRange:     d.cstring("address_range"),
		}
		bd.TLVs = d.tlvs()
		if d.err != nil {
			return nil, d.err
		}
		return bd, nil
	case CmdBindReceiverResp, CmdBindTransmitterResp, CmdBindTransceiverResp:
		if len(body) == 0 {
			return nil, nil
		}
		r := &BindResp{SystemID: d.cstring("system_id")}
		r.TLVs = d.tlvs()
		if d.err != nil {
			return nil, d.err
		}
		return r, nil
	case CmdSubmitSMResp, CmdDeliverSMResp:
		if len(body) == 0 {
			return nil, nil
		}
		r := &SubmitSMResp{MessageID: d.cstring("message_id")}
		r.TLVs = d.tlvs()
		if d.err != nil {
			return nil, d.err
		}
		if id == CmdDeliverSMResp {
			return (*DeliverSMResp)(r), nil
		}
		return r, nil
	case CmdSubmitSM, CmdDeliverSM:
		sm := &SubmitSM{
			ServiceType:          d.cstring("service_type"),
			SourceTON:            d.byte("source_addr_ton"),
			SourceNPI:            d.byte("source_addr_npi"),
			Source:               d.cstring("source_addr"),
			DestTON:              d.byte("dest_addr_ton"),
			DestNPI:              d.byte("dest_addr_npi"),
			Dest:                 d.cstring("destination_addr"),
			ESMClass:             d.byte("esm_class"),
			ProtocolID:           d.byte("protocol_id"),
			PriorityFlag:         d.byte("priority_flag"),
			ScheduleDeliveryTime: d.cstring("schedule_delivery_time"),
			ValidityPeriod:       d.cstring("validity_period"),
			RegisteredDelivery:   d.byte("registered_delivery"),
			ReplaceIfPresent:     d.byte("replace_if_present_flag"),
			DataCoding:           DataCoding(d.byte("data_coding")),
			SMDefaultMsgID:       d.byte("sm_default_msg_id"),
		}
		sm.ShortMessage = d.bytes("short_message", int(d.byte("sm_length")))
		sm.TLVs = d.tlvs()
		if d.err != nil {
			return nil, d.err
		}
		if id == CmdDeliverSM {
			return (*DeliverSM)(sm), nil
		}
		return sm, nil
	case CmdGenericNack, CmdUnbind, CmdUnbindResp, CmdEnquireLink, CmdEnquireLinkResp:
		if len(body) != 0 {
			return nil, fmt.Errorf("%d unexpected body bytes", len(body))
		}
		return nil, nil
	default:
		if len(body) == 0 {
			return nil, nil
		}
		return &RawBody{Data: body}, nil
	}
}

// decoder reads fields in order and keeps the first error; later reads
// return zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.err = fmt.Errorf("%s: truncated at offset %d", field, d.off)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) cstring(field string) string {
	if d.err != nil {
		return ""
	}
	if d.off >= len(d.b) {
		d.err = fmt.Errorf("%s: truncated at offset %d", field, d.off)
		return ""
	}
	i := bytes.IndexByte(d.b[d.off:], 0)
	if i < 0 {
		d.err = fmt.Errorf("%s: missing NUL terminator", field)
		return ""
	}
	s := string(d.b[d.off : d.off+i])
	d.off += i + 1
	return s
}

func (d *decoder) bytes(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.err = fmt.Errorf("%s: length %d past end of pdu (%d bytes left)", field, n, len(d.b)-d.off)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *decoder) tlvs() TLVs {
	if d.err != nil {
		return nil
	}
	ts, err := decodeTLVs(d.b[d.off:])
	if err != nil {
		d.err = err
		return nil
	}
	d.off = len(d.b)
	return ts
}
