package smpp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DataCoding is a short message's data_coding: how its bytes encode text.
type DataCoding byte

// Data codings (SMPP 3.4 §5.2.19).
const (
	// CodingDefault is the SMSC default alphabet, taken here as GSM 03.38
	// 7-bit. SMPP carries it unpacked: one septet per byte, 0x00–0x7F, with
	// extension characters as the escape 0x1B followed by their code. The
	// SMSC packs septets for the air interface.
	CodingDefault DataCoding = 0x00
	// CodingIA5 is IA5 (ASCII); decoded but never chosen for sending.
	CodingIA5 DataCoding = 0x01
	// CodingLatin1 is ISO-8859-1, one byte per character.
	CodingLatin1 DataCoding = 0x03
	// CodingBinary is 8-bit binary data; it has no text.
	CodingBinary DataCoding = 0x04
	// CodingUCS2 is UCS-2, big-endian; characters outside the Basic
	// Multilingual Plane are sent as UTF-16 surrogate pairs, as handsets
	// expect.
	CodingUCS2 DataCoding = 0x08
)

// String names the coding.
func (c DataCoding) String() string {
	switch c {
	case CodingDefault:
		return "gsm7"
	case CodingIA5:
		return "ia5"
	case CodingLatin1:
		return "latin1"
	case CodingBinary:
		return "binary"
	case CodingUCS2:
		return "ucs2"
	}
	return fmt.Sprintf("dcs_0x%02x", byte(c))
}

// Segment limits, in short_message bytes. GSM-7 is one byte per septet
// unpacked, so its limits are septets too; a concatenated part loses six
// bytes (seven septets once packed) to its user data header.
const (
	gsmSingle, gsmMulti       = 160, 153
	latin1Single, latin1Multi = 140, 134
	ucs2Single, ucs2Multi     = 140, 134 // 70 and 67 UTF-16 code units
	udhLen                    = 6
	maxParts                  = 255
)

const gsmEscape = 0x1B

// gsmBasic is the GSM 03.38 default alphabet, indexed by septet. 0x1B is the
// escape to the extension table.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', gsmEscape, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt is the extension table: septet after the escape → character.
var gsmExt = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

// gsmASCII maps runes below 0x80 to their code: bit 8 set for the
// extension table, 0xFFFF where the rune has no GSM code.
var gsmASCII [0x80]uint16

// gsmOther maps the non-ASCII runes of both tables the same way.
var gsmOther = map[rune]uint16{}

const gsmExtFlag = 0x100

func init() {
	for i := range gsmASCII {
		gsmASCII[i] = 0xFFFF
	}
	set := func(r rune, code uint16) {
		if r < 0x80 {
			gsmASCII[r] = code
		} else {
			gsmOther[r] = code
		}
	}
	for code, r := range gsmBasic {
		if code != gsmEscape {
			set(r, uint16(code))
		}
	}
	for code, r := range gsmExt {
		set(r, gsmExtFlag|uint16(code))
	}
}

// gsmCode returns the septet for r and whether it needs the escape.
func gsmCode(r rune) (code byte, ext, ok bool) {
	var v uint16
	if r >= 0 && r < 0x80 {
		v = gsmASCII[r]
	} else if c, found := gsmOther[r]; found {
		v = c
	} else {
		return 0, false, false
	}
	if v == 0xFFFF {
		return 0, false, false
	}
	return byte(v), v&gsmExtFlag != 0, true
}

// gsmWidth is the septets r takes: 1, 2 for the extension table, 0 if it
// has none.
func gsmWidth(r rune) int {
	if r >= 0 && r < 0x80 {
		switch v := gsmASCII[r]; {
		case v == 0xFFFF:
			return 0
		case v&gsmExtFlag != 0:
			return 2
		}
		return 1
	}
	v, ok := gsmOther[r]
	switch {
	case !ok:
		return 0
	case v&gsmExtFlag != 0:
		return 2
	}
	return 1
}

func ucs2Width(r rune) int {
	if r >= 0x10000 && r <= utf8.MaxRune {
		return 4 // surrogate pair
	}
	return 2
}

func latin1Width(r rune) int {
	if r >= 0 && r <= 0xFF {
		return 1
	}
	return 0
}

// scheme is a coding's segment limits and per-rune width in bytes.
type scheme struct {
	coding        DataCoding
	single, multi int
	width         func(rune) int // 0: the rune cannot be encoded
}

var (
	gsmScheme    = scheme{CodingDefault, gsmSingle, gsmMulti, gsmWidth}
	latin1Scheme = scheme{CodingLatin1, latin1Single, latin1Multi, latin1Width}
	ucs2Scheme   = scheme{CodingUCS2, ucs2Single, ucs2Multi, ucs2Width}
)

func schemeFor(c DataCoding) (scheme, error) {
	switch c {
	case CodingDefault:
		return gsmScheme, nil
	case CodingLatin1:
		return latin1Scheme, nil
	case CodingUCS2:
		return ucs2Scheme, nil
	}
	return scheme{}, fmt.Errorf("smpp: split: data coding %s is not a text coding this package sends", c)
}

// count returns how many segments text needs under s, packing characters
// greedily into parts of s.multi bytes without splitting one; ok is false if
// a rune cannot be encoded. Split makes the same cuts.
func (s scheme) count(text string) (parts int, ok bool) {
	total, used := 0, 0
	parts = 1
	for _, r := range text {
		w := s.width(r)
		if w == 0 {
			return 0, false
		}
		total += w
		if used+w > s.multi {
			parts++
			used = 0
		}
		used += w
	}
	if total <= s.single {
		return 1, true
	}
	return parts, true
}

// Parts returns the number of SMS segments text needs: GSM-7 when every
// character is in the GSM 03.38 default alphabet or its extension table
// (extension characters such as € [ ] { } ^ ~ \ | take two septets), 160
// septets in one message or 153 per concatenated part; otherwise UCS-2, 70
// UTF-16 code units or 67 per part (a surrogate pair takes two and is never
// split). Empty text is one part. It agrees with Split(text, Coding(text), _)
// for every text of up to 255 parts.
func Parts(text string) int {
	if n, ok := gsmScheme.count(text); ok {
		return n
	}
	n, _ := ucs2Scheme.count(text)
	return n
}

// Coding returns the coding chosen for text: CodingDefault when GSM-7 can
// carry it, else CodingUCS2.
func Coding(text string) DataCoding {
	for _, r := range text {
		if gsmWidth(r) == 0 {
			return CodingUCS2
		}
	}
	return CodingDefault
}

// Split encodes text in coding (CodingDefault, CodingLatin1 or CodingUCS2)
// and returns the short_message bodies to send: one body without a user
// data header when the text fits one message, else one body per part, each
// starting with the 6-byte concatenation header 05 00 03 ref total seq. A
// character is never cut across parts (neither a GSM escape sequence nor a
// UTF-16 surrogate pair). GSM-7 bodies are unpacked septets, one per byte, as
// SMPP carries data_coding 0; see CodingDefault.
//
// It is an error if a character cannot be represented in coding, or if the
// text needs more than 255 parts.
func Split(text string, coding DataCoding, ref uint8) ([][]byte, error) {
	s, err := schemeFor(coding)
	if err != nil {
		return nil, err
	}
	n, ok := s.count(text)
	if !ok {
		for i, r := range text {
			if s.width(r) == 0 {
				return nil, fmt.Errorf("smpp: split: %q at byte %d cannot be encoded in %s", r, i, coding)
			}
		}
	}
	if n > maxParts {
		return nil, fmt.Errorf("smpp: split: text needs %d parts, more than %d", n, maxParts)
	}
	if n == 1 {
		body := make([]byte, 0, len(text)*2)
		for _, r := range text {
			body = appendRune(body, coding, r)
		}
		return [][]byte{body}, nil
	}
	parts := make([][]byte, 0, n)
	newPart := func() []byte {
		b := make([]byte, udhLen, udhLen+s.multi)
		copy(b, []byte{0x05, 0x00, 0x03, ref, byte(n), byte(len(parts) + 1)})
		return b
	}
	cur := newPart()
	for _, r := range text {
		if len(cur)-udhLen+s.width(r) > s.multi {
			parts = append(parts, cur)
			cur = newPart()
		}
		cur = appendRune(cur, coding, r)
	}
	parts = append(parts, cur)
	if len(parts) != n { // count and the cut above must agree; guard anyway
		return nil, fmt.Errorf("smpp: split: cut %d parts but counted %d", len(parts), n)
	}
	return parts, nil
}

// appendRune encodes r, already known to be representable in coding.
func appendRune(b []byte, coding DataCoding, r rune) []byte {
	switch coding {
	case CodingDefault:
		code, ext, _ := gsmCode(r)
		if ext {
			return append(b, gsmEscape, code)
		}
		return append(b, code)
	case CodingLatin1:
		return append(b, byte(r))
	default:
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			return append(b, byte(r1>>8), byte(r1), byte(r2>>8), byte(r2))
		}
		return append(b, byte(r>>8), byte(r))
	}
}

// Decode returns the text of a short message body (user data header already
// removed) in the given coding: GSM-7 unpacked septets (data_coding 0 and
// the 0xF0–0xF3 message-class codings), IA5/ASCII, Latin-1 or UCS-2/UTF-16.
// Binary and other codings are an error, as are bytes the coding does not
// allow.
func Decode(coding DataCoding, b []byte) (string, error) {
	switch {
	case coding == CodingDefault || coding&0xF4 == 0xF0:
		return decodeGSM(b)
	case coding == CodingIA5:
		for i, c := range b {
			if c >= 0x80 {
				return "", fmt.Errorf("smpp: decode ia5: byte 0x%02x at %d is not ASCII", c, i)
			}
		}
		return string(b), nil
	case coding == CodingLatin1:
		return decodeLatin1(b), nil
	case coding == CodingUCS2:
		if len(b)%2 != 0 {
			return "", fmt.Errorf("smpp: decode ucs2: odd length %d", len(b))
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	}
	return "", fmt.Errorf("smpp: decode: data coding %s has no text this package reads", coding)
}

func decodeLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func decodeGSM(b []byte) (string, error) {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x80 {
			return "", fmt.Errorf("smpp: decode gsm7: byte 0x%02x at %d is not a septet", c, i)
		}
		if c != gsmEscape {
			sb.WriteRune(gsmBasic[c])
			continue
		}
		if i+1 == len(b) {
			sb.WriteByte(' ') // a lone escape at the end shows as a space
			continue
		}
		i++
		n := b[i]
		if n >= 0x80 {
			return "", fmt.Errorf("smpp: decode gsm7: byte 0x%02x at %d is not a septet", n, i)
		}
		if r, ok := gsmExt[n]; ok {
			sb.WriteRune(r)
		} else if n == gsmEscape {
			sb.WriteByte(' ')
		} else {
			sb.WriteRune(gsmBasic[n]) // unknown extension: the basic character, as 03.38 says
		}
	}
	return sb.String(), nil
}

// Text is an SMS to send, before it is cut into submit_sm PDUs.
type Text struct {
	// Source is the sender: an alphanumeric sender id (at most 11
	// characters) or a number in E.164, with or without '+'.
	Source string
	// Dest is the recipient's number in E.164, with or without '+'.
	Dest string
	// SourceTON and SourceNPI are the sender's type of number and
	// numbering plan, used as given when SourceTypeSet. Otherwise they are
	// chosen: 5/0 (alphanumeric) when Source has a character other than
	// digits and a leading '+'; 3/0 (network specific) for a short code, up
	// to 6 digits without '+'; 1/1 (international, E.164) for any other
	// number; 0/0 when Source is empty. Both non-zero also counts as set.
	SourceTON, SourceNPI byte
	SourceTypeSet        bool
	// Body is the message text; its coding is Coding(Body).
	Body string
	// Ref is the concatenation reference shared by the parts of one
	// multipart message; vary it between messages to the same handset.
	Ref uint8
	// RegisteredDelivery asks for a final delivery receipt.
	RegisteredDelivery bool
}

// ErrInvalid is wrapped by errors for requests that can never be sent as
// given (an address that is not a number, text too long, a field the wire
// format cannot carry). Submit errors that wrap it also wrap ErrNotSent.
var ErrInvalid = errors.New("smpp: invalid request")

// TextSubmits returns the submit_sm PDUs that send m, one per part, in
// order: data_coding Coding(m.Body), esm_class UDHI (0x40) when multipart,
// destination TON/NPI 1/1 with the '+' stripped, registered_delivery 1 when
// m asks for receipts. Every part asks for its own receipt.
func TextSubmits(m Text) ([]*SubmitSM, error) {
	dest, err := e164(m.Dest)
	if err != nil {
		return nil, fmt.Errorf("%w: text: dest %s: %w", ErrInvalid, MaskNumber(m.Dest), err)
	}
	src, ton, npi := m.Source, m.SourceTON, m.SourceNPI
	choose := !m.SourceTypeSet && ton == 0 && npi == 0
	switch {
	case src == "":
	case isShortCode(src):
		if choose {
			ton, npi = 3, 0
		}
	case isNumber(src):
		if src, err = e164(src); err != nil {
			return nil, fmt.Errorf("%w: text: source %s: %w", ErrInvalid, MaskNumber(m.Source), err)
		}
		if choose {
			ton, npi = 1, 1
		}
	default:
		if n := utf8.RuneCountInString(src); n > 11 {
			return nil, fmt.Errorf("%w: text: alphanumeric source %q has %d characters, more than 11", ErrInvalid, src, n)
		}
		if choose {
			ton, npi = 5, 0
		}
	}
	coding := Coding(m.Body)
	bodies, err := Split(m.Body, coding, m.Ref)
	if err != nil {
		return nil, fmt.Errorf("%w: text: %w", ErrInvalid, err)
	}
	var esm, reg byte
	if len(bodies) > 1 {
		esm = ESMClassUDHI
	}
	if m.RegisteredDelivery {
		reg = 1
	}
	sms := make([]*SubmitSM, len(bodies))
	for i, b := range bodies {
		sms[i] = &SubmitSM{
			SourceTON:          ton,
			SourceNPI:          npi,
			Source:             src,
			DestTON:            1,
			DestNPI:            1,
			Dest:               dest,
			ESMClass:           esm,
			RegisteredDelivery: reg,
			DataCoding:         coding,
			ShortMessage:       b,
		}
	}
	return sms, nil
}

// isNumber reports whether s is digits with an optional leading '+'.
// isShortCode reports whether s is a short code: 3 to 6 digits, no '+'.
func isShortCode(s string) bool {
	return len(s) >= 3 && len(s) <= 6 && s[0] != '+' && isNumber(s)
}

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// e164 checks an E.164 number and returns it without '+'.
func e164(s string) (string, error) {
	d := strings.TrimPrefix(s, "+")
	if !isNumber(d) || strings.HasPrefix(d, "+") {
		return "", errors.New("not an E.164 number")
	}
	if len(d) > 15 {
		return "", fmt.Errorf("%d digits, more than 15", len(d))
	}
	if d[0] == '0' {
		return "", errors.New("E.164 numbers do not start with 0")
	}
	return d, nil
}

// MaskNumber hides the middle of a phone number for logs above debug level
// and for error text: "+447911123123" → "+44791…123". Short numbers keep
// only their first two characters.
func MaskNumber(s string) string {
	r := []rune(s)
	switch {
	case len(r) == 0:
		return ""
	case len(r) <= 9:
		return string(r[:min(2, len(r))]) + "…"
	}
	head := 5
	if r[0] == '+' {
		head = 6
	}
	return string(r[:head]) + "…" + string(r[len(r)-3:])
}
