package screen

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
)

// DNO entry types, the "type" column of a DNO list.
const (
	DNONumber = "number" // one number
	DNORange  = "range"  // every number starting with an E.164 prefix
)

// DNOEntry is one line of a Do-Not-Originate list.
type DNOEntry struct {
	Number string // E.164 number, or for a range its E.164 prefix ("+44800555")
	Type   string // DNONumber ("" means it too) or DNORange
	Org    string // whose number it is, shown in the reason; may be ""
	Source string // where the entry came from, for people; not read by the engine
}

// DNOList is a Do-Not-Originate list: numbers that only ever receive calls (banks' inbound
// lines, tax offices), so a call presenting one is spoofed. It is immutable once parsed: the
// Engine swaps whole lists (Engine.SetDNO), so a reload never drops or half-answers a call.
type DNOList struct {
	version string
	numbers []string // sorted E.164 numbers
	numOrg  []uint32 // numbers[i]'s reason, an index into reasons
	ranges  []dnoRanges
	reasons []unspoof.Reason // one per distinct organisation
	orgs    []string         // reasons[i]'s organisation
}

// dnoRanges are the prefixes of one length, sorted.
type dnoRanges struct {
	n        int
	prefixes []string
	org      []uint32
}

// ParseDNO reads a DNO list in CSV (docs/api/screen.md): comments start with #, the first
// record is "version,VALUE", the next is a header with a "number" column and optional "type"
// (number or range), "org" and "source" columns. Numbers are read as dialled in region unless
// they start with + and must be possible numbers; ranges are E.164 prefixes (+ and 2 to 15
// digits). Errors are EINVALID and name the line.
func ParseDNO(r io.Reader, region string) (*DNOList, error) {
	region = cmp.Or(region, DefaultRegion)
	type entry struct {
		number string
		org    uint32
	}
	var nums, ranges []entry
	orgIx := map[string]uint32{}
	l := &DNOList{}
	reasonFor := func(org string) uint32 {
		if i, ok := orgIx[org]; ok {
			return i
		}
		detail := "on the Do-Not-Originate list"
		if org != "" {
			detail = "on the Do-Not-Originate list (" + org + ")"
		}
		i := uint32(len(l.reasons))
		l.reasons = append(l.reasons, unspoof.Reason{Code: CodeDNO, Rule: RuleDNO, Detail: detail})
		l.orgs = append(l.orgs, org)
		orgIx[org] = i
		return i
	}
	version, err := readList(r, "DNO", []string{"number", "type", "org"}, func(line int, v []string) error {
		num, typ, org := v[0], v[1], v[2]
		switch strings.ToLower(typ) {
		case "", DNONumber:
			n, err := phonenum.Parse(num, region)
			if err != nil {
				return fmt.Errorf("number %q: %v", num, err)
			}
			if n.Possible != phonenum.IsPossible {
				return fmt.Errorf("number %q: %v", num, n.Possible)
			}
			nums = append(nums, entry{strings.Clone(n.E164), reasonFor(org)})
		case DNORange:
			p, ok := e164Prefix(num)
			if !ok {
				return fmt.Errorf("range %q: want an E.164 prefix, + and 2 to 15 digits", num)
			}
			ranges = append(ranges, entry{p, reasonFor(org)})
		default:
			return fmt.Errorf("type %q: want number or range", typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.version = version
	byNumber := func(a, b entry) int { return strings.Compare(a.number, b.number) }
	slices.SortStableFunc(nums, byNumber)
	nums = slices.CompactFunc(nums, func(a, b entry) bool { return a.number == b.number }) // the first line wins
	for _, e := range nums {
		l.numbers = append(l.numbers, e.number)
		l.numOrg = append(l.numOrg, e.org)
	}
	slices.SortStableFunc(ranges, func(a, b entry) int {
		return cmp.Or(cmp.Compare(len(a.number), len(b.number)), strings.Compare(a.number, b.number))
	})
	ranges = slices.CompactFunc(ranges, func(a, b entry) bool { return a.number == b.number })
	for _, e := range ranges {
		if len(l.ranges) == 0 || l.ranges[len(l.ranges)-1].n != len(e.number) {
			l.ranges = append(l.ranges, dnoRanges{n: len(e.number)})
		}
		g := &l.ranges[len(l.ranges)-1]
		g.prefixes = append(g.prefixes, e.number)
		g.org = append(g.org, e.org)
	}
	return l, nil
}

// e164Prefix reads "+44 800 555" as "+44800555".
func e164Prefix(s string) (string, bool) {
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	b := []byte{'+'}
	for _, c := range []byte(s[1:]) {
		switch {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '-':
		default:
			return "", false
		}
	}
	if len(b) < 3 || len(b) > 16 || b[1] == '0' {
		return "", false
	}
	return string(b), true
}

// Version is the list's version, as its first line gives it.
func (l *DNOList) Version() string {
	if l == nil {
		return ""
	}
	return l.version
}

// Len is how many entries (numbers and ranges) the list has, duplicates counted once.
func (l *DNOList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.numbers) + l.rangeCount()
}

func (l *DNOList) rangeCount() int {
	n := 0
	for _, g := range l.ranges {
		n += len(g.prefixes)
	}
	return n
}

// Lookup reports whether the E.164 number e164 is on the list, and the organisation the list
// names for it ("" if none). A number matches itself or any range that is a prefix of it.
func (l *DNOList) Lookup(e164 string) (org string, ok bool) {
	i := l.lookup(e164)
	if i < 0 {
		return "", false
	}
	return l.orgs[i], true
}

// lookup returns the index of e164's reason, or -1; it allocates nothing.
func (l *DNOList) lookup(e164 string) int {
	if l == nil || e164 == "" {
		return -1
	}
	if i := search(l.numbers, e164); i >= 0 {
		return int(l.numOrg[i])
	}
	for gi := range l.ranges {
		g := &l.ranges[gi]
		if g.n > len(e164) {
			break
		}
		if i := search(g.prefixes, e164[:g.n]); i >= 0 {
			return int(g.org[i])
		}
	}
	return -1
}

// WriteDNO writes entries as a DNO list of the given version, in the format ParseDNO reads.
func WriteDNO(w io.Writer, version string, entries []DNOEntry) error {
	return writeList(w, version, []string{"number", "type", "org", "source"}, func(write func(...string) error) error {
		for _, e := range entries {
			if err := write(e.Number, cmp.Or(e.Type, DNONumber), e.Org, e.Source); err != nil {
				return err
			}
		}
		return nil
	})
}
