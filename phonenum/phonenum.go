// Package phonenum normalises telephone numbers to E.164 with the answers of Google's
// libphonenumber (through github.com/nyaruka/phonenumbers): country, region, line type,
// validity and possibility. It also flags the ranges regulators reserve for drama and fiction.
//
// Parse is the one function every part of unspoof calls to normalise a number. It gives exactly
// the library's answers, about a hundred times faster: `go generate` (gen.go) compiles the
// library's metadata into digit automata (automata.bin, tables_gen.go): each territory's number
// descriptions become one deterministic automaton over the digits whose accepting states say
// which descriptions match, so a number's type is one pass over its digits with no regexp. The
// international prefix, national prefix and leading-digits patterns are compiled the same way.
// Parse mirrors the library's parsing steps on that data for the common shapes (digits with
// spaces, dashes, dots, slashes and brackets; +, the default region's international prefix, the
// national prefix) and hands anything else to the library itself: letters, extensions, RFC 3966,
// non-ASCII digits, and prefix rules that need the regexp engine (national-prefix transform rules,
// ambiguous prefixes). Stats counts both paths. TestDifferential and FuzzParse prove agreement.
package phonenum

import (
	"errors"
	"fmt"

	"github.com/nyaruka/phonenumbers"
)

// LineType is the kind of line a number belongs to, as libphonenumber classifies it.
type LineType uint8

// Line types, in libphonenumber's categories.
const (
	Unknown LineType = iota
	FixedLine
	Mobile
	FixedLineOrMobile
	TollFree
	PremiumRate
	SharedCost
	VoIP
	PersonalNumber
	Pager
	UAN
	Voicemail
)

var lineTypeNames = [...]string{
	Unknown:           "unknown",
	FixedLine:         "fixed_line",
	Mobile:            "mobile",
	FixedLineOrMobile: "fixed_line_or_mobile",
	TollFree:          "toll_free",
	PremiumRate:       "premium_rate",
	SharedCost:        "shared_cost",
	VoIP:              "voip",
	PersonalNumber:    "personal",
	Pager:             "pager",
	UAN:               "uan",
	Voicemail:         "voicemail",
}

// String returns the line type's lower-case name, as stored and exported ("mobile").
func (t LineType) String() string {
	if int(t) < len(lineTypeNames) {
		return lineTypeNames[t]
	}
	return "unknown"
}

// ParseLineType returns the LineType named s (the String form); unknown names give Unknown.
func ParseLineType(s string) LineType {
	for i, n := range lineTypeNames {
		if n == s {
			return LineType(i)
		}
	}
	return Unknown
}

// Possibility says whether a number has a length that can be dialled, in libphonenumber's terms.
type Possibility uint8

// Possibility results, as libphonenumber's ValidationResult.
const (
	IsPossible Possibility = iota
	IsPossibleLocalOnly
	InvalidCountryCode
	TooShort
	TooLong
	InvalidLength
)

var possibilityNames = [...]string{
	IsPossible:          "possible",
	IsPossibleLocalOnly: "possible local only (no area code)",
	InvalidCountryCode:  "invalid country code",
	TooShort:            "too short",
	TooLong:             "too long",
	InvalidLength:       "invalid length",
}

// String returns the possibility in words ("too short"), as quarantine reasons show it.
func (p Possibility) String() string {
	if int(p) < len(possibilityNames) {
		return possibilityNames[p]
	}
	return "unknown"
}

// Number is a parsed telephone number.
type Number struct {
	E164        string      // "+447700900123"
	CountryCode int         // 44
	Region      string      // ISO 3166-1 alpha-2 region the number belongs to ("GB"); "" if none
	Type        LineType    // mobile, fixed line…
	Valid       bool        // matches a number range allocated in the metadata
	Possible    Possibility // IsPossible when its length can be dialled from anywhere
	Fictional   bool        // in a range reserved for drama and fiction (Ofcom, NANP 555-01xx)
}

// Errors Parse returns, in libphonenumber's categories. Wrapped errors match with errors.Is.
var (
	ErrNotANumber         = errors.New("not a number")
	ErrInvalidCountryCode = errors.New("invalid country code")
	ErrTooShortAfterIDD   = errors.New("too short after international prefix")
	ErrTooShort           = errors.New("too short")
	ErrTooLong            = errors.New("too long")
)

// Compact is a parsed number that lives entirely in the value: its E.164 form is held in a
// fixed-size array, so ParseCompact does not allocate. The fields mean what Number's do.
type Compact struct {
	CountryCode int         // 44
	Region      string      // "GB"; "" if none
	Type        LineType    // mobile, fixed line…
	Valid       bool        // matches a number range allocated in the metadata
	Possible    Possibility // IsPossible when its length can be dialled from anywhere
	Fictional   bool        // in a range reserved for drama and fiction

	e164 [maxE164]byte
	n    uint8
}

// E164 returns the number in E.164 form ("+447700900123"); it allocates the string.
func (c *Compact) E164() string { return string(c.e164[:c.n]) }

// AppendE164 appends the number's E.164 form to b, without allocating when b has room.
func (c *Compact) AppendE164(b []byte) []byte { return append(b, c.e164[:c.n]...) }

// Number returns c as a Number (allocating its E164 string).
func (c *Compact) Number() Number {
	return Number{E164: c.E164(), CountryCode: c.CountryCode, Region: c.Region, Type: c.Type,
		Valid: c.Valid, Possible: c.Possible, Fictional: c.Fictional}
}

// Parse normalises raw, read as dialled in defaultRegion (an ISO region such as "GB") unless it
// carries an international prefix. The error is one of the Err values above. Every field and
// error is libphonenumber's answer (nyaruka/phonenumbers, whose metadata the package compiles);
// shapes the compiled fast path does not cover are handed to the library itself (see Stats).
// Parse allocates only the E164 string, and not even that when raw already is in E.164 form:
// E164 is then raw itself (so it keeps alive whatever raw's memory belongs to; clone raw first
// if it is a slice of a large buffer you mean to drop). ParseCompact allocates nothing.
func Parse(raw, defaultRegion string) (Number, error) {
	c, err := ParseCompact(raw, defaultRegion)
	if err != nil {
		return Number{}, err
	}
	n := Number{CountryCode: c.CountryCode, Region: c.Region, Type: c.Type, Valid: c.Valid,
		Possible: c.Possible, Fictional: c.Fictional}
	if e := c.e164[:c.n]; string(e) == raw {
		n.E164 = raw // already in E.164 form: share the caller's string
	} else {
		n.E164 = string(e)
	}
	return n, nil
}

// ParseCompact is Parse without allocating on the fast path: the E.164 form stays in the
// returned value (see Compact.E164 and Compact.AppendE164).
func ParseCompact(raw, defaultRegion string) (Compact, error) {
	var c Compact
	err := parseFast(raw, defaultRegion, &c)
	if err != errFallback {
		counters.fast.Add(1)
		return c, err
	}
	counters.fallback.Add(1)
	return c, parseLib(raw, defaultRegion, &c)
}

// parseLib asks the library itself.
func parseLib(raw, defaultRegion string, c *Compact) error {
	pn, err := phonenumbers.Parse(raw, defaultRegion)
	if err != nil {
		return libError(err)
	}
	e := phonenumbers.Format(pn, phonenumbers.E164)
	c.n = uint8(copy(c.e164[:], e))
	c.CountryCode = int(pn.GetCountryCode())
	c.Region = phonenumbers.GetRegionCodeForNumber(pn)
	c.Type = lineType(phonenumbers.GetNumberType(pn))
	c.Possible = possibility(phonenumbers.IsPossibleNumberWithReason(pn))
	// libphonenumber's IsValidNumber is exactly "the number's region's metadata gives it a
	// type": asking it again would match every pattern a second time.
	c.Valid = c.Type != Unknown
	c.Fictional = IsFictional(e)
	return nil
}

func libError(err error) error {
	switch {
	case errors.Is(err, phonenumbers.ErrNotANumber):
		return ErrNotANumber
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return ErrInvalidCountryCode
	case errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return ErrTooShortAfterIDD
	case errors.Is(err, phonenumbers.ErrTooShortNSN):
		return ErrTooShort
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return ErrTooLong
	}
	return fmt.Errorf("%w: %v", ErrNotANumber, err)
}

func lineType(t phonenumbers.PhoneNumberType) LineType {
	switch t {
	case phonenumbers.FIXED_LINE:
		return FixedLine
	case phonenumbers.MOBILE:
		return Mobile
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return FixedLineOrMobile
	case phonenumbers.TOLL_FREE:
		return TollFree
	case phonenumbers.PREMIUM_RATE:
		return PremiumRate
	case phonenumbers.SHARED_COST:
		return SharedCost
	case phonenumbers.VOIP:
		return VoIP
	case phonenumbers.PERSONAL_NUMBER:
		return PersonalNumber
	case phonenumbers.PAGER:
		return Pager
	case phonenumbers.UAN:
		return UAN
	case phonenumbers.VOICEMAIL:
		return Voicemail
	}
	return Unknown
}

func possibility(r phonenumbers.ValidationResult) Possibility {
	switch r {
	case phonenumbers.IS_POSSIBLE:
		return IsPossible
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return IsPossibleLocalOnly
	case phonenumbers.INVALID_COUNTRY_CODE:
		return InvalidCountryCode
	case phonenumbers.TOO_SHORT:
		return TooShort
	case phonenumbers.TOO_LONG:
		return TooLong
	}
	return InvalidLength
}
