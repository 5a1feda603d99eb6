package phonenum

import (
	"errors"
	"sync/atomic"
)

// Limits libphonenumber applies while parsing.
const (
	maxInput  = 250            // longer input is refused as too long
	minNSN    = 2              // shortest national significant number
	maxNSN    = 17             // longest national significant number
	maxE164   = 1 + 3 + maxNSN // "+", a calling code, the NSN
	maxDigits = maxInput
)

// counters of Stats, each on its own cache line so the two cores do not fight over one.
var counters struct {
	fast     atomic.Uint64
	_        [56]byte
	fallback atomic.Uint64
	_        [56]byte
}

// Stats returns how many numbers Parse (and ParseCompact) has answered on its own fast path and
// how many it handed to libphonenumber itself because the fast path does not cover their shape
// (letters, extensions, RFC 3966, non-ASCII digits, prefix rules that need the regexp engine).
func Stats() (fast, fallback uint64) {
	return counters.fast.Load(), counters.fallback.Load()
}

// validation results of testNumberLength, as libphonenumber's ValidationResult.
const (
	lenPossible = iota
	lenLocalOnly
	_ // INVALID_COUNTRY_CODE: never from a length
	lenTooShort
	lenTooLong
	lenInvalid
)

// run feeds digits to the automaton starting at state s and returns the state reached (0: dead).
func run(s uint16, digits []byte) uint16 {
	for _, c := range digits {
		s = trans[int(s)*10+int(c-'0')]
		if s == 0 {
			return 0
		}
	}
	return s
}

// prefixEnds returns the end of the only prefix of digits the single-pattern automaton at s
// matches: n=0 when none does, n=1 with end when exactly one does, n=2 when several do (the
// regexp engine's leftmost-first preference would decide: the caller falls back).
func prefixEnds(s uint16, digits []byte) (end, n int) {
	if accept[s]&1 != 0 {
		end, n = 0, 1
	}
	for i, c := range digits {
		s = trans[int(s)*10+int(c-'0')]
		if s == 0 {
			break
		}
		if accept[s]&1 != 0 {
			if n == 1 {
				return 0, 2
			}
			end, n = i+1, 1
		}
	}
	return end, n
}

// hasPrefixMatch reports whether the automaton at s matches some prefix of digits.
func hasPrefixMatch(s uint16, digits []byte) bool {
	if accept[s]&1 != 0 {
		return true
	}
	for _, c := range digits {
		s = trans[int(s)*10+int(c-'0')]
		if s == 0 {
			return false
		}
		if accept[s]&1 != 0 {
			return true
		}
	}
	return false
}

func hasLength(mask uint32, n int) bool { return n < 32 && mask>>uint(n)&1 != 0 }

// generalMatch is the general description's pattern alone, as libphonenumber checks a number's
// viability (no length check).
func (t *territory) generalMatch(digits []byte) bool {
	return accept[run(t.types, digits)]&(1<<descGeneral) != 0
}

// testLength is libphonenumber's testNumberLength for the general description (type UNKNOWN).
func (t *territory) testLength(n int) int {
	if t.genMinusOne {
		return lenInvalid
	}
	if hasLength(t.genLocal, n) {
		return lenLocalOnly
	}
	switch {
	case int(t.genMin) == n:
		return lenPossible
	case int(t.genMin) > n:
		return lenTooShort
	case int(t.genMax) < n:
		return lenTooLong
	case hasLength(t.genLengths, n):
		return lenPossible
	}
	return lenInvalid
}

// lineType is libphonenumber's getNumberTypeHelper: one automaton run, then the length lists.
func (t *territory) lineType(nsn []byte) LineType {
	acc := accept[run(t.types, nsn)]
	n := len(nsn)
	match := func(d int) bool {
		return acc>>d&1 != 0 && (t.listed>>d&1 == 0 || hasLength(t.lengths[d], n))
	}
	if !match(descGeneral) {
		return Unknown
	}
	switch {
	case match(descPremiumRate):
		return PremiumRate
	case match(descTollFree):
		return TollFree
	case match(descSharedCost):
		return SharedCost
	case match(descVoIP):
		return VoIP
	case match(descPersonal):
		return PersonalNumber
	case match(descPager):
		return Pager
	case match(descUAN):
		return UAN
	case match(descVoicemail):
		return Voicemail
	}
	if match(descFixedLine) {
		if t.sameMobileFixed || match(descMobile) {
			return FixedLineOrMobile
		}
		return FixedLine
	}
	if !t.sameMobileFixed && match(descMobile) {
		return Mobile
	}
	return Unknown
}

// stripNationalPrefix is libphonenumber's maybeStripNationalPrefixAndCarrierCode without the
// carrier code: it returns digits without their national prefix, or digits unchanged.
// errFallback means the library must decide.
func (t *territory) stripNationalPrefix(digits []byte) ([]byte, error) {
	if len(digits) == 0 || t.npMode == npNone {
		return digits, nil
	}
	if t.npMode == npUnsupported {
		return nil, errFallback
	}
	end, n := prefixEnds(t.np, digits)
	switch {
	case n == 0:
		return digits, nil
	case n > 1 || t.npMode == npTransform:
		return nil, errFallback
	}
	if t.generalMatch(digits) && !t.generalMatch(digits[end:]) {
		return digits, nil
	}
	return digits[end:], nil
}

func regionTerritory(region string) *territory {
	if len(region) != 2 || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' || region[1] > 'Z' {
		return nil
	}
	i := regionIndex[int(region[0]-'A')*26+int(region[1]-'A')]
	if i == 0 {
		return nil
	}
	return &territories[i-1]
}

// mainTerritory returns the main territory of a valid calling code.
func mainTerritory(cc int) *territory {
	return &territories[callingCodes[cc][0]]
}

// errFallback is parseFast's answer when the library itself must parse the input.
var errFallback = errors.New("phonenum: outside the fast path")

// parseState carries the digits of one parse.
type parseState struct {
	buf [maxDigits]byte
}

// digitsOf appends the ASCII digits of s to dst.
func digitsOf(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			dst = append(dst, c)
		}
	}
	return dst
}

// extractCountryCode is libphonenumber's maybeExtractCountryCode for input the fast path accepts
// (ASCII digits and punctuation, pluses only at the start). It returns the calling code (0 when
// none is present) and the national number's digits.
func extractCountryCode(st *parseState, s string, def *territory) (cc int, national []byte, err error) {
	if len(s) == 0 {
		return 0, nil, nil
	}
	var digits []byte
	fromDefault := true
	if s[0] == '+' {
		i := 0
		for i < len(s) && s[i] == '+' {
			i++
		}
		digits = digitsOf(st.buf[:0], s[i:])
		fromDefault = false
	} else {
		digits = digitsOf(st.buf[:0], s)
		if def != nil {
			if def.iddMode != 1 {
				return 0, nil, errFallback
			}
			end, n := prefixEnds(def.idd, digits)
			if n > 1 {
				return 0, nil, errFallback
			}
			if n == 1 && (end == len(digits) || digits[end] != '0') {
				digits = digits[end:]
				fromDefault = false
			}
		}
	}
	if !fromDefault {
		if len(digits) <= minNSN {
			return 0, nil, ErrTooShortAfterIDD
		}
		if digits[0] == '0' {
			return 0, nil, ErrInvalidCountryCode
		}
		v := 0
		for i := 0; i < 3 && i < len(digits); i++ {
			v = v*10 + int(digits[i]-'0')
			if callingCodes[v] != nil {
				return v, digits[i+1:], nil
			}
		}
		return 0, nil, ErrInvalidCountryCode
	}
	if def != nil && len(digits) >= len(def.ccDigits) && string(digits[:len(def.ccDigits)]) == def.ccDigits {
		pot, err := def.stripNationalPrefix(digits[len(def.ccDigits):])
		if err != nil {
			return 0, nil, err
		}
		fullValid := def.generalMatch(digits)
		nationalValid := def.generalMatch(pot)
		if (!fullValid && nationalValid) || def.testLength(len(digits)) == lenTooLong {
			return int(def.cc), pot, nil
		}
	}
	return 0, nil, nil
}

// Classes of the bytes that may follow a number's first character on the fast path.
const (
	chOther  = iota // anything else: the library decides
	chDigit         // ASCII digit
	chPunct         // punctuation libphonenumber ignores, or a plus
	chLetter        // a letter that cannot be part of an extension label
)

// chClass classifies bytes. Letters are read as keypad digits from three on, and x and "int"
// label extensions: those stay with the library (parseFast checks "in"), and so do the
// characters that start extensions or RFC 3966 parameters (# ~ , ;) and every other symbol.
var chClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = chDigit
	}
	for _, c := range "+ -.()/[]" {
		t[c] = chPunct
	}
	for c := 'a'; c <= 'z'; c++ {
		if c != 'x' {
			t[c] = chLetter
			t[c-'a'+'A'] = chLetter
		}
	}
	return t
}()

// parseFast parses raw like libphonenumber, or returns errFallback when the library must.
func parseFast(raw, region string, c *Compact) error {
	if len(raw) == 0 {
		return ErrNotANumber
	}
	if len(raw) > maxInput {
		return ErrTooLong
	}
	// The number starts at the first plus or digit; what precedes it is dropped.
	start, letters := -1, 0
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		if ch >= 0x80 || ch == ';' {
			return errFallback
		}
		if start < 0 {
			if ch == '+' || ch >= '0' && ch <= '9' {
				start = i
			}
			continue
		}
		switch chClass[ch] {
		case chOther:
			return errFallback
		case chLetter:
			letters++
			if ch|0x20 == 'i' && i+1 < len(raw) && raw[i+1]|0x20 == 'n' {
				return errFallback // perhaps "int", an extension label
			}
		}
	}
	if letters >= 3 {
		return errFallback
	}
	if start < 0 {
		return ErrNotANumber
	}
	s := raw[start:]
	// Viable: two digits alone, or pluses, then punctuation and at least three digits, then
	// punctuation, digits and letters.
	if len(s) < minNSN {
		return ErrNotANumber
	}
	pluses := 0
	for pluses < len(s) && s[pluses] == '+' {
		pluses++
	}
	nd := 0
	for i := pluses; i < len(s); i++ {
		switch ch := s[i]; chClass[ch] {
		case chDigit:
			nd++
		case chLetter:
			if nd < 3 {
				return ErrNotANumber
			}
		default:
			if ch == '+' {
				return ErrNotANumber
			}
		}
	}
	if nd < 3 && !(len(s) == 2 && nd == 2) {
		return ErrNotANumber
	}
	def := regionTerritory(region)
	if def == nil && pluses == 0 {
		return ErrInvalidCountryCode
	}

	var st parseState
	cc, national, err := extractCountryCode(&st, s, def)
	if err != nil {
		if err != ErrInvalidCountryCode || pluses == 0 {
			return err
		}
		cc, national, err = extractCountryCode(&st, s[pluses:], def)
		if err != nil {
			return err
		}
		if cc == 0 {
			return ErrInvalidCountryCode
		}
	}
	meta := def
	if cc != 0 {
		meta = mainTerritory(cc)
	} else {
		national = digitsOf(st.buf[:0], s)
		cc = int(def.cc)
	}
	if len(national) < minNSN {
		return ErrTooShort
	}
	pot, err := meta.stripNationalPrefix(national)
	if err != nil {
		return err
	}
	switch meta.testLength(len(pot)) {
	case lenTooShort, lenLocalOnly, lenInvalid:
	default:
		national = pot
	}
	if len(national) < minNSN {
		return ErrTooShort
	}
	if len(national) > maxNSN {
		return ErrTooLong
	}
	c.fill(cc, national)
	return nil
}

// fill sets c from a valid calling code and a national significant number, as libphonenumber's
// Format (E164), GetRegionCodeForNumber, GetNumberType and IsPossibleNumberWithReason answer.
func (c *Compact) fill(cc int, nsn []byte) {
	n := 0
	c.e164[n] = '+'
	n++
	if cc >= 100 {
		c.e164[n] = byte('0' + cc/100)
		n++
	}
	if cc >= 10 {
		c.e164[n] = byte('0' + cc/10%10)
		n++
	}
	c.e164[n] = byte('0' + cc%10)
	n++
	n += copy(c.e164[n:], nsn)
	c.n = uint8(n)
	c.CountryCode = cc

	// Region: the only territory of the calling code, or the first whose leading digits or
	// number patterns fit.
	c.Region, c.Type = "", Unknown
	if list := callingCodes[cc]; len(list) == 1 {
		t := &territories[list[0]]
		c.Region, c.Type = t.id, t.lineType(nsn)
	} else {
		for _, i := range list {
			t := &territories[i]
			if t.hasLead {
				if hasPrefixMatch(t.lead, nsn) {
					c.Region, c.Type = t.id, t.lineType(nsn)
					break
				}
			} else if typ := t.lineType(nsn); typ != Unknown {
				c.Region, c.Type = t.id, typ
				break
			}
		}
	}
	c.Valid = c.Type != Unknown

	main := mainTerritory(cc)
	if main.noPattern {
		switch {
		case len(nsn) < minNSN:
			c.Possible = TooShort
		case len(nsn) > maxNSN:
			c.Possible = TooLong
		default:
			c.Possible = IsPossible
		}
	} else {
		c.Possible = Possibility(main.testLength(len(nsn)))
	}
	c.Fictional = isFictional(c.e164[:n])
}
