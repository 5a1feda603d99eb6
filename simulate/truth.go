package simulate

import (
	"math"
	"sort"
)

// assignLosses decides, once every episode is known, who of the victims would report and what
// each lost. Victims are ranked by their propensity to lose (wealth, talk time, the credibility
// of the caller, the caller's skill, and noise); reporting grows with that rank; losses are the
// strata of lognormal distributions in rank order, so their mean and tail are the calibrated
// ones at any scale.
func (g *generator) assignLosses() {
	r := newRand(g.seed, streamTruth)
	var uk, foreign []int
	for i, v := range g.victims {
		if v.uk {
			uk = append(uk, i)
		} else {
			foreign = append(foreign, i)
		}
	}
	byPropensity := func(ix []int) {
		sort.Slice(ix, func(a, b int) bool {
			va, vb := &g.victims[ix[a]], &g.victims[ix[b]]
			if va.propensity != vb.propensity {
				return va.propensity > vb.propensity
			}
			return va.gid < vb.gid
		})
	}
	byPropensity(uk)
	byPropensity(foreign)

	// Who reports: p = logistic(c0 + 1.5 z), z the victim's normal score by rank, c0 such that
	// the expected number of reports is the preset's (or at most 90% of the victims).
	n := len(uk)
	want := math.Min(g.p.reports*g.cfg.Scale, 0.9*float64(n))
	z := make([]float64, n)
	for i := range z {
		z[i] = -normQuantile((float64(i) + 0.5) / float64(n))
	}
	sum := func(c0 float64) float64 {
		var s float64
		for _, zi := range z {
			s += logistic(c0 + 1.5*zi)
		}
		return s
	}
	lo, hi := -30.0, 30.0
	for range 100 {
		mid := (lo + hi) / 2
		if sum(mid) < want {
			lo = mid
		} else {
			hi = mid
		}
	}
	c0 := (lo + hi) / 2
	// Systematic sampling in a random order: the count is the expected one, give or take one.
	sys := newSystematic(r)
	var reporters, quiet []int
	for _, k := range r.Perm(n) {
		v := &g.victims[uk[k]]
		v.report = sys.trial(logistic(c0 + 1.5*z[k]))
	}
	for _, i := range uk {
		if g.victims[i].report {
			reporters = append(reporters, i)
		} else {
			quiet = append(quiet, i)
		}
	}
	assign := func(ix []int, mean, sigma float64) {
		for j, l := range lognormalStrata(len(ix), mean, sigma) {
			g.victims[ix[j]].lossPence = int64(math.Round(l * 100))
		}
	}
	assign(reporters, g.p.avgLossGBP, g.p.lossSigma)
	assign(quiet, g.p.quietLossGBP, g.p.quietLossSigma)
	assign(foreign, g.p.foreignLossGBP, g.p.foreignLossSigma)

	f := &g.fig
	var ukLoss, repLoss, maxLoss int64
	for _, v := range g.victims {
		f.Defrauded++
		if !v.uk {
			continue
		}
		f.UKDefrauded++
		ukLoss += v.lossPence
		if g.flags[v.gid]&flagLong == 0 {
			f.UKDefraudedShortOnly++
		}
		if v.report {
			f.Reports++
			repLoss += v.lossPence
			maxLoss = max(maxLoss, v.lossPence)
		}
	}
	f.UKLossGBP = float64(ukLoss) / 100
	f.ReportedLossGBP = float64(repLoss) / 100
	f.MaxLossGBP = float64(maxLoss) / 100
	if f.Reports > 0 {
		f.AvgReportedLossGBP = math.Round(f.ReportedLossGBP/float64(f.Reports)*100) / 100
	}
}

// writeTruth writes one row per callee number called: E.164, defrauded, loss, would report.
func (g *generator) writeTruth(o *outFile) {
	o.buf = append(o.buf, "callee_e164,defrauded,loss_gbp,would_report\n"...)
	for _, pl := range g.pools {
		for i := range pl.n {
			gid := pl.base + i
			fl := g.flags[gid]
			if fl&flagCalled == 0 {
				continue
			}
			o.buf = pl.e164(o.buf, i)
			if fl&flagDefrauded != 0 {
				v := &g.victims[g.victimOf[gid]]
				o.buf = append(o.buf, ",true,"...)
				o.buf = appendPence(o.buf, v.lossPence)
				if v.report {
					o.buf = append(o.buf, ",true\n"...)
				} else {
					o.buf = append(o.buf, ",false\n"...)
				}
			} else {
				o.buf = append(o.buf, ",false,0.00,false\n"...)
			}
			o.rows++
			o.flush()
		}
	}
	g.fig.TruthRows = o.rows
}
