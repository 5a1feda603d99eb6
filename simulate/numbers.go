package simulate

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strconv"
)

// lineType is the kind of line a range holds, as libphonenumber classifies it.
type lineType uint8

const (
	lineMobile lineType = iota
	lineFixed
	lineFixedOrMobile // NANP geographic numbers
	lineTollFree
	lineUAN // UK 03 numbers
)

// numberRange is a block of numbers: every national significant number (NSN) in it is one of
// prefixes followed by free digits. The ranges below were checked against
// github.com/nyaruka/phonenumbers (every prefix, sampled): they are valid for their region and
// line type, and none of them holds a range reserved for drama (Ofcom's 07700 900xxx,
// 020 7946 0xxx, 0161 496 0xxx…, NANP 555-01xx).
type numberRange struct {
	prefixes []string
	free     int   // digits after the prefix
	groups   []int // how the NSN is split for display ("7911 123456" is {4, 6})
	kind     lineType
	weight   float64 // share of the country's pool
	size     uint64  // len(prefixes) × 10^free
	pow      uint64  // 10^free
}

// numberPlan is what the generator knows of one country's numbers.
type numberPlan struct {
	region string // ISO 3166-1 alpha-2
	cc     string // country calling code
	trunk  string // national prefix ("0" for GB); "" if numbers are never written nationally
	zone   zone   // for the daily rhythm of calls to the country
	ranges []*numberRange
}

// nsn writes into dst the national significant number at position k (< r.size) of r.
func (r *numberRange) nsn(dst []byte, k uint64) []byte {
	p := r.prefixes[k/r.pow]
	dst = append(dst, p...)
	rest := k % r.pow
	var buf [20]byte
	for i := r.free - 1; i >= 0; i-- {
		buf[i] = byte('0' + rest%10)
		rest /= 10
	}
	return append(dst, buf[:r.free]...)
}

func (r *numberRange) init() {
	r.pow = 1
	for range r.free {
		r.pow *= 10
	}
	r.size = uint64(len(r.prefixes)) * r.pow
	n := len(r.prefixes[0]) + r.free
	sum := 0
	for _, g := range r.groups {
		sum += g
	}
	for _, p := range r.prefixes {
		if len(p)+r.free != n {
			panic("simulate: range with prefixes of different lengths")
		}
	}
	if sum != n {
		panic(fmt.Sprintf("simulate: groups %v do not cover NSN of %d digits", r.groups, n))
	}
}

// blocks returns the prefixes head+fmt(i, width) for i in each [lo, hi] pair, except those in
// skip.
func blocks(head string, width int, pairs [][2]int, skip ...int) []string {
	var out []string
	for _, p := range pairs {
	next:
		for i := p[0]; i <= p[1]; i++ {
			for _, s := range skip {
				if s == i {
					continue next
				}
			}
			out = append(out, head+fmt.Sprintf("%0*d", width, i))
		}
	}
	return out
}

// each returns head+s for every s.
func each(head string, tails ...string) []string {
	out := make([]string, len(tails))
	for i, t := range tails {
		out[i] = head + t
	}
	return out
}

// nanpBlocks returns NPA+NX prefixes for every NPA, N in 2–9 and X in 0–9, leaving out the
// N1X exchanges (N11 service codes) and 55X (555 directory and fiction).
func nanpBlocks(npas ...string) []string {
	var out []string
	for _, npa := range npas {
		for n := 2; n <= 9; n++ {
			for x := 0; x <= 9; x++ {
				if x == 1 || (n == 5 && x == 5) {
					continue
				}
				out = append(out, npa+strconv.Itoa(n)+strconv.Itoa(x))
			}
		}
	}
	return out
}

// UK mobile blocks: 07 + four digits, then five free digits. Left out: 070 (personal numbers),
// 076 (pagers), 07700 (holds Ofcom's drama range), and the blocks of the Crown Dependencies
// (07457 6, 07509, 07524, 07624, 07781, 07797, 07829, 07839, 07911, 07937), which
// libphonenumber assigns to IM, JE and GG rather than GB.
var ukMobileBlocks = [][2]int{
	{4000, 4575}, {4577, 5089}, {5100, 5239}, {5250, 5999},
	{7100, 7809}, {7820, 7969}, {7980, 8289}, {8300, 8389}, {8400, 9109}, {9120, 9369}, {9380, 9999},
}

// plans are the countries the preset calls, with the ranges victims' numbers come from.
func victimPlans() []*numberPlan {
	ps := []*numberPlan{
		{region: "US", cc: "1", zone: zoneNewYork, ranges: []*numberRange{{
			prefixes: nanpBlocks("201", "202", "212", "213", "214", "215", "267", "305", "310", "312",
				"323", "347", "404", "415", "469", "512", "602", "617", "646", "678", "702", "713",
				"718", "720", "786", "813", "818", "832", "917", "949", "972"),
			free: 5, groups: []int{3, 3, 4}, kind: lineFixedOrMobile, weight: 1,
		}}},
		{region: "GB", cc: "44", trunk: "0", zone: zoneLondon, ranges: []*numberRange{
			{prefixes: blocks("7", 4, ukMobileBlocks), free: 5, groups: []int{4, 6}, kind: lineMobile, weight: 0.80},
			{prefixes: blocks("20", 2, [][2]int{{30, 34}, {70, 78}, {80, 89}}), free: 6, groups: []int{2, 4, 4}, kind: lineFixed, weight: 0.08},
			{prefixes: append(append(append(append(append(
				each("161", "2", "3", "5", "6", "7", "8"),
				each("121", "2", "3", "5", "6", "7")...),
				each("141", "2", "3", "5", "6", "7")...),
				each("151", "2", "3", "5", "6", "7")...),
				each("191", "2", "3", "5", "6")...),
				each("131", "2", "3", "5", "6")...),
				free: 6, groups: []int{3, 3, 4}, kind: lineFixed, weight: 0.10},
			{prefixes: append(blocks("2890", 1, [][2]int{{4, 9}}), blocks("2920", 1, [][2]int{{2, 8}})...),
				free: 5, groups: []int{2, 4, 4}, kind: lineFixed, weight: 0.02},
		}},
		{region: "CA", cc: "1", zone: zoneNewYork, ranges: []*numberRange{{
			prefixes: nanpBlocks("416", "647", "604", "514", "403", "613"),
			free:     5, groups: []int{3, 3, 4}, kind: lineFixedOrMobile, weight: 1,
		}}},
		{region: "AU", cc: "61", zone: zoneBrisbane, ranges: []*numberRange{{
			prefixes: each("4", "0", "1", "2", "3", "6"), free: 7, groups: []int{3, 3, 3}, kind: lineMobile, weight: 1,
		}}},
		{region: "FR", cc: "33", zone: zoneParis, ranges: []*numberRange{{
			prefixes: []string{"60", "61", "62", "64", "65", "66", "67", "68", "73", "74", "75", "76", "77", "78"},
			free:     7, groups: []int{1, 2, 2, 2, 2}, kind: lineMobile, weight: 1,
		}}},
		{region: "DE", cc: "49", zone: zoneParis, ranges: []*numberRange{
			{prefixes: []string{"151", "152", "157", "159"}, free: 8, groups: []int{3, 8}, kind: lineMobile, weight: 0.5},
			{prefixes: blocks("17", 1, [][2]int{{0, 9}}), free: 7, groups: []int{3, 7}, kind: lineMobile, weight: 0.5},
		}},
		{region: "ES", cc: "34", zone: zoneParis, ranges: []*numberRange{{
			prefixes: blocks("6", 1, [][2]int{{0, 9}}), free: 7, groups: []int{3, 3, 3}, kind: lineMobile, weight: 1,
		}}},
		{region: "IE", cc: "353", zone: zoneLondon, ranges: []*numberRange{{
			prefixes: each("8", "3", "5", "6", "7", "9"), free: 7, groups: []int{2, 3, 4}, kind: lineMobile, weight: 1,
		}}},
		{region: "NL", cc: "31", zone: zoneParis, ranges: []*numberRange{{
			prefixes: each("6", "1", "2", "3", "4", "5", "8"), free: 7, groups: []int{1, 8}, kind: lineMobile, weight: 1,
		}}},
		{region: "IT", cc: "39", zone: zoneParis, ranges: []*numberRange{{
			prefixes: blocks("3", 1, [][2]int{{1, 9}}), free: 8, groups: []int{3, 3, 4}, kind: lineMobile, weight: 1,
		}}},
	}
	for _, p := range ps {
		for _, r := range p.ranges {
			r.init()
		}
	}
	return ps
}

// Ranges organisations' numbers come from: UK 03 and 0800 numbers and London lines that no
// victim pool uses; US toll-free and city numbers.
var (
	ukOrgRanges = []*numberRange{
		{prefixes: []string{"345", "300", "330", "344"}, free: 7, groups: []int{3, 3, 4}, kind: lineUAN, weight: 0.55},
		{prefixes: []string{"800"}, free: 7, groups: []int{3, 3, 4}, kind: lineTollFree, weight: 0.25},
		{prefixes: []string{"2036", "2037", "2038"}, free: 6, groups: []int{2, 4, 4}, kind: lineFixed, weight: 0.20},
	}
	usOrgRanges = []*numberRange{
		{prefixes: append(append(append(
			blocks("800", 1, [][2]int{{2, 4}, {6, 9}}),
			blocks("888", 1, [][2]int{{2, 4}, {6, 9}})...),
			blocks("877", 1, [][2]int{{2, 4}, {6, 9}})...),
			blocks("866", 1, [][2]int{{2, 4}, {6, 9}})...),
			free: 6, groups: []int{3, 3, 4}, kind: lineTollFree, weight: 0.6},
		{prefixes: nanpBlocks("212", "312", "415", "704"), free: 5, groups: []int{3, 3, 4}, kind: lineFixedOrMobile, weight: 0.4},
	}
)

func init() {
	for _, r := range ukOrgRanges {
		r.init()
	}
	for _, r := range usOrgRanges {
		r.init()
	}
}

// pool is a country's fixed set of callee numbers: index i < n maps to one number, a different
// one for every i, spread over the country's ranges by weight and scattered within each range.
type pool struct {
	plan   *numberPlan
	base   uint32   // global id of index 0
	n      uint32   // numbers in the pool
	starts []uint32 // first index of each range
	mul    []uint64 // per range: affine permutation k = (mul·j + add) mod size
	add    []uint64
	hot    uint32 // indices below hot (after hotPerm) are on many lead lists
	hotMul uint64 // permutation of [0,n) from popularity rank to index
	hotAdd uint64
}

// newPool makes the pool of n numbers of plan; ids start at base.
func newPool(r *rand.Rand, plan *numberPlan, base, n uint32, hotShare float64) *pool {
	if n == 0 {
		n = 1
	}
	p := &pool{plan: plan, base: base, n: n}
	var total float64
	for _, rg := range plan.ranges {
		total += rg.weight
	}
	start := uint32(0)
	for i, rg := range plan.ranges {
		p.starts = append(p.starts, start)
		cnt := uint32(float64(n) * rg.weight / total)
		if i == len(plan.ranges)-1 {
			cnt = n - start
		}
		if uint64(cnt) > rg.size {
			panic("simulate: pool larger than its range")
		}
		start += cnt
		p.mul = append(p.mul, coprimeMultiplier(r, rg.size))
		p.add = append(p.add, r.Uint64N(rg.size))
	}
	p.hot = max(1, uint32(float64(n)*hotShare))
	p.hotMul = coprimeMultiplier(r, uint64(n))
	p.hotAdd = r.Uint64N(uint64(n))
	return p
}

// coprimeMultiplier returns a multiplier in [size/3, size) coprime with size, so that
// k → mul·k + add (mod size) is a permutation.
func coprimeMultiplier(r *rand.Rand, size uint64) uint64 {
	if size <= 2 {
		return 1
	}
	for {
		m := size/3 + r.Uint64N(size-size/3)
		if gcd(m, size) == 1 {
			return m
		}
	}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mulmod returns a·b mod m without overflow.
func mulmod(a, b, m uint64) uint64 {
	if a < 1<<32 && b < 1<<32 {
		return a * b % m
	}
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, m)
}

// byRank returns the pool index of the number of popularity rank k.
func (p *pool) byRank(k uint32) uint32 {
	return uint32((mulmod(uint64(k), p.hotMul, uint64(p.n)) + p.hotAdd) % uint64(p.n))
}

// draw picks a callee: with probability hotP one of the numbers on many lead lists, otherwise
// any number of the pool.
func (p *pool) draw(r *rand.Rand, hotP float64) uint32 {
	if r.Float64() < hotP {
		return p.byRank(r.Uint32N(p.hot))
	}
	return p.byRank(r.Uint32N(p.n))
}

// locate returns the range of index i and its position within the range's number space.
func (p *pool) locate(i uint32) (*numberRange, uint64) {
	ri := sort.Search(len(p.starts), func(k int) bool { return p.starts[k] > i }) - 1
	rg := p.plan.ranges[ri]
	j := uint64(i - p.starts[ri])
	return rg, (mulmod(j, p.mul[ri], rg.size) + p.add[ri]) % rg.size
}

// e164 appends the E.164 form of pool index i.
func (p *pool) e164(dst []byte, i uint32) []byte {
	rg, k := p.locate(i)
	dst = append(dst, '+')
	dst = append(dst, p.plan.cc...)
	return rg.nsn(dst, k)
}

// Raw styles: how a number is written in the seized data.
const (
	styleNatSpaced       = iota // 07911 123456
	styleNatCompact             // 07911123456
	styleNatDashed              // 07911-123-456
	styleNatBrackets            // (07911) 123456
	styleNatDotted              // 07911.123.456
	styleIntSpaced              // +44 7911 123456
	styleIntCompact             // +447911123456
	styleIntDashed              // +44-7911-123456
	styleIDDSpaced              // 0044 7911 123456
	styleIDDCompact             // 00447911123456
	styleBareCC                 // 447911123456 (UK only: read back with default region GB)
	styleTrunkInBrackets        // +44 (0)7911 123456
	styleNANPBrackets           // +1 (212) 345-6789
	numStyles
)

// Weights of the styles for UK numbers and for the others (which always carry a country code,
// because ingest reads numbers with default region GB).
var (
	ukStyleWeights = [numStyles]float64{
		styleNatSpaced: 0.26, styleNatCompact: 0.20, styleNatDashed: 0.04, styleNatBrackets: 0.03,
		styleNatDotted: 0.01, styleIntSpaced: 0.12, styleIntCompact: 0.16, styleIntDashed: 0.02,
		styleIDDSpaced: 0.03, styleIDDCompact: 0.05, styleBareCC: 0.06, styleTrunkInBrackets: 0.02,
	}
	intlStyleWeights = [numStyles]float64{
		styleIntSpaced: 0.35, styleIntCompact: 0.35, styleIntDashed: 0.06,
		styleIDDSpaced: 0.07, styleIDDCompact: 0.10, styleNANPBrackets: 0.07,
	}
)

// raw appends number i of the pool written in style (adapted to the country when the style
// does not apply to it).
func (p *pool) raw(dst []byte, i uint32, style int) []byte {
	rg, k := p.locate(i)
	var nb [20]byte
	return formatNumber(dst, p.plan, rg, rg.nsn(nb[:0], k), style)
}

// formatNumber appends the NSN of plan, from range rg, written in style.
func formatNumber(dst []byte, plan *numberPlan, rg *numberRange, nsn []byte, style int) []byte {
	if plan.trunk == "" && style <= styleNatDotted {
		style = styleIntSpaced // never write a foreign number without its country code
	}
	if style == styleBareCC && plan.region != "GB" {
		style = styleIntCompact
	}
	if style == styleTrunkInBrackets && plan.trunk == "" {
		style = styleIntSpaced
	}
	if style == styleNANPBrackets && plan.cc != "1" {
		style = styleIntSpaced
	}
	groups := func(dst []byte, sep byte, bracketFirst bool, trunk string) []byte {
		off := 0
		for gi, g := range rg.groups {
			if gi > 0 && sep != 0 {
				dst = append(dst, sep)
			}
			if gi == 0 && bracketFirst {
				dst = append(dst, '(')
			}
			if gi == 0 {
				dst = append(dst, trunk...)
			}
			dst = append(dst, nsn[off:off+g]...)
			if gi == 0 && bracketFirst {
				dst = append(dst, ')')
				if sep == 0 {
					dst = append(dst, ' ')
				}
			}
			off += g
		}
		return dst
	}
	switch style {
	case styleNatSpaced:
		return groups(dst, ' ', false, plan.trunk)
	case styleNatCompact:
		return groups(dst, 0, false, plan.trunk)
	case styleNatDashed:
		return groups(dst, '-', false, plan.trunk)
	case styleNatBrackets:
		return groups(dst, ' ', true, plan.trunk)
	case styleNatDotted:
		return groups(dst, '.', false, plan.trunk)
	case styleIntCompact:
		dst = append(dst, '+')
		dst = append(dst, plan.cc...)
		return append(dst, nsn...)
	case styleIntDashed:
		dst = append(dst, '+')
		dst = append(dst, plan.cc...)
		dst = append(dst, '-')
		return groups(dst, '-', false, "")
	case styleIDDSpaced:
		dst = append(dst, "00"...)
		dst = append(dst, plan.cc...)
		dst = append(dst, ' ')
		return groups(dst, ' ', false, "")
	case styleIDDCompact:
		dst = append(dst, "00"...)
		dst = append(dst, plan.cc...)
		return append(dst, nsn...)
	case styleBareCC:
		dst = append(dst, plan.cc...)
		return append(dst, nsn...)
	case styleTrunkInBrackets:
		dst = append(dst, '+')
		dst = append(dst, plan.cc...)
		dst = append(dst, " ("...)
		dst = append(dst, plan.trunk...)
		dst = append(dst, ')')
		return groups(dst, ' ', false, "")
	case styleNANPBrackets:
		// +1 (212) 345-6789
		dst = append(dst, "+1 ("...)
		dst = append(dst, nsn[:3]...)
		dst = append(dst, ") "...)
		dst = append(dst, nsn[3:6]...)
		dst = append(dst, '-')
		return append(dst, nsn[6:]...)
	}
	// styleIntSpaced
	dst = append(dst, '+')
	dst = append(dst, plan.cc...)
	dst = append(dst, ' ')
	return groups(dst, ' ', false, "")
}
