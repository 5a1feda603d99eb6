package screen

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/unspoof/unspoof"
)

// Egress entry kinds, the "kind" column of an egress list.
const (
	EgressIP    = "ip"    // an address (192.0.2.7, 2001:db8::1) or a network in CIDR form (198.51.100.0/24)
	EgressTrunk = "trunk" // an ingress trunk or peer name, as ScreenRequest.Trunk gives it (exact match)
)

// EgressEntry is one line of an egress list: where a known spoofing service's calls come from.
type EgressEntry struct {
	Kind  string // EgressIP or EgressTrunk
	Value string // the address, network or trunk name
	Note  string // what it is ("account U0000123"), shown in the reason
}

// EgressList is the known egress of spoofing services: source addresses, networks and trunks.
// Like DNOList it is immutable once parsed and swapped whole (Engine.SetEgress).
type EgressList struct {
	version string
	addrs   []netip.Addr // sorted, unmapped
	addrWhy []uint32
	nets    []egressNets // by prefix length, longest first
	trunks  []string     // sorted
	trunkWy []uint32
	reasons []unspoof.Reason // one per distinct note
	notes   []string         // reasons[i]'s note
}

// egressNets are the networks of one address family and prefix length: their first addresses,
// sorted.
type egressNets struct {
	bits  int
	is4   bool
	addrs []netip.Addr
	why   []uint32
}

// ParseEgress reads an egress list in CSV (docs/api/screen.md): comments start with #, the first
// record is "version,VALUE", the next a header with "kind" and "value" columns and an optional
// "note". Errors are EINVALID and name the line.
func ParseEgress(r io.Reader) (*EgressList, error) {
	l := &EgressList{}
	noteIx := map[string]uint32{}
	reasonFor := func(note string) uint32 {
		if i, ok := noteIx[note]; ok {
			return i
		}
		detail := "from a known spoofing service's egress"
		if note != "" {
			detail += " (" + note + ")"
		}
		i := uint32(len(l.reasons))
		l.reasons = append(l.reasons, unspoof.Reason{Code: CodeSpoofingEgress, Rule: RuleEgress, Detail: detail})
		l.notes = append(l.notes, note)
		noteIx[note] = i
		return i
	}
	type addrEntry struct {
		p   netip.Prefix
		why uint32
	}
	type trunkEntry struct {
		name string
		why  uint32
	}
	var addrs []addrEntry
	var trunks []trunkEntry
	version, err := readList(r, "egress", []string{"kind", "value", "note"}, func(line int, v []string) error {
		kind, value, note := strings.ToLower(v[0]), v[1], v[2]
		switch kind {
		case EgressIP:
			p, err := parseAddrOrPrefix(value)
			if err != nil {
				return err
			}
			addrs = append(addrs, addrEntry{p, reasonFor(note)})
		case EgressTrunk:
			if value == "" {
				return fmt.Errorf("empty trunk name")
			}
			trunks = append(trunks, trunkEntry{strings.Clone(value), reasonFor(note)})
		default:
			return fmt.Errorf("kind %q: want ip or trunk", v[0])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.version = version
	// Addresses first, then networks grouped by (family, length), longest first.
	slices.SortStableFunc(addrs, func(a, b addrEntry) int {
		return cmp.Or(cmp.Compare(b.p.Bits(), a.p.Bits()), boolCompare(a.p.Addr().Is4(), b.p.Addr().Is4()), a.p.Addr().Compare(b.p.Addr()))
	})
	addrs = slices.CompactFunc(addrs, func(a, b addrEntry) bool { return a.p == b.p })
	var singles []addrEntry
	for _, a := range addrs {
		if a.p.IsSingleIP() {
			singles = append(singles, a)
			continue
		}
		is4 := a.p.Addr().Is4()
		if n := len(l.nets); n == 0 || l.nets[n-1].bits != a.p.Bits() || l.nets[n-1].is4 != is4 {
			l.nets = append(l.nets, egressNets{bits: a.p.Bits(), is4: is4})
		}
		g := &l.nets[len(l.nets)-1]
		g.addrs = append(g.addrs, a.p.Addr())
		g.why = append(g.why, a.why)
	}
	slices.SortFunc(singles, func(a, b addrEntry) int { return a.p.Addr().Compare(b.p.Addr()) })
	for _, a := range singles {
		l.addrs = append(l.addrs, a.p.Addr())
		l.addrWhy = append(l.addrWhy, a.why)
	}
	slices.SortStableFunc(trunks, func(a, b trunkEntry) int { return strings.Compare(a.name, b.name) })
	trunks = slices.CompactFunc(trunks, func(a, b trunkEntry) bool { return a.name == b.name })
	for _, t := range trunks {
		l.trunks = append(l.trunks, t.name)
		l.trunkWy = append(l.trunkWy, t.why)
	}
	return l, nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// parseAddrOrPrefix reads "192.0.2.7" or "198.51.100.0/24" (host bits must be zero).
func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("network %q: %v", s, err)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("network %q: write IPv4 networks in IPv4 form", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("network %q: host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: %v", s, err)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Version is the list's version, as its first line gives it.
func (l *EgressList) Version() string {
	if l == nil {
		return ""
	}
	return l.version
}

// Len is how many entries (addresses, networks, trunks) the list has, duplicates counted once.
func (l *EgressList) Len() int {
	if l == nil {
		return 0
	}
	n := len(l.addrs) + len(l.trunks)
	for _, g := range l.nets {
		n += len(g.addrs)
	}
	return n
}

// Lookup reports whether a call from source address ip (zero if unknown) on trunk ("" if
// unknown) comes from a listed egress, and the listed note.
func (l *EgressList) Lookup(ip netip.Addr, trunk string) (note string, ok bool) {
	i := l.lookup(ip, trunk)
	if i < 0 {
		return "", false
	}
	return l.notes[i], true
}

// lookup returns the index of the reason for a call from ip on trunk, or -1. It allocates
// nothing.
func (l *EgressList) lookup(ip netip.Addr, trunk string) int {
	if l == nil {
		return -1
	}
	if ip.IsValid() {
		ip = ip.Unmap()
		if i := searchAddr(l.addrs, ip); i >= 0 {
			return int(l.addrWhy[i])
		}
		for gi := range l.nets {
			g := &l.nets[gi]
			if g.is4 != ip.Is4() {
				continue
			}
			p, err := ip.Prefix(g.bits)
			if err != nil {
				continue
			}
			if i := searchAddr(g.addrs, p.Addr()); i >= 0 {
				return int(g.why[i])
			}
		}
	}
	if trunk != "" {
		if i := search(l.trunks, trunk); i >= 0 {
			return int(l.trunkWy[i])
		}
	}
	return -1
}

func searchAddr(sorted []netip.Addr, a netip.Addr) int {
	lo, hi := 0, len(sorted)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sorted[m].Less(a) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(sorted) && sorted[lo] == a {
		return lo
	}
	return -1
}

// WriteEgress writes entries as an egress list of the given version, in the format ParseEgress
// reads.
func WriteEgress(w io.Writer, version string, entries []EgressEntry) error {
	return writeList(w, version, []string{"kind", "value", "note"}, func(write func(...string) error) error {
		for _, e := range entries {
			if err := write(e.Kind, e.Value, e.Note); err != nil {
				return err
			}
		}
		return nil
	})
}
