package smpp

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Deliver is a deliver_sm as the client hands it to Config.Deliver: a
// delivery receipt or a mobile-originated message (a reply such as STOP).
type Deliver struct {
	Source, Dest         string
	SourceTON, SourceNPI byte
	ESMClass             byte
	DataCoding           DataCoding
	// ShortMessage is the body as received (from message_payload when
	// short_message is empty), user data header included.
	ShortMessage []byte
	// UDH is the user data header when esm_class has UDHI, else nil.
	UDH []byte
	// Text is the decoded text without the user data header. A body that
	// does not decode in its data_coding is shown as Latin-1 rather than
	// dropped.
	Text string
	TLVs TLVs
	// Receipt is set when esm_class marks a delivery receipt or
	// intermediate notification, or a receipted_message_id TLV is present.
	Receipt *Receipt
}

// IsReceipt reports whether the deliver_sm is a delivery receipt (or an
// intermediate notification) rather than a message from a handset.
func (d *Deliver) IsReceipt() bool { return d.Receipt != nil }

// Receipt is a delivery receipt: what became of a submitted message.
type Receipt struct {
	// ID is the message id as the SMSC gave it in the receipt; match it
	// with MessageIDKeys.
	ID string
	// State is one of DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN,
	// ACCEPTD, ENROUTE: from the message_state TLV when present, else the
	// receipt text's stat: (upper-cased; full names such as DELIVERED are
	// mapped to the short form). A state outside the list is kept as given
	// and ParseErr says so.
	State string
	// Err is the receipt text's err: field as given (network-specific,
	// e.g. "000"), else from the network_error_code TLV as three digits.
	Err string
	// Submitted and Done are the submit date: and done date: of the text,
	// read as UTC (receipts carry no zone); zero when absent or unreadable.
	Submitted, Done time.Time
	// Sub, Dlvrd and Text are the text's sub:, dlvrd: and text: fields.
	// The receipt is read from the body's bytes as they are (receipts are
	// ASCII in practice, and an id must match submit_sm_resp's byte for
	// byte), so characters outside ASCII in Text may show as GSM codes.
	Sub, Dlvrd, Text string
	// Final is true when State is final (every state but ENROUTE and
	// unrecognised ones) and the PDU is not an intermediate notification.
	Final bool
	// ParseErr is non-nil when the receipt could only be read in part; the
	// other fields hold what could be read.
	ParseErr error
}

// Receipt states.
const (
	StateDelivered     = "DELIVRD"
	StateUndeliverable = "UNDELIV"
	StateExpired       = "EXPIRED"
	StateRejected      = "REJECTD"
	StateDeleted       = "DELETED"
	StateUnknown       = "UNKNOWN"
	StateAccepted      = "ACCEPTD"
	StateEnroute       = "ENROUTE"
)

// messageStates maps the message_state TLV (SMPP 3.4 §5.2.28) to states.
// 0 (SCHEDULED, SMPP 5.0) is still on its way.
var messageStates = map[byte]string{
	0: StateEnroute, 1: StateEnroute, 2: StateDelivered, 3: StateExpired,
	4: StateDeleted, 5: StateUndeliverable, 6: StateAccepted, 7: StateUnknown,
	8: StateRejected,
}

var stateAliases = map[string]string{
	"DELIVRD": StateDelivered, "DELIVERED": StateDelivered,
	"UNDELIV": StateUndeliverable, "UNDELIVERABLE": StateUndeliverable, "UNDELIVERED": StateUndeliverable,
	"EXPIRED": StateExpired,
	"REJECTD": StateRejected, "REJECTED": StateRejected,
	"DELETED": StateDeleted,
	"UNKNOWN": StateUnknown,
	"ACCEPTD": StateAccepted, "ACCEPTED": StateAccepted,
	"ENROUTE": StateEnroute,
}

// receiptKey finds the fields of a receipt text. Keys are case-insensitive
// and may use '_' for the space in "submit date".
var receiptKey = regexp.MustCompile(`(?i)(?:^|[\s,;])(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:`)

// ParseReceipt reads a delivery receipt from the short_message text (the
// SMPP 3.4 Appendix B format "id:… sub:… dlvrd:… submit date:YYMMDDhhmm
// done date:YYMMDDhhmm stat:DELIVRD err:000 text:…", in its common
// variants) and from TLVs (receipted_message_id, message_state,
// network_error_code). Where both give the id or state, the TLVs win. It
// never fails to return a receipt: the error, also stored in ParseErr,
// says what could not be read.
func ParseReceipt(text []byte, tlvs TLVs) (*Receipt, error) {
	r := &Receipt{}
	var problems []error
	s := string(text)
	locs := receiptKey.FindAllStringSubmatchIndex(s, -1)
	fields := map[string]string{}
	for i, loc := range locs {
		key := strings.ReplaceAll(strings.ToLower(s[loc[2]:loc[3]]), "_", " ")
		end := len(s)
		if key != "text" && i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if _, dup := fields[key]; !dup {
			fields[key] = strings.TrimSpace(s[loc[1]:end])
		}
		if key == "text" {
			break
		}
	}
	r.ID = fields["id"]
	r.Sub, r.Dlvrd, r.Text, r.Err = fields["sub"], fields["dlvrd"], fields["text"], fields["err"]
	if v, ok := fields["submit date"]; ok {
		t, err := parseReceiptTime(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("submit date: %w", err))
		}
		r.Submitted = t
	}
	if v, ok := fields["done date"]; ok {
		t, err := parseReceiptTime(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("done date: %w", err))
		}
		r.Done = t
	}
	stat := strings.ToUpper(fields["stat"])

	if id, ok := tlvs.CString(TagReceiptedMessageID); ok && id != "" {
		r.ID = id
	}
	if st, ok := tlvs.Byte(TagMessageState); ok {
		if name, known := messageStates[st]; known {
			stat = name
		} else {
			problems = append(problems, fmt.Errorf("message_state %d unknown", st))
			stat = StateUnknown
		}
	}
	if r.Err == "" {
		if ne, ok := tlvs.Get(TagNetworkErrorCode); ok && len(ne) == 3 {
			r.Err = fmt.Sprintf("%03d", int(ne[1])<<8|int(ne[2]))
		}
	}

	if stat != "" {
		if name, ok := stateAliases[stat]; ok {
			r.State = name
			r.Final = name != StateEnroute
		} else {
			r.State = stat
			problems = append(problems, fmt.Errorf("state %q unknown", stat))
		}
	}
	switch {
	case len(locs) == 0 && len(tlvs) == 0:
		problems = append(problems, errors.New("not a receipt: no fields found"))
	case r.ID == "":
		problems = append(problems, errors.New("no message id"))
	}
	if r.State == "" {
		problems = append(problems, errors.New("no state"))
	}
	if len(problems) > 0 {
		r.ParseErr = fmt.Errorf("smpp: receipt: %w", errors.Join(problems...))
	}
	return r, r.ParseErr
}

// parseReceiptTime reads YYMMDDhhmm or YYMMDDhhmmss, as UTC.
func parseReceiptTime(v string) (time.Time, error) {
	layout := ""
	switch len(v) {
	case 10:
		layout = "0601021504"
	case 12:
		layout = "060102150405"
	default:
		return time.Time{}, fmt.Errorf("%q is not YYMMDDhhmm[ss]", v)
	}
	t, err := time.ParseInLocation(layout, v, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not YYMMDDhhmm[ss]", v)
	}
	return t, nil
}

// ParseDeliver turns a deliver_sm body into a Deliver: the user data header
// split off, the text decoded, and the receipt parsed when the PDU is one.
func ParseDeliver(sm *DeliverSM) *Deliver {
	d := &Deliver{
		Source:       sm.Source,
		Dest:         sm.Dest,
		SourceTON:    sm.SourceTON,
		SourceNPI:    sm.SourceNPI,
		ESMClass:     sm.ESMClass,
		DataCoding:   sm.DataCoding,
		ShortMessage: sm.ShortMessage,
		TLVs:         sm.TLVs,
	}
	if len(d.ShortMessage) == 0 {
		if p, ok := sm.TLVs.Get(TagMessagePayload); ok {
			d.ShortMessage = p
		}
	}
	body := d.ShortMessage
	if sm.ESMClass&ESMClassUDHI != 0 && len(body) > 0 {
		if n := 1 + int(body[0]); n <= len(body) {
			d.UDH, body = body[:n], body[n:]
		}
	}
	text, err := Decode(sm.DataCoding, body)
	if err != nil {
		text = decodeLatin1(body)
	}
	d.Text = text

	kind := sm.ESMClass & esmClassTypeMask
	_, hasID := sm.TLVs.Get(TagReceiptedMessageID)
	if kind == ESMClassReceipt || kind == ESMClassIntermediate || hasID {
		// Receipt text is ASCII whatever data_coding says; read the bytes.
		d.Receipt, _ = ParseReceipt(body, sm.TLVs)
		if kind == ESMClassIntermediate {
			d.Receipt.Final = false
		}
	}
	return d
}

// MessageIDKeys returns the forms under which an SMSC may name the same
// message id, for matching receipts to submit_sm_resp ids. SMSCs are known to
// answer submit_sm with one form and write receipts with another (hex in
// one, decimal in the other; upper or lower case; zero-padded or not), so:
//
//   - the first key is the canonical form: trimmed, lower-case, leading
//     zeros stripped ("0A3F" → "a3f", "000" → "0");
//   - when the id is a hex number of at most 64 bits, its decimal value
//     follows ("0A3F" → "2623"). An all-digit id is itself the decimal form
//     (its canonical key) and, read as hex, adds another decimal key.
//
// Ids longer than 64 bits, or not hex, have only the canonical key. Two ids
// may name the same message when their key sets intersect.
//
// The trade-off: the extra keys buy matching across hex/decimal SMSCs at the
// price of false positives, since distinct ids can share a key (decimal
// "16" and hex "10" both give "16"). Look a receipt up by its canonical key
// first and use the other keys only when that finds nothing; if they find
// more than one message, treat the receipt as ambiguous instead of picking
// one.
func MessageIDKeys(id string) []string {
	s := strings.ToLower(strings.TrimSpace(id))
	if s == "" {
		return nil
	}
	canon := strings.TrimLeft(s, "0")
	if canon == "" {
		canon = "0"
	}
	keys := []string{canon}
	if !isHex(canon) || len(canon) > 16 {
		return keys // not hex, or wider than 64 bits: the string is all we have
	}
	v, err := strconv.ParseUint(canon, 16, 64)
	if err != nil {
		return keys
	}
	if dec := strconv.FormatUint(v, 10); dec != canon {
		keys = append(keys, dec)
	}
	return keys
}

// isHex reports whether s is non-empty and all hex digits (lower-case).
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
