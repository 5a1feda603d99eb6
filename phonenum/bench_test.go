package phonenum_test

import (
	"encoding/csv"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/unspoof/unspoof/phonenum"
)

// ftcNumbers returns the numbers of the FTC complaints file, as received.
func ftcNumbers(tb testing.TB) []string {
	f, err := os.Open("../../shared/data/ftc-dnc-complaints-2021-07-08.csv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[0])
	}
	return out
}

// simulated returns n raw numbers as a seized spoofing server would hold them and ingest reads
// them (default region GB): UK-heavy, in the simulator's mix of national and international
// styles, with US and European numbers and a few malformed rows.
func simulated(n int) []string {
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]string, 0, n)
	for range n {
		switch p := r.IntN(100); {
		case p < 62: // UK
			out = append(out, ukStyle(r, ukNumber(r)))
		case p < 82: // North America
			us := usNumber(r)
			switch r.IntN(5) {
			case 0:
				out = append(out, "+1"+us)
			case 1:
				out = append(out, "+1 ("+us[:3]+") "+us[3:6]+"-"+us[6:])
			case 2:
				out = append(out, "001"+us)
			case 3:
				out = append(out, "+1 "+us[:3]+" "+us[3:6]+" "+us[6:])
			default:
				out = append(out, "001 "+us[:3]+"-"+us[3:6]+"-"+us[6:])
			}
		case p < 98: // elsewhere, always with a country code
			c := []string{"33", "49", "34", "39", "31", "353", "61", "91", "48", "32"}[r.IntN(10)]
			nsn := randDigits(r, 9)
			if c == "49" || c == "39" {
				nsn = randDigits(r, 10)
			}
			switch r.IntN(4) {
			case 0:
				out = append(out, "+"+c+nsn)
			case 1:
				out = append(out, "+"+c+" "+format(r, nsn))
			case 2:
				out = append(out, "00"+c+nsn)
			default:
				out = append(out, "00"+c+" "+format(r, nsn))
			}
		default: // malformed, mostly as the simulator corrupts numbers
			out = append(out, corrupt(r, ukNumber(r)))
		}
	}
	return out
}

// corrupt returns a corruption of a UK number as the simulator writes malformed rows: half its
// digits, eight digits too many, two digits replaced by letters, or now and then other debris.
func corrupt(r *rand.Rand, nsn string) string {
	prefix := []string{"0", "+44"}[r.IntN(2)]
	switch r.IntN(10) {
	case 0, 1, 2:
		return prefix + nsn[:len(nsn)/2]
	case 3, 4, 5:
		return prefix + nsn + randDigits(r, 8)
	case 6, 7, 8:
		b := []byte(nsn)
		i := 2 + r.IntN(len(b)-4)
		b[i] = "OISBZl"[r.IntN(6)]
		b[i+2] = "OISBZl"[r.IntN(6)]
		return prefix + string(b)
	}
	return []string{"n/a", "", "07911 123456 ext 12", "+44 7911 12345x", "07911١23456"}[r.IntN(5)]
}

// ukStyle writes a UK NSN in one of the simulator's styles, with its weights.
func ukStyle(r *rand.Rand, nsn string) string {
	sp := nsn[:4] + " " + nsn[4:]
	if nsn[0] == '2' {
		sp = nsn[:2] + " " + nsn[2:6] + " " + nsn[6:]
	}
	switch p := r.IntN(100); {
	case p < 26:
		return "0" + sp
	case p < 46:
		return "0" + nsn
	case p < 50:
		return "0" + strings.ReplaceAll(sp, " ", "-")
	case p < 53:
		return "(0" + strings.Replace(sp, " ", ") ", 1)
	case p < 54:
		return "0" + strings.ReplaceAll(sp, " ", ".")
	case p < 66:
		return "+44 " + sp
	case p < 82:
		return "+44" + nsn
	case p < 84:
		return "+44-" + strings.ReplaceAll(sp, " ", "-")
	case p < 87:
		return "0044 " + sp
	case p < 92:
		return "0044" + nsn
	case p < 98:
		return "44" + nsn
	}
	return "+44 (0)" + sp
}

// mix is the benchmark's realistic input: simulated numbers (default region GB) and the FTC
// file's numbers (default region US), interleaved.
func mix(tb testing.TB) []input {
	var in []input
	sim := simulated(50000)
	ftc := ftcNumbers(tb)
	for i, s := range sim {
		in = append(in, input{s, "GB"})
		if i%4 == 0 && i/4 < len(ftc) {
			in = append(in, input{ftc[i/4], "US"})
		}
	}
	return in
}

// libParse is what Parse did before issue 4: the library, field by field.
func libParse(raw, region string) (phonenum.Number, error) {
	pn, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return phonenum.Number{}, err
	}
	n := phonenum.Number{
		E164:        phonenumbers.Format(pn, phonenumbers.E164),
		CountryCode: int(pn.GetCountryCode()),
		Region:      phonenumbers.GetRegionCodeForNumber(pn),
	}
	n.Valid = phonenumbers.GetNumberType(pn) != phonenumbers.UNKNOWN
	_ = phonenumbers.IsPossibleNumberWithReason(pn)
	n.Fictional = phonenum.IsFictional(n.E164)
	return n, nil
}

// BenchmarkParse runs the library, Parse and ParseCompact side by side on the realistic mix
// (input=mix) and on the part of it the fast path answers alone (input=fastpath); ns/op is per
// number. Compare with
//
//	go test -run XXX -bench BenchmarkParse -benchmem -count 5 ./phonenum/
func BenchmarkParse(b *testing.B) {
	all := mix(b)
	var fast []input
	for _, x := range all {
		_, fb0 := phonenum.Stats()
		phonenum.ParseCompact(x.raw, x.region)
		if _, fb1 := phonenum.Stats(); fb1 == fb0 {
			fast = append(fast, x)
		}
	}
	for _, set := range []struct {
		name string
		in   []input
	}{{"mix", all}, {"fastpath", fast}} {
		in := set.in
		b.Run("input="+set.name+"/impl=nyaruka", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				x := in[i%len(in)]
				libParse(x.raw, x.region)
			}
		})
		b.Run("input="+set.name+"/impl=Parse", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				x := in[i%len(in)]
				phonenum.Parse(x.raw, x.region)
			}
		})
		b.Run("input="+set.name+"/impl=ParseCompact", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				x := in[i%len(in)]
				phonenum.ParseCompact(x.raw, x.region)
			}
		})
	}
}

// BenchmarkSpeedup measures the library, Parse and ParseCompact interleaved, a batch of the mix
// each in turn (about a millisecond each: 16 numbers for the library, 2048 for the others), in
// rotating order, so that load from other processes on a shared machine weighs on all three
// alike. Each runs on its own goroutine, so that the garbage collector's assist debt the library
// runs up is not paid by Parse's one small allocation. Each round starts at a different place in
// the mix, so the library's short batches sample all of it. It reports each one's ns per number
// and Parse's speed-up over the library. Run it with
//
//	go test -run XXX -bench BenchmarkSpeedup -count 5 ./phonenum/
func BenchmarkSpeedup(b *testing.B) {
	in := mix(b)
	batch := [3]int{16, 2048, 2048}
	impls := [3]func(raw, region string){
		func(raw, region string) { libParse(raw, region) },
		func(raw, region string) { phonenum.Parse(raw, region) },
		func(raw, region string) { phonenum.ParseCompact(raw, region) },
	}
	var spent [3]time.Duration
	var count [3]int
	var work [3]chan int
	done := make(chan struct{})
	for k := range impls {
		work[k] = make(chan int)
		go func() {
			for i := range work[k] {
				t0 := time.Now()
				for m := range batch[k] {
					x := in[(i+m)%len(in)]
					impls[k](x.raw, x.region)
				}
				spent[k] += time.Since(t0)
				count[k] += batch[k]
				done <- struct{}{}
			}
		}()
	}
	round := 0
	for b.Loop() {
		for j := range 3 {
			work[(round+j)%3] <- round * 97 % len(in)
			<-done
		}
		round++
	}
	for k := range work {
		close(work[k])
	}
	per := func(k int) float64 { return float64(spent[k].Nanoseconds()) / float64(count[k]) }
	b.ReportMetric(per(0), "nyaruka-ns/number")
	b.ReportMetric(per(1), "Parse-ns/number")
	b.ReportMetric(per(2), "ParseCompact-ns/number")
	b.ReportMetric(per(0)/per(1), "speedup")
	b.ReportMetric(0, "ns/op")
}

// TestFallbackRate reports how often the fast path hands over to the library on the FTC file
// and on the simulated mix. It is not parallel, so the counters are its own.
func TestFallbackRate(t *testing.T) {
	rate := func(name string, in []input) {
		f0, b0 := phonenum.Stats()
		for _, x := range in {
			phonenum.Parse(x.raw, x.region)
		}
		f1, b1 := phonenum.Stats()
		fast, fallback := f1-f0, b1-b0
		t.Logf("%s: %d numbers, %d fast, %d fallback (%.3f%%)", name, fast+fallback, fast, fallback,
			100*float64(fallback)/float64(fast+fallback))
		if float64(fallback) > 0.02*float64(fast+fallback) {
			t.Errorf("%s: fallback rate over 2%%", name)
		}
	}
	var ftc []input
	for _, s := range ftcNumbers(t) {
		ftc = append(ftc, input{s, "US"})
	}
	rate("FTC file (US)", ftc)
	var sim []input
	for _, s := range simulated(50000) {
		sim = append(sim, input{s, "GB"})
	}
	rate("simulated (GB)", sim)
}

// TestAllocs pins the allocation figures: none for ParseCompact on the fast path, and for Parse
// only its E164 string (none when the input already is that string).
func TestAllocs(t *testing.T) {
	for _, x := range []input{{"07911 123456", "GB"}, {"+44 20 7946 0123", "GB"}, {"001 212 555 0100", "GB"},
		{"(202) 967-1717", "US"}, {"0033 6 12 34 56 78", "GB"}, {"0791", "GB"}, {"n/a", "GB"}} {
		if n := testing.AllocsPerRun(100, func() { phonenum.ParseCompact(x.raw, x.region) }); n != 0 {
			t.Errorf("ParseCompact(%q): %v allocations", x.raw, n)
		}
		if n := testing.AllocsPerRun(100, func() { phonenum.Parse(x.raw, x.region) }); n > 1 {
			t.Errorf("Parse(%q): %v allocations", x.raw, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { phonenum.Parse("+447911123456", "GB") }); n != 0 {
		t.Errorf("Parse of an E.164 string: %v allocations", n)
	}
}
