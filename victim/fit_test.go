package victim

import (
	"cmp"
	"context"
	"encoding/csv"
	"flag"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/unspoof/unspoof/sqlite"
)

// How DefaultModel was fitted: a logistic regression of "defrauded" (the simulator's
// truth.csv) on every feature of the model, over every UK number of one simulated case,
// then rounded to one decimal. TestFitModel does it and prints the weights; it runs only when
// given a case:
//
//	./unspoof simulate --scale 0.1 --seed 1 --out s01-1
//	for k in orgs accounts payments calls; do ./unspoof --db s01-1.db ingest --kind $k s01-1/$k.csv; done
//	go test ./victim/ -run TestFitModel -v -fit.db $PWD/s01-1.db -fit.truth $PWD/s01-1/truth.csv \
//		-fit.eval $PWD/s01-2.db=$PWD/s01-2/truth.csv
//
// -fit.features fits some features only (the others weigh 0); -fit.eval lists other cases
// (DB=TRUTH, comma-separated) on which the recall at the met-2022 count of DefaultModel and
// of the fitted model are printed side by side.
var (
	fitDB       = flag.String("fit.db", "", "SQLite store of the simulated case TestFitModel fits on")
	fitTruth    = flag.String("fit.truth", "", "truth.csv of that case")
	fitFeatures = flag.String("fit.features", "", "features to fit, comma-separated (default: all)")
	fitEval     = flag.String("fit.eval", "", "cases to report recall on: DB=TRUTH, comma-separated")
	fitExport   = flag.String("fit.export", "", "also write every case's features and truth to DB.features.csv (for other models)")
)

func TestFitModel(t *testing.T) {
	if *fitDB == "" || *fitTruth == "" {
		t.Skip("no -fit.db and -fit.truth")
	}
	use := make([]bool, len(features))
	for i, f := range features {
		use[i] = *fitFeatures == "" || slices.Contains(strings.Split(*fitFeatures, ","), f.name)
	}
	r, defrauded := rankCase(t, *fitDB, *fitTruth, &DefaultModel)
	var xs [][]float64
	var ys []float64
	for i := range r.all {
		v := r.all[i].victim(r)
		x := []float64{1} // intercept
		for j, f := range features {
			if use[j] {
				x = append(x, f.value(v, r.End))
			}
		}
		xs = append(xs, x)
		ys = append(ys, b(defrauded[v.E164]))
	}
	w := fitLogistic(t, xs, ys)
	var m Model
	k := 1
	t.Logf("%d UK numbers, %d defrauded; intercept %.3f", len(xs), len(defrauded), w[0])
	for j, f := range features {
		if !use[j] {
			continue
		}
		rounded := math.Round(w[k]*10) / 10
		*f.weight(&m) = rounded
		t.Logf("%-14s %7.3f → %4.1f", f.name, w[k], rounded)
		k++
	}
	t.Logf("fitted: %+v", m)
	if m != DefaultModel {
		t.Logf("DefaultModel differs: %+v", DefaultModel)
	}
	cases := []string{*fitDB + "=" + *fitTruth}
	if *fitEval != "" {
		cases = append(cases, strings.Split(*fitEval, ",")...)
	}
	for _, c := range cases {
		db, truth, _ := strings.Cut(c, "=")
		if *fitExport != "" {
			exportFeatures(t, db, truth)
		}
		t.Logf("%s: recall DefaultModel %.4f, fitted %.4f", db, recallAtK(t, db, truth, &DefaultModel), recallAtK(t, db, truth, &m))
	}
}

// rankCase ranks the SQLite store at path with model m and reads the UK numbers truth says
// were defrauded.
func rankCase(t *testing.T, path, truthPath string, m *Model) (*Ranking, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := Rank(ctx, db, Config{Rule: RuleScore, Model: m})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	defrauded := map[string]bool{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: line %d: %v", truthPath, line, err)
		}
		if line > 1 && rec[1] == "true" && strings.HasPrefix(rec[0], "+44") {
			defrauded[rec[0]] = true
		}
	}
	return r, defrauded
}

// recallAtK is the share of the UK numbers truth says were defrauded that m's top K selects,
// as `unspoof evaluate` counts it.
func recallAtK(t *testing.T, path, truthPath string, m *Model) float64 {
	r, defrauded := rankCase(t, path, truthPath, m)
	hits := 0
	for _, v := range r.Victims {
		if defrauded[v.E164] {
			hits++
		}
	}
	return float64(hits) / float64(len(defrauded))
}

// fitLogistic fits P(y=1) = 1/(1+exp(−w·x)) by Newton's method (iteratively reweighted least
// squares), with a small ridge so that a feature that never varies cannot make it singular.
func fitLogistic(t *testing.T, xs [][]float64, ys []float64) []float64 {
	t.Helper()
	p := len(xs[0])
	w := make([]float64, p)
	for iter := 0; iter < 50; iter++ {
		grad := make([]float64, p)
		hess := make([][]float64, p)
		for j := range hess {
			hess[j] = make([]float64, p)
			hess[j][j] = 1e-6 * float64(len(xs))
			grad[j] = -1e-6 * float64(len(xs)) * w[j]
		}
		for i, x := range xs {
			var z float64
			for j := range x {
				z += w[j] * x[j]
			}
			mu := 1 / (1 + math.Exp(-z))
			for j := range x {
				grad[j] += (ys[i] - mu) * x[j]
				for k := range x {
					hess[j][k] += mu * (1 - mu) * x[j] * x[k]
				}
			}
		}
		step := solve(hess, grad)
		var size float64
		for j := range w {
			w[j] += step[j]
			size = max(size, math.Abs(step[j]))
		}
		if size < 1e-8 {
			return w
		}
	}
	t.Fatal("logistic regression did not converge in 50 steps")
	return nil
}

// solve returns x with a·x = y by Gaussian elimination with partial pivoting.
func solve(a [][]float64, y []float64) []float64 {
	n := len(y)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append(slices.Clone(a[i]), y[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for k := r + 1; k < n; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return x
}

// exportFeatures writes path.features.csv: every UK number ranked, its features, whether
// met-2022 selects it (their count is the K of the score rule) and whether it was defrauded.
func exportFeatures(t *testing.T, path, truthPath string) {
	r, defrauded := rankCase(t, path, truthPath, &DefaultModel)
	f, err := os.Create(path + ".features.csv")
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	head := []string{"e164"}
	for _, f := range features {
		head = append(head, f.name)
	}
	w.Write(append(head, "met", "defrauded"))
	for i := range r.all {
		v := r.all[i].victim(r)
		rec := []string{v.E164}
		for _, f := range features {
			rec = append(rec, strconv.FormatFloat(f.value(v, r.End), 'g', 6, 64))
		}
		w.Write(append(rec, strconv.FormatBool(r.all[i].met()), strconv.FormatBool(defrauded[v.E164])))
	}
	w.Flush()
	if err := cmp.Or(w.Error(), f.Close()); err != nil {
		t.Fatal(err)
	}
}
