package screen

import (
	"errors"
	"strings"

	"github.com/unspoof/unspoof/phonenum"
)

// userPart returns the telephone number a From or To value carries: the user part of a SIP or
// SIPS URI, the number of a tel URI (without parameters), or the value itself. A name-addr
// ("Bank" <sip:+44…@host>;tag=1) is reduced to its URI first. It slices s and allocates nothing.
func userPart(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	switch {
	case hasPrefixFold(s, "sip:"):
		s = s[4:]
		if i := strings.IndexByte(s, '@'); i >= 0 {
			s = s[:i]
		} else {
			return "" // sip:host: no user
		}
	case hasPrefixFold(s, "sips:"):
		s = s[5:]
		if i := strings.IndexByte(s, '@'); i >= 0 {
			s = s[:i]
		} else {
			return ""
		}
	case hasPrefixFold(s, "tel:"):
		s = s[4:]
	default:
		return s
	}
	if i := strings.IndexByte(s, ';'); i >= 0 { // tel: parameters, or user parameters
		s = s[:i]
	}
	return s
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// withheld reports whether a presented number is no number on purpose: empty, or one of the
// words SIP uses for a withheld identity.
func withheld(user string) bool {
	switch len(user) {
	case 0:
		return true
	case 7:
		return strings.EqualFold(user, "private") || strings.EqualFold(user, "unknown")
	case 8:
		return strings.EqualFold(user, "withheld")
	case 9:
		return strings.EqualFold(user, "anonymous")
	case 10:
		return strings.EqualFold(user, "restricted")
	case 11:
		return strings.EqualFold(user, "unavailable")
	}
	return false
}

// dialable reports whether s holds only what a signalled number may: digits, a leading + and
// the visual separators phonenum reads (space - . / ( )). Anything else (letters, extensions)
// is no calling line identity, and is not worth libphonenumber's slow path.
func dialable(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && digits == 0:
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')':
		default:
			return false
		}
	}
	return digits > 0
}

// parseNumber normalises a dialable user part with phonenum; ok is false when it is none, and
// then tooShortOrLong says whether it failed for its length alone.
func parseNumber(user, region string) (c phonenum.Compact, ok, tooShortOrLong bool) {
	if !dialable(user) {
		return c, false, false
	}
	c, err := phonenum.ParseCompact(user, region)
	if err != nil {
		return c, false, errors.Is(err, phonenum.ErrTooShort) || errors.Is(err, phonenum.ErrTooLong) ||
			errors.Is(err, phonenum.ErrTooShortAfterIDD)
	}
	return c, true, false
}

// e164 returns c's E.164 form, sharing raw's memory when raw already is that form (the usual
// case in SIP), so that no string is allocated.
func e164(c *phonenum.Compact, raw string) string {
	var buf [24]byte
	b := c.AppendE164(buf[:0])
	if string(b) == raw {
		return raw
	}
	return string(b)
}

// hashString is FNV-1a over s, finished with a mixer so that every bit depends on every byte.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix(h)
}

// hashBytes is hashString over b.
func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

// mix is MurmurHash3's 64-bit finaliser.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
