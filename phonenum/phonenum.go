// Package phonenum normalises telephone numbers to E.164 with the answers of Google's
// libphonenumber (through github.com/nyaruka/phonenumbers): country, region, line type,
// validity and possibility. It also flags the ranges regulators reserve for drama and fiction.
//
// Parse is the one function every part of unspoof calls to normalise a number, so that a faster
// exact implementation can replace the library behind it without touching callers.
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

// Parse normalises raw, read as dialled in defaultRegion (an ISO region such as "GB") unless it
// carries an international prefix. The error is one of the Err values above.
func Parse(raw, defaultRegion string) (Number, error) {
	pn, err := phonenumbers.Parse(raw, defaultRegion)
	if err != nil {
		return Number{}, libError(err)
	}
	n := Number{
		E164:        phonenumbers.Format(pn, phonenumbers.E164),
		CountryCode: int(pn.GetCountryCode()),
		Region:      phonenumbers.GetRegionCodeForNumber(pn),
		Type:        lineType(phonenumbers.GetNumberType(pn)),
		Possible:    possibility(phonenumbers.IsPossibleNumberWithReason(pn)),
	}
	// libphonenumber's IsValidNumber is exactly "the number's region's metadata gives it a
	// type": asking it again would match every pattern a second time.
	n.Valid = n.Type != Unknown
	n.Fictional = IsFictional(n.E164)
	return n, nil
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
