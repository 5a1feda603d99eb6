package screen

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestVelocityEstimate: the distinct-destination estimate stays within 3 standard errors of the
// truth around each threshold's bitmap size, and the decision is exact far from the threshold.
func TestVelocityEstimate(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, threshold := range []int{5, 30, 60, 100, 300, MaxDestinations} {
		tab := newVelTable(velShards*velWays, 1<<30, threshold)
		m := 64 * tab.words
		if threshold >= m/2 {
			t.Errorf("threshold %d: only %d bits", threshold, m)
		}
		for _, n := range []int{threshold / 2, threshold, 2 * threshold} {
			var errSum float64
			const trials = 200
			for trial := range trials {
				key := uint64(trial + 1)
				var over velOver
				for range n {
					over = tab.hit(key, mix(r.Uint64()), 0)
				}
				// Every way of every set is one source; recount from the bitmaps.
				sh := &tab.shards[key&(velShards-1)]
				set := int((key >> 6) & uint64(tab.sets-1))
				for way, k := range tab.keys(sh, set) {
					if k != key {
						continue
					}
					rec := tab.rec(sh, set, way)
					set1 := 0
					for w := range tab.words {
						var u uint64
						for j := range velBuckets {
							u |= rec[tab.dests+j*tab.words+w]
						}
						if u != rec[velUnion+w] {
							t.Fatalf("union word %d: %x, buckets give %x", w, rec[velUnion+w], u)
						}
						for ; u != 0; u &= u - 1 {
							set1++
						}
					}
					if uint64(set1) != rec[velSet1] {
						t.Fatalf("%d bits set, the record says %d", set1, rec[velSet1])
					}
					errSum += distinct(set1, m) - float64(n)
				}
				switch {
				case n <= threshold/2 && over&overDests != 0:
					t.Errorf("threshold %d: %d destinations flagged", threshold, n)
				case n >= 2*threshold && over&overDests == 0:
					t.Errorf("threshold %d: %d destinations not flagged", threshold, n)
				}
				clear(sh.recs) // a fresh source next trial
			}
			tt := float64(n) / float64(m)
			sd := math.Sqrt(float64(m) * (math.Exp(tt) - tt - 1))
			if bias := errSum / trials; math.Abs(bias) > 3*sd/math.Sqrt(trials)+0.5 {
				t.Errorf("threshold %d (%d bits), %d destinations: mean error %.2f, sd %.2f", threshold, m, n, bias, sd)
			}
		}
	}
}

// TestVelocityUnion: as buckets expire, the kept union and its count stay those of the live
// buckets, and the calls those of the last minute.
func TestVelocityUnion(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, maxDests := range []int{30, 300} {
		tab := newVelTable(velShards*velWays, 1<<30, maxDests)
		const key = 77
		var nanos int64
		var times []int64
		for range 5000 {
			nanos += int64(r.IntN(int(200 * time.Millisecond)))
			tab.hit(key, r.Uint64(), nanos)
			times = append(times, nanos)
			sh := &tab.shards[key&(velShards-1)]
			set := int((key >> 6) & uint64(tab.sets-1))
			rec := tab.rec(sh, set, slices.Index(tab.keys(sh, set), key))
			set1 := 0
			for w := range tab.words {
				var u uint64
				for j := range velBuckets {
					u |= rec[tab.dests+j*tab.words+w]
				}
				if u != rec[velUnion+w] {
					t.Fatalf("at %v: union word %d is %x, the buckets give %x", time.Duration(nanos), w, rec[velUnion+w], u)
				}
				set1 += bits.OnesCount64(u)
			}
			if uint64(set1) != rec[velSet1] {
				t.Fatalf("at %v: %d bits set, the record says %d", time.Duration(nanos), set1, rec[velSet1])
			}
			// Calls in the window: those in the current 10 s bucket and the five before.
			first := (nanos/velBucketNanos - velBuckets + 1) * velBucketNanos
			want := 0
			for _, at := range times {
				if at >= first {
					want++
				}
			}
			if got := windowCalls(rec); int(got) != want {
				t.Fatalf("at %v: %d calls in the window, want %d", time.Duration(nanos), got, want)
			}
		}
	}
}
