package simulate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
)

// setup generates a dataset into a temporary directory and returns it with its manifest.
func setup(t testing.TB, cfg Config) (string, *Manifest) {
	t.Helper()
	cfg.Out = t.TempDir()
	m, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return cfg.Out, m
}

// sameFigures fails unless the generator's figures and those Check measured agree exactly (up
// to float rounding).
func sameFigures(t *testing.T, gen, got *Figures) {
	t.Helper()
	gv, mv := reflect.ValueOf(*gen), reflect.ValueOf(*got)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		a, b := gv.Field(i).Interface(), mv.Field(i).Interface()
		if fa, ok := a.(float64); ok {
			if fb := b.(float64); math.Abs(fa-fb) > 1e-6*math.Max(1, math.Abs(fa)) {
				t.Errorf("%s: generated %v, measured %v", name, fa, fb)
			}
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: generated %v, measured %v", name, a, b)
		}
	}
}

// TestCalibration generates small datasets with a few seeds, reads them back, and checks that
// the measured figures are those the generator recorded and lie within tolerance of the
// preset's targets at the scale.
func TestCalibration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		scale float64
		seed  uint64
	}{{0.01, 1}, {0.01, 2}, {0.02, 3}}
	if testing.Short() {
		cases = cases[:1]
	}
	for _, c := range cases {
		t.Run(strconv.FormatFloat(c.scale, 'g', -1, 64)+"/"+strconv.FormatUint(c.seed, 10), func(t *testing.T) {
			t.Parallel()
			dir, m := setup(t, Config{Scale: c.scale, Seed: c.seed})
			if !m.Synthetic || m.Preset != "ispoof" || m.Generator != Version {
				t.Errorf("manifest header: %+v", m)
			}
			got, err := Check(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			sameFigures(t, &m.Figures, got)
			rows, err := Compare(m.Preset, m.Scale, &m.Figures, got)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if !r.OK() {
					t.Errorf("%s: measured %v, target %v (deviation %.3f > %.3f)", r.Name, r.Measured, r.Target, r.Deviation(), r.Tolerance)
				}
			}
			f := got
			switch {
			case f.PayingAccounts == 0 || float64(f.PayingAccounts) > 0.1*float64(f.Accounts):
				t.Errorf("%d of %d accounts paid", f.PayingAccounts, f.Accounts)
			case float64(f.OrgCLICalls) < 0.6*float64(f.Calls):
				t.Errorf("only %d of %d calls present an organisation's number", f.OrgCLICalls, f.Calls)
			case f.UKDefraudedShortOnly == 0 || f.UKDefraudedShortOnly > f.UKDefrauded/4:
				t.Errorf("%d of %d UK victims had no call over 60 s", f.UKDefraudedShortOnly, f.UKDefrauded)
			case f.TruthRows != f.Callees:
				t.Errorf("truth has %d rows for %d callees", f.TruthRows, f.Callees)
			case f.Reports == 0 || f.Reports >= f.UKDefrauded:
				t.Errorf("%d reports of %d UK victims", f.Reports, f.UKDefrauded)
			}
			if f.FirstCall.Before(m.PeriodStart) || !f.LastCall.Before(m.PeriodEnd) {
				t.Errorf("calls from %v to %v outside %v–%v", f.FirstCall, f.LastCall, m.PeriodStart, m.PeriodEnd)
			}
			for _, fi := range m.Files {
				if fi.BadRows != 0 {
					t.Errorf("%s: %d bad rows without --bad-rows", fi.Name, fi.BadRows)
				}
			}
		})
	}
}

// TestDeterministic checks that the same seed and scale give the same bytes and another seed
// other bytes.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	_, a := setup(t, Config{Scale: 0.01, Seed: 42})
	_, b := setup(t, Config{Scale: 0.01, Seed: 42})
	_, c := setup(t, Config{Scale: 0.01, Seed: 43})
	for i, fa := range a.Files {
		if fb := b.Files[i]; fa.SHA256 != fb.SHA256 || fa.Bytes != fb.Bytes {
			t.Errorf("%s differs between two runs with seed 42", fa.Name)
		}
		if fa.Kind == "orgs" {
			continue
		}
		if fc := c.Files[i]; fa.SHA256 == fc.SHA256 {
			t.Errorf("%s is the same with seeds 42 and 43", fa.Name)
		}
	}
	if !reflect.DeepEqual(a.Figures, b.Figures) {
		t.Error("figures differ between two runs with seed 42")
	}
}

// TestBadRows checks that --bad-rows adds exactly the malformed rows the manifest records,
// that a reader finds each for the recorded reason, and that the good rows and the truth stay
// as they were without them.
func TestBadRows(t *testing.T) {
	t.Parallel()
	_, clean := setup(t, Config{Scale: 0.01, Seed: 9})
	dir, m := setup(t, Config{Scale: 0.01, Seed: 9, BadRows: 0.02})
	got, err := Check(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.BadRows, m.Figures.BadRows) {
		t.Errorf("bad rows found %v, recorded %v", got.BadRows, m.Figures.BadRows)
	}
	calls := m.File("calls")
	for _, k := range badCalls.kinds {
		if calls.BadByReason[k] == 0 {
			t.Errorf("no %s row among %d bad calls", k, calls.BadRows)
		}
	}
	if f := float64(calls.BadRows) / float64(calls.Rows); f < 0.015 || f > 0.025 {
		t.Errorf("%d bad calls for %d good ones", calls.BadRows, calls.Rows)
	}
	var sum int64
	for _, n := range calls.BadByReason {
		sum += n
	}
	if sum != calls.BadRows {
		t.Errorf("bad calls by reason add up to %d, not %d", sum, calls.BadRows)
	}
	// Without the bad rows, the data are the clean run's.
	cf, bf := clean.Figures, m.Figures
	cf.BadRows, bf.BadRows = nil, nil
	if !reflect.DeepEqual(cf, bf) {
		t.Errorf("figures changed with bad rows:\n%+v\n%+v", cf, bf)
	}
	for _, kind := range []string{"truth"} {
		if clean.File(kind).SHA256 != m.File(kind).SHA256 {
			t.Errorf("%s changed with bad rows", kind)
		}
	}
	for _, fi := range m.Files {
		if c := clean.File(fi.Kind); c.Rows != fi.Rows {
			t.Errorf("%s: %d good rows, %d without bad rows", fi.Name, fi.Rows, c.Rows)
		}
	}
}

// TestGzip checks that calls.csv.gz holds the bytes calls.csv would, and that Check reads it.
func TestGzip(t *testing.T) {
	t.Parallel()
	plainDir, plain := setup(t, Config{Scale: 0.01, Seed: 11})
	gzDir, gz := setup(t, Config{Scale: 0.01, Seed: 11, Gzip: true})
	if gz.File("calls").Name != CallsFile+".gz" {
		t.Fatalf("calls file %q", gz.File("calls").Name)
	}
	want, err := os.ReadFile(filepath.Join(plainDir, CallsFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(gzDir, CallsFile+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("calls.csv.gz does not hold calls.csv")
	}
	if _, err := os.Stat(filepath.Join(gzDir, CallsFile)); err == nil {
		t.Error("calls.csv written as well as calls.csv.gz")
	}
	if testing.Short() {
		return
	}
	fig, err := Check(context.Background(), gzDir)
	if err != nil {
		t.Fatal(err)
	}
	if fig.Calls != plain.Figures.Calls {
		t.Errorf("read %d calls from the gzip file, %d written", fig.Calls, plain.Figures.Calls)
	}
}

// TestTruthIsNotOneRule reads a dataset back as a victim model would see it (per callee: calls,
// talk time, calls over a minute) and checks that the truth follows plausible fraud behaviour
// without being a function of any one of those: the defrauded share rises with talk time and
// with the number of calls, yet most numbers with long calls were not defrauded and some
// victims never had a call over a minute.
func TestTruthIsNotOneRule(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()
	dir, _ := setup(t, Config{Scale: 0.02, Seed: 5})
	type agg struct {
		calls, answered, long int
		talk                  int64
	}
	per := map[string]*agg{}
	cache := map[string]string{}
	readCSV(t, filepath.Join(dir, CallsFile), func(rec []string) {
		e, ok := cache[rec[5]]
		if !ok {
			n, err := phonenum.Parse(rec[5], "GB")
			if err != nil || !n.Valid {
				t.Fatalf("callee %q: %+v %v", rec[5], n, err)
			}
			e = n.E164
			cache[rec[5]] = e
		}
		a := per[e]
		if a == nil {
			a = &agg{}
			per[e] = a
		}
		d, _ := strconv.Atoi(rec[3])
		a.calls++
		a.talk += int64(d)
		if rec[6] == "answered" {
			a.answered++
		}
		if d > 60 {
			a.long++
		}
	})
	type bin struct{ n, defrauded int }
	var talkBins [4]bin // talk: none, < 1 min, 1–10 min, > 10 min
	var callBins [3]bin // answered calls: 1, 2, 3+
	var longNumbers, longDefrauded, victims, shortOnly int
	readCSV(t, filepath.Join(dir, TruthFile), func(rec []string) {
		a := per[rec[0]]
		if a == nil {
			t.Fatalf("truth row %s was never called", rec[0])
		}
		d := rec[1] == "true"
		tb := 0
		switch {
		case a.talk > 600:
			tb = 3
		case a.talk > 60:
			tb = 2
		case a.talk > 0:
			tb = 1
		}
		talkBins[tb].n++
		if a.answered > 0 {
			cb := min(a.answered, 3) - 1
			callBins[cb].n++
			if d {
				callBins[cb].defrauded++
			}
		}
		if d {
			talkBins[tb].defrauded++
			victims++
			if a.long == 0 {
				shortOnly++
			}
		}
		if a.long > 0 {
			longNumbers++
			if d {
				longDefrauded++
			}
		}
		if !d && (rec[2] != "0.00" || rec[3] != "false") {
			t.Errorf("truth row %v: loss or report without fraud", rec)
		}
	})
	rate := func(b bin) float64 { return float64(b.defrauded) / float64(max(b.n, 1)) }
	t.Logf("defrauded by talk time: none %.4f, <1 min %.4f, 1–10 min %.4f, >10 min %.4f", rate(talkBins[0]), rate(talkBins[1]), rate(talkBins[2]), rate(talkBins[3]))
	t.Logf("defrauded by answered calls: 1 %.4f, 2 %.4f, 3+ %.4f", rate(callBins[0]), rate(callBins[1]), rate(callBins[2]))
	t.Logf("%d victims, %d with no call over 60 s; %d of %d numbers with a long call defrauded", victims, shortOnly, longDefrauded, longNumbers)
	if talkBins[0].defrauded != 0 {
		t.Errorf("%d numbers defrauded without ever answering", talkBins[0].defrauded)
	}
	if !(rate(talkBins[1]) < rate(talkBins[2]) && rate(talkBins[2]) < rate(talkBins[3])) {
		t.Error("the defrauded share does not rise with talk time")
	}
	if !(rate(callBins[0]) < rate(callBins[1]) && rate(callBins[1]) < rate(callBins[2])) {
		t.Error("the defrauded share does not rise with the number of answered calls")
	}
	if rate(talkBins[3]) > 0.5 {
		t.Errorf("%.2f of numbers with over 10 minutes' talk defrauded: talk time alone nearly decides", rate(talkBins[3]))
	}
	if float64(longDefrauded) > 0.25*float64(longNumbers) {
		t.Errorf("%d of %d numbers with a long call defrauded", longDefrauded, longNumbers)
	}
	if shortOnly == 0 {
		t.Error("no victim without a call over 60 s")
	}
}

func readCSV(t *testing.T, path string, fn func([]string)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(rec)
	}
}

// TestRunInvalid checks that bad configurations are refused as invalid before anything is
// written.
func TestRunInvalid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, cfg := range []Config{
		{Preset: "nope", Scale: 0.01, Out: dir},
		{Scale: -1, Out: dir},
		{Scale: 11, Out: dir},
		{Scale: 0.00001, Out: dir},
		{Scale: 0.01, Out: dir, BadRows: 0.9},
		{Scale: 0.01, Out: dir, BadRows: math.NaN()},
		{Scale: 0.01},
	} {
		if _, err := Run(context.Background(), cfg); unspoof.ErrorCode(err) != unspoof.EINVALID {
			t.Errorf("%+v: error %v, want EINVALID", cfg, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
}

// TestRunCancel checks that a cancelled run stops and leaves no file that looks complete.
func TestRunCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	n := 0
	_, err := Run(ctx, Config{Scale: 0.05, Seed: 1, Out: dir, Progress: func(done, total int64) {
		if n++; n == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left behind: %v", names)
	}
}

// TestProgress checks that progress is reported and ends at the number of calls written.
func TestProgress(t *testing.T) {
	t.Parallel()
	var last, total, calls int64
	_, m := setup(t, Config{Scale: 0.01, Seed: 2, Progress: func(d, tot int64) {
		calls++
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		last, total = d, tot
	}})
	if calls < 2 || last != m.Figures.Calls || total != m.Figures.Calls {
		t.Errorf("%d progress calls, last %d/%d, %d calls written", calls, last, total, m.Figures.Calls)
	}
}

// TestLognormalStrata checks the stratified losses: their mean is the distribution's, and the
// top of 4,785 reported losses is about £3m.
func TestLognormalStrata(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 48, 4785} {
		s := lognormalStrata(n, 10_000, 2)
		var sum float64
		for i, v := range s {
			sum += v
			if i > 0 && v > s[i-1] {
				t.Fatalf("n=%d: strata not in decreasing order", n)
			}
		}
		if mean := sum / float64(n); math.Abs(mean-10_000) > 1 {
			t.Errorf("n=%d: mean %.2f", n, mean)
		}
	}
	if top := lognormalStrata(4785, 10_000, 2)[0]; top < 2.5e6 || top > 3.5e6 {
		t.Errorf("largest of 4,785 reported losses £%.0f", top)
	}
}

// TestPoisson checks the mean and variance of the Poisson draws on both sides of the switch of
// method.
func TestPoisson(t *testing.T) {
	t.Parallel()
	r := newRand(1, 99)
	for _, lambda := range []float64{0.01, 3, 11.9, 12, 40, 500} {
		const n = 200_000
		var s, s2 float64
		for range n {
			k := float64(poisson(r, lambda))
			s += k
			s2 += k * k
		}
		mean := s / n
		v := s2/n - mean*mean
		if math.Abs(mean-lambda) > 5*math.Sqrt(lambda/n)+1e-3 || math.Abs(v/lambda-1) > 0.05 {
			t.Errorf("λ=%v: mean %.4f, variance %.4f", lambda, mean, v)
		}
	}
}

// TestZones checks the daylight-saving rules against the time zone database when it is there.
func TestZones(t *testing.T) {
	t.Parallel()
	for z, name := range map[zone]string{zoneLondon: "Europe/London", zoneParis: "Europe/Paris",
		zoneNewYork: "America/New_York", zoneBrisbane: "Australia/Brisbane"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Skipf("no time zone database: %v", err)
		}
		for tt := time.Date(2021, 1, 1, 0, 30, 0, 0, time.UTC); tt.Year() < 2023; tt = tt.Add(37 * time.Minute) {
			_, off := tt.In(loc).Zone()
			if got := z.offset(tt.Unix()); got != int64(off) {
				t.Fatalf("%s at %v: offset %d, want %d", name, tt, got, off)
			}
		}
	}
}

// BenchmarkRun measures generation throughput (calls per second, files written) at two scales:
// at the smaller one the fixed cost of walking the year minute by minute weighs more.
func BenchmarkRun(b *testing.B) {
	for _, scale := range []float64{0.01, 0.1} {
		b.Run("scale="+strconv.FormatFloat(scale, 'g', -1, 64), func(b *testing.B) {
			dir := b.TempDir()
			var calls int64
			for b.Loop() {
				m, err := Run(context.Background(), Config{Scale: scale, Seed: 1, Out: dir})
				if err != nil {
					b.Fatal(err)
				}
				calls += m.Figures.Calls
			}
			b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
