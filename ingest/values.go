package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
)

// timeLayouts are the forms of time ingest reads, tried in order. Times without a zone are in
// the Config's Location.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	// Fast path: 2006-01-02T15:04:05Z, as most exports write it.
	if len(s) == 20 && s[10] == 'T' && s[19] == 'Z' {
		if t, ok := fastUTC(s); ok {
			return t, nil
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && len(s) >= 9 && len(s) <= 10 {
		return time.Unix(n, 0).UTC(), nil // Unix seconds
	}
	return time.Time{}, strconv.ErrSyntax
}

func fastUTC(s string) (time.Time, bool) {
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	se, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d { // 31 February
		return time.Time{}, false
	}
	return t, true
}

// parseAmount reads a decimal amount in major units ("1,500.00", "150", "£150.5") as minor units.
func parseAmount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "£$€")
	s = strings.ReplaceAll(s, ",", "")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" && !hasFrac {
		return 0, false
	}
	w := int64(0)
	if whole != "" {
		var err error
		if w, err = strconv.ParseInt(whole, 10, 64); err != nil || w < 0 || w > 1e13 {
			return 0, false
		}
	}
	f := int64(0)
	if hasFrac {
		if len(frac) == 0 || len(frac) > 2 {
			return 0, false
		}
		if len(frac) == 1 {
			frac += "0"
		}
		n, err := strconv.ParseUint(frac, 10, 8)
		if err != nil {
			return 0, false
		}
		f = int64(n)
	}
	return w*100 + f, true
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "n", "no", "false", "0":
		return false, true
	case "y", "yes", "true", "1":
		return true, true
	}
	return false, false
}

// normaliser turns raw numbers into unspoof.Phone. It keeps no cache: phonenum's fast path costs
// less than a map lookup in a cache big enough to help (measured in docs/performance.md).
type normaliser struct {
	region string
}

type normalised struct {
	phone unspoof.Phone
	err   error
}

func newNormaliser(region string) *normaliser { return &normaliser{region: region} }

// phone returns raw normalised; err is set when raw is no possible number.
func (n *normaliser) phone(raw string) (unspoof.Phone, error) {
	v := n.parse(raw)
	return v.phone, v.err
}

func (n *normaliser) parse(raw string) normalised {
	p := unspoof.Phone{Raw: raw}
	if strings.TrimSpace(raw) == "" {
		return normalised{p, errEmpty}
	}
	num, err := phonenum.Parse(raw, n.region)
	if err != nil {
		return normalised{p, err}
	}
	if num.Possible != phonenum.IsPossible {
		return normalised{p, impossible(num.Possible)}
	}
	p.E164, p.Region, p.LineType, p.Valid = num.E164, num.Region, num.Type.String(), num.Valid
	return normalised{p, nil}
}

type impossible phonenum.Possibility

func (e impossible) Error() string {
	return "not a possible number: " + phonenum.Possibility(e).String()
}

var errEmpty = errString("empty")

type errString string

func (e errString) Error() string { return string(e) }
