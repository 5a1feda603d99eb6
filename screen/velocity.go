package screen

import (
	"math"
	"math/bits"
	"sync"
)

// The velocity rule counts, per source (a presented number, a source address), calls and
// distinct destinations in a sliding window of one minute, in fixed memory:
//
//   - A window is six buckets of ten seconds: the current bucket and the five before it, so
//     "a minute" is the last 50 to 60 seconds.
//   - Calls are counted exactly. Distinct destinations are estimated by linear counting: each
//     bucket sets one bit of m for each destination's hash, and the window's estimate is
//     -m·ln(zero bits / m) over the union of its buckets, with m the power of two of at least
//     64 bits that keeps the threshold under m/2 (64 bits for 30, 1,024 for 300): a standard
//     error of about 10 % at the threshold at worst, less for larger m. The union and its count
//     of set bits are kept up to date (made again when a bucket expires), so a call costs the
//     same whatever the bitmap's size.
//   - Sources live in a set-associative table: 64 shards, each with its own mutex, of 4-way
//     sets. A source new to a full set takes the place of the one with the fewest calls in its
//     window (a source not seen for a minute has none), the least recently seen of them: under
//     a flood of distinct sources the table forgets the quietest, never the busiest.
//   - Memory is fixed: per tracked source 8 bytes of key and (6 + 7·m/64) words of record,
//     112 bytes for a number with the default threshold, 952 for an address (Config.Velocity:
//     65,536 numbers and 4,096 addresses by default: 11 MB), allocated per shard on first use.
//     Nothing is allocated per call.
const (
	velBuckets     = 6
	velBucketNanos = 10e9
	velWays        = 4
	velShards      = 64
	velMaxWords    = 16 // at most 1,024 bits a bucket

	// record layout, in words: head (bucket number of the newest bucket), last (when last seen,
	// Unix ns), calls (six uint32, two a word), the bits set in the union, the union of the
	// buckets' bitmaps (kept up to date, so a call costs no pass over the buckets), then the
	// buckets' bitmaps.
	velHead  = 0
	velLast  = 1
	velCalls = 2
	velSet1  = 5
	velUnion = 6
)

type velShard struct {
	mu   sync.Mutex
	recs []uint64 // sets of velWays keys and velWays records of stride words, allocated on first use
	_    [32]byte // 64 bytes a shard: neighbouring shards share no cache line
}

// velTable tracks one kind of source.
type velTable struct {
	shards    [velShards]velShard
	sets      int     // per shard, a power of two
	words     int     // bitmap words a bucket
	dests     int     // offset of the buckets' bitmaps in a record
	stride    int     // words a record
	maxCalls  uint32  // over this many calls in the window: flagged
	set1Limit float64 // more union bits set than this: over the distinct-destination threshold
}

// velWordsFor returns the bitmap words a bucket needs to tell maxDests destinations apart.
func velWordsFor(maxDests int) int {
	w := 1
	for w*32 <= maxDests && w < velMaxWords {
		w *= 2
	}
	return w
}

func newVelTable(capacity, maxCalls, maxDests int) *velTable {
	w := velWordsFor(maxDests)
	m := float64(64 * w)
	sets := 1 // a power of two, so that a set is picked with a mask
	for sets*2*velShards*velWays <= capacity {
		sets *= 2
	}
	return &velTable{
		sets:     sets,
		words:    w,
		dests:    velUnion + w,
		stride:   velUnion + w + velBuckets*w,
		maxCalls: uint32(maxCalls),
		// The estimate -m·ln(zeros/m) rounds to above maxDests.
		set1Limit: m - m*math.Exp(-(float64(maxDests)+0.5)/m),
	}
}

// velOver says which thresholds a call went over.
type velOver uint8

const (
	overCalls velOver = 1 << iota
	overDests
)

// hit counts a call from source key to destination hash dest at time nanos (Unix) and says
// which thresholds the source's window is now over.
func (t *velTable) hit(key, dest uint64, nanos int64) velOver {
	if key == 0 {
		key = 1
	}
	sh := &t.shards[key&(velShards-1)]
	set := int((key >> 6) & uint64(t.sets-1))
	b := nanos / velBucketNanos

	sh.mu.Lock()
	if sh.recs == nil {
		sh.recs = make([]uint64, t.sets*t.setWords())
	}
	keys := t.keys(sh, set)
	way := -1
	for i, k := range keys {
		if k == key {
			way = i
			break
		}
	}
	if way < 0 {
		// The way to give up: the one with the fewest calls in its window (none if it has
		// expired or is empty), and of those the one seen least recently.
		vCalls := uint32(0)
		for i := range keys {
			r := t.rec(sh, set, i)
			var c uint32
			if keys[i] != 0 && b < int64(r[velHead])+velBuckets {
				c = windowCalls(r)
			}
			if way < 0 || c < vCalls || c == vCalls && r[velLast] < t.rec(sh, set, way)[velLast] {
				way, vCalls = i, c
			}
		}
		clear(t.rec(sh, set, way))
		keys[way] = key
		t.rec(sh, set, way)[velHead] = uint64(b)
	}
	r := t.rec(sh, set, way)
	r[velLast] = uint64(nanos)
	head := int64(r[velHead])
	switch {
	case b >= head+velBuckets: // the whole window has passed
		clear(r[velCalls:])
		r[velHead] = uint64(b)
	case b > head: // new buckets: empty them, and make the union again from the others
		for h := head + 1; h <= b; h++ {
			i := int(h % velBuckets)
			r[velCalls+i/2] &^= 0xffffffff << (32 * (i % 2))
			clear(r[t.dests+i*t.words : t.dests+(i+1)*t.words])
		}
		r[velHead] = uint64(b)
		set1 := 0
		for w := range t.words {
			var u uint64
			for j := range velBuckets {
				u |= r[t.dests+j*t.words+w]
			}
			r[velUnion+w] = u
			set1 += bits.OnesCount64(u)
		}
		r[velSet1] = uint64(set1)
	case b < head-velBuckets+1:
		b = head // older than the window (a clock step back): count it as now
	}
	i := int(b % velBuckets)
	if uint32(r[velCalls+i/2]>>(32*(i%2))) != math.MaxUint32 {
		r[velCalls+i/2] += 1 << (32 * (i % 2))
	}
	bit := dest % uint64(64*t.words)
	word, mask := int(bit/64), uint64(1)<<(bit%64)
	r[t.dests+i*t.words+word] |= mask
	if r[velUnion+word]&mask == 0 {
		r[velUnion+word] |= mask
		r[velSet1]++
	}

	var over velOver
	if windowCalls(r) > t.maxCalls {
		over |= overCalls
	}
	if float64(r[velSet1]) > t.set1Limit {
		over |= overDests
	}
	sh.mu.Unlock()
	return over
}

// A set is its ways' keys then their records, side by side: the keys and the first way's
// record share a cache line or two.
func (t *velTable) setWords() int { return velWays + velWays*t.stride }

// keys returns the keys of the ways of a set of shard sh (0: empty).
func (t *velTable) keys(sh *velShard, set int) []uint64 {
	o := set * t.setWords()
	return sh.recs[o : o+velWays : o+velWays]
}

// rec returns the record of a way of a set of shard sh.
func (t *velTable) rec(sh *velShard, set, way int) []uint64 {
	o := set*t.setWords() + velWays + way*t.stride
	return sh.recs[o : o+t.stride : o+t.stride]
}

// windowCalls adds up the calls of a record's buckets.
func windowCalls(r []uint64) uint32 {
	var c uint64
	for _, w := range r[velCalls:velSet1] {
		c += w&0xffffffff + w>>32
	}
	return uint32(min(c, math.MaxUint32))
}

// distinct is the linear-counting estimate of the distinct destinations whose hashes set set1
// of m bits (for tests and documentation).
func distinct(set1, m int) float64 {
	if set1 >= m {
		return math.Inf(1)
	}
	return -float64(m) * math.Log(float64(m-set1)/float64(m))
}
