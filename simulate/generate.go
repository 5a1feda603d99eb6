package simulate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The behaviour model. See the package documentation for what each number means.
const (
	pAnswer       = 0.45 // an attempt is picked up
	pRetry        = 0.35 // after no answer the caller tries the number again later
	maxAttempts   = 4
	pListen       = 0.06 // an unconvinced callee still stays on the line over a minute
	pRetryHangup  = 0.12 // after a hang-up the caller tries again another day
	pRetryDoubt   = 0.30 // after a convinced callee sees through it, the caller tries once more
	pMore         = 0.30 // after a payment the caller comes back for more
	maxFollowUps  = 6
	pFollowAnswer = 0.85
	pFollowLong   = 0.75 // a follow-up with a convinced callee lasts over a minute

	// Logit of a callee being convinced ("engaged") when they answer.
	engB0, engSusceptibility, engCredibility, engSkill, engPrimed = -3.33, 0.9, 0.6, 0.4, 0.35

	// Logit of a convinced callee paying during a conversation over a minute: the longer the
	// call and the further the scam has gone (stage: such conversations before it), the likelier.
	frB0, frTalk, frStage, frCredibility, frSkill, frSusceptibility, frPrimed = -8.55, 0.8, 1.0, 0.9, 0.45, 0.6, 0.3

	// Logit of a convinced callee seeing through the scam after a call that took no money: the
	// less susceptible the callee and the less skilled the caller, the sooner; the deeper in
	// (stage), the later.
	dB0, dSusceptibility, dSkill, dStage = 1.5, 1.0, 0.45, 0.5

	// Logit of a callee who was never convinced on a call being defrauded anyway (the caller
	// went on by text or on another line, or the victim rang a number they were given).
	// Only a callee who heard the pitch (stayed on the line pitchHeard seconds) can be.
	shB0, shAnswered, shCredibility, shSusceptibility, shPrimed, shTalk = -7.8, 0.6, 0.6, 0.5, 0.4, 0.3
	pitchHeard                                                          = 20

	randomCLICredibility = 0.2 // credibility of a caller presenting a random number
)

// Salts of the latent traits of callee numbers.
const (
	saltSusceptibility = 1
	saltWealth         = 2
)

// Flags of a callee number.
const (
	flagCalled     = 1 << iota
	flagLong       // at least one call over 60 s
	flagIdentified // such a call from an identified UK user
	flagDefrauded
)

// Account groups for the destinations: the UK, North America, elsewhere.
const (
	groupUK = iota
	groupNA
	groupOther
	numGroups
)

// Call statuses.
const (
	stAnswered = iota
	stNoAnswer
	stBusy
	stFailed
)

var statusNames = [...]string{"answered", "no-answer", "busy", "failed"}

const day = 86400

// call is one call, planned or emitted.
type call struct {
	due    int64 // Unix seconds it is due (planned) or placed (emitted)
	seq    uint64
	gid    uint32 // callee
	acct   int32  // index into generator.accts
	org    int16  // index into generator.orgNums; −1 presents a random number
	c      uint8  // destination country (index into generator.plans)
	status uint8
	dur    int32
}

// callHeap is a min-heap of planned calls by (due, seq).
type callHeap []call

func (h callHeap) less(i, j int) bool {
	return h[i].due < h[j].due || h[i].due == h[j].due && h[i].seq < h[j].seq
}

func (h *callHeap) push(c call) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *callHeap) pop() call {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	return top
}

// victim is a callee number defrauded at least once.
type victim struct {
	gid        uint32
	uk         bool
	propensity float64 // how much they stand to lose, relative to other victims
	episodes   int
	lossPence  int64
	report     bool
}

// generator holds the state of one run.
type generator struct {
	p     *preset
	cfg   Config
	seed  uint64
	start int64
	end   int64

	plans   []*numberPlan // destinations, in p.dest order
	pools   []*pool
	groupOf []int
	norm    []float64 // calls per minute per unit of rhythm, per destination

	orgs    []*org
	orgNums []orgNumber
	ukOrgs  *alias // over orgs of the UK, by popularity
	usOrgs  *alias
	ukOrgIx []int
	usOrgIx []int

	accts  []*account
	pays   []payment
	payers []int32

	ukStyles, intlStyles *alias

	flags    []uint8 // per callee id
	answered []uint8 // answered calls so far, per callee id (saturating)
	victims  []victim
	victimOf map[uint32]int32

	// The accounts active on the current day, by destination group, and in trial.
	groupAlias [numGroups]*alias
	groupAccts [numGroups][]int32
	trials     []int32
	allAlias   *alias // every payer, for days nobody paid for
	identShare float64

	fraudUK, fraudOther systematic
	heaps               []callHeap // planned calls, per destination
	seq                 uint64
	rng                 *rand.Rand
	episode             []call // scratch
	minuteCalls         []call // scratch

	fig     Figures
	callID  int64
	office  int64
	weekend int64
}

func newGenerator(p *preset, cfg Config) *generator {
	g := &generator{
		p: p, cfg: cfg, seed: cfg.Seed,
		start: p.start.Unix(), end: p.end.Unix(),
		victimOf: map[uint32]int32{},
	}
	byRegion := map[string]*numberPlan{}
	for _, pl := range victimPlans() {
		byRegion[pl.region] = pl
	}
	r := newRand(g.seed, streamOrgs)
	var base uint32
	for _, d := range p.dest {
		pl := byRegion[d.region]
		g.plans = append(g.plans, pl)
		n := uint32(math.Max(1, math.Round(p.calls*cfg.Scale*d.share*p.poolPerCall)))
		g.pools = append(g.pools, newPool(r, pl, base, n, p.hotShare))
		base += n
		switch d.region {
		case "GB":
			g.groupOf = append(g.groupOf, groupUK)
		case "US", "CA":
			g.groupOf = append(g.groupOf, groupNA)
		default:
			g.groupOf = append(g.groupOf, groupOther)
		}
	}
	g.flags = make([]uint8, base)
	g.answered = make([]uint8, base)
	g.heaps = make([]callHeap, len(g.plans))
	g.norm = p.rateNorms(cfg.Scale)

	g.orgs, g.orgNums = buildOrgs(r, byRegion["GB"], byRegion["US"])
	var ukW, usW []float64
	for i, o := range g.orgs {
		if o.def.country == "GB" {
			ukW, g.ukOrgIx = append(ukW, o.def.weight), append(g.ukOrgIx, i)
		} else {
			usW, g.usOrgIx = append(usW, o.def.weight), append(g.usOrgIx, i)
		}
	}
	g.ukOrgs, g.usOrgs = newAlias(ukW), newAlias(usW)
	var ukSW, inSW []float64
	for s := range numStyles {
		ukSW = append(ukSW, ukStyleWeights[s])
		inSW = append(inSW, intlStyleWeights[s])
	}
	g.ukStyles, g.intlStyles = newAlias(ukSW), newAlias(inSW)

	ra := newRand(g.seed, streamAccounts)
	n := int(math.Max(1, math.Round(p.accounts*cfg.Scale)))
	g.accts, g.pays = buildAccounts(ra, n, g.start, g.end, int64(math.Round(p.paidGBP*cfg.Scale*100)), g.orgs)
	var pw []float64
	for i, a := range g.accts {
		if a.plan >= 0 {
			g.payers = append(g.payers, int32(i))
			pw = append(pw, a.weight)
		}
	}
	if len(pw) > 0 {
		g.allAlias = newAlias(pw)
	}
	g.identShare = g.calibrateIdentified()

	g.rng = newRand(g.seed, streamCalls)
	g.fraudUK = newSystematic(g.rng)
	g.fraudOther = newSystematic(g.rng)
	return g
}

// calibrateIdentified returns the share of new UK targets to give identified users on the days
// any of them is active, so that over the period their share is the preset's.
func (g *generator) calibrateIdentified() float64 {
	var all, covered float64
	for d := g.start; d < g.end; d += day {
		w := 1.0
		if wd := (floorDiv(d, day) + 4) % 7; wd == 0 || wd == 6 {
			w = 0.35
		}
		all += w
		for _, i := range g.payers {
			if a := g.accts[i]; a.identified && a.activeDuring(d, d+day) {
				covered += w
				break
			}
		}
	}
	if covered == 0 {
		return 0
	}
	return math.Min(0.95, g.p.identifiedShare*all/covered)
}

// activeDuring reports whether the account paid for any time in [from, to).
func (a *account) activeDuring(from, to int64) bool {
	for _, p := range a.periods {
		if p[0] < to && p[1] > from {
			return true
		}
	}
	return false
}

// affinity is how much an account from country calls destinations of group, relative to others.
func affinity(country string, group int) float64 {
	switch {
	case country == "GB":
		return [numGroups]float64{1, 0.10, 0.20}[group]
	case country == "US" || country == "CA":
		return [numGroups]float64{0.30, 1, 0.15}[group]
	}
	return [numGroups]float64{0.5, 0.4, 1}[group]
}

// newDay rebuilds the samplers of the accounts active on the day starting at t.
func (g *generator) newDay(t int64) {
	var weights [numGroups][]float64
	for k := range numGroups {
		g.groupAccts[k] = g.groupAccts[k][:0]
	}
	var identW, otherW float64
	for _, i := range g.payers {
		a := g.accts[i]
		if !a.activeDuring(t, t+day) {
			continue
		}
		for k := range numGroups {
			w := a.weight * affinity(a.country, k)
			g.groupAccts[k] = append(g.groupAccts[k], i)
			weights[k] = append(weights[k], w)
			if k == groupUK {
				if a.identified {
					identW += w
				} else {
					otherW += w
				}
			}
		}
	}
	// Identified users get their calibrated share of the UK targets.
	if identW > 0 && otherW > 0 {
		f := g.identShare / (1 - g.identShare) * otherW / identW
		for j, i := range g.groupAccts[groupUK] {
			if g.accts[i].identified {
				weights[groupUK][j] *= f
			}
		}
	}
	for k := range numGroups {
		g.groupAlias[k] = nil
		if len(weights[k]) > 0 {
			g.groupAlias[k] = newAlias(weights[k])
		}
	}
	g.trials = g.trials[:0]
	for i, a := range g.accts {
		if a.trialEnd > t && a.signup < t+day {
			g.trials = append(g.trials, int32(i))
		}
	}
}

// pickAccount chooses the account that starts an episode to destination c.
func (g *generator) pickAccount(c int) int32 {
	r := g.rng
	if len(g.trials) > 0 && r.Float64() < g.p.trialShare {
		return g.trials[r.IntN(len(g.trials))]
	}
	k := g.groupOf[c]
	switch {
	case g.groupAlias[k] != nil:
		return g.groupAccts[k][g.groupAlias[k].draw(r)]
	case g.allAlias != nil:
		return g.payers[g.allAlias.draw(r)]
	}
	return int32(r.IntN(len(g.accts)))
}

// pickOrg chooses the number an episode presents, and its credibility.
func (g *generator) pickOrg(c int, a *account) (int16, float64) {
	r := g.rng
	region := g.plans[c].region
	if r.Float64() < a.randomCLI {
		return -1, randomCLICredibility
	}
	var o int
	switch {
	case region == "GB":
		o = a.favUK
		if o < 0 || r.Float64() < 0.3 {
			o = g.ukOrgIx[g.ukOrgs.draw(r)]
		}
	case region == "US" || region == "CA" && r.Float64() < 0.5:
		o = a.favUS
		if o < 0 || r.Float64() < 0.3 {
			o = g.usOrgIx[g.usOrgs.draw(r)]
		}
	default:
		return -1, randomCLICredibility
	}
	nums := g.orgs[o].numbers
	return int16(nums[r.IntN(len(nums))]), g.orgs[o].cred
}

// later moves t into the destination's calling hours (08:00–21:00 local): a call planned for the
// night is made the next morning.
func (g *generator) later(c int, t int64) int64 {
	z := g.plans[c].zone
	lt := z.local(t)
	sec := lt - floorDiv(lt, day)*day
	switch {
	case sec < 8*3600:
		return t - sec + 9*3600 + g.rng.Int64N(3*3600)
	case sec >= 21*3600:
		return t - sec + day + 9*3600 + g.rng.Int64N(3*3600)
	}
	return t
}

// clamp returns v within [lo, hi], rounded.
func clamp(v float64, lo, hi int32) int32 {
	return int32(math.Max(float64(lo), math.Min(float64(hi), math.Round(v))))
}

// startEpisode plans an episode to destination c starting at t: a caller's attempts on one
// number, and, when the callee is convinced, the calls that follow. It returns the first call;
// the others go to the destination's heap. Whether the callee is defrauded is decided here.
func (g *generator) startEpisode(c int, t int64) call {
	r := g.rng
	ai := g.pickAccount(c)
	a := g.accts[ai]
	pl := g.pools[c]
	gid := pl.base + pl.draw(r, g.p.hotP)
	org, cred := g.pickOrg(c, a)
	s := latent(g.seed, saltSusceptibility, gid)
	primed := float64(min(g.answered[gid], 3))

	ep := g.episode[:0]
	add := func(t int64, st uint8, d int32) bool {
		if t >= g.end {
			return false
		}
		g.seq++
		ep = append(ep, call{due: t, seq: g.seq, gid: gid, acct: ai, org: org, c: uint8(c), status: st, dur: d})
		return true
	}
	noAnswer := func() uint8 {
		switch u := r.Float64(); {
		case u < 0.70:
			return stNoAnswer
		case u < 0.86:
			return stBusy
		}
		return stFailed
	}
	engaged := false
	payments := 0 // times the callee paid in this episode
	tt := t
attempts:
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if r.Float64() >= pAnswer {
			if !add(tt, noAnswer(), 0) {
				break
			}
			if r.Float64() < pRetry {
				tt = g.later(c, tt+180+int64(lognormal(r, 2400, 0.8)))
				continue
			}
			break
		}
		if r.Float64() < logistic(engB0+engSusceptibility*s+engCredibility*cred+engSkill*a.skill+engPrimed*primed) {
			engaged = true
			d := clamp(lognormal(r, 420, 0.7), 61, 5400)
			if !add(tt, stAnswered, d) {
				break
			}
			// The scam runs its course: a conversation over a minute may end in a payment; short
			// of that, after any call, the callee may see through it; otherwise the caller calls
			// back and the scam goes a stage further.
			for f, stage := 0, 0; ; f++ {
				paid := false
				if d > 60 {
					p := logistic(frB0 + frTalk*math.Log1p(float64(d)/60) + frStage*float64(stage) + frCredibility*cred +
						frSkill*a.skill + frSusceptibility*s + frPrimed*primed)
					if paid = r.Float64() < p; paid {
						payments++
						if r.Float64() >= pMore {
							break attempts // took the money and went
						}
					}
				}
				if !paid && r.Float64() < logistic(dB0-dSusceptibility*s-dSkill*a.skill-dStage*float64(stage)) {
					// Sees through it; the caller may try once more, to no avail.
					if r.Float64() < pRetryDoubt {
						tt = g.later(c, tt+int64(d)+3600+r.Int64N(day))
						if r.Float64() < pAnswer {
							add(tt, stAnswered, 2+r.Int32N(20))
						} else {
							add(tt, noAnswer(), 0)
						}
					}
					break attempts
				}
				if d > 60 {
					stage++
				}
				if f == maxFollowUps {
					break
				}
				if r.Float64() < 0.45 {
					tt += int64(d) + 300 + r.Int64N(2100) // "I'm transferring you to our security team"
				} else {
					tt += 12*3600 + r.Int64N(48*3600) // "we'll call you tomorrow to confirm"
				}
				tt = g.later(c, tt)
				d = 0
				st := uint8(stAnswered)
				switch {
				case r.Float64() >= pFollowAnswer:
					st = noAnswer()
				case r.Float64() < pFollowLong:
					d = clamp(lognormal(r, 600, 0.8), 61, 7200)
				default:
					d = 20 + r.Int32N(36) // "are you at home?"
				}
				if !add(tt, st, d) {
					break attempts
				}
			}
			break
		}
		// Not convinced: hangs up quickly, or hears the caller out.
		var d int32
		if r.Float64() < pListen {
			d = clamp(lognormal(r, 110, 0.5), 61, 900)
		} else {
			d = clamp(lognormal(r, 12, 0.8), 1, 59)
		}
		if !add(tt, stAnswered, d) {
			break
		}
		if r.Float64() < pRetryHangup {
			tt = g.later(c, tt+day+r.Int64N(2*day))
			continue
		}
		break
	}
	g.episode = ep
	// What the episode did to the callee.
	var talk float64
	var nAns int
	var longest int32
	for _, e := range ep {
		if e.status == stAnswered {
			nAns++
			talk += float64(e.dur)
			longest = max(longest, e.dur)
		}
	}
	g.answered[gid] = uint8(min(int(g.answered[gid])+nAns, 255))
	talkMin := math.Log1p(talk / 60)
	uk := g.groupOf[c] == groupUK
	sys := &g.fraudOther
	if uk {
		sys = &g.fraudUK
	}
	if !engaged && longest >= pitchHeard && sys.trial(logistic(shB0+shAnswered*float64(nAns-1)+shCredibility*cred+
		shSusceptibility*s+shPrimed*primed+shTalk*talkMin)) {
		payments = 1 // persuaded after the call, by text or on another line
	}
	if payments > 0 {
		prop := 0.7*latent(g.seed, saltWealth, gid) + 0.35*talkMin + 0.3*cred + 0.25*a.skill + 0.5*r.NormFloat64() + 0.3*float64(payments-1)
		if vi, ok := g.victimOf[gid]; ok {
			v := &g.victims[vi]
			v.propensity = math.Max(v.propensity, prop) + 0.3
			v.episodes += payments
		} else {
			g.victimOf[gid] = int32(len(g.victims))
			g.victims = append(g.victims, victim{gid: gid, uk: uk, propensity: prop, episodes: payments})
			g.flags[gid] |= flagDefrauded
		}
	}
	for _, e := range ep[1:] {
		g.heaps[c].push(e)
	}
	return ep[0]
}

// run writes the dataset.
func (g *generator) run(ctx context.Context) (m *Manifest, err error) {
	var files []*outFile
	defer func() {
		if err != nil {
			for _, f := range files {
				f.abort()
			}
		}
	}()
	create := func(name string) (*outFile, error) {
		f, err := createOut(g.cfg.Out, name, false)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	maxAcct := int32(len(g.accts))

	orgsF, err := create(OrgsFile)
	if err != nil {
		return nil, err
	}
	g.writeOrgs(orgsF, newInjector(g.seed, 1, g.cfg.BadRows, badOrgs, maxAcct))
	accF, err := create(AccountsFile)
	if err != nil {
		return nil, err
	}
	g.writeAccounts(accF, newInjector(g.seed, 2, g.cfg.BadRows, badAccounts, maxAcct))
	payF, err := create(PaymentsFile)
	if err != nil {
		return nil, err
	}
	g.writePayments(payF, newInjector(g.seed, 3, g.cfg.BadRows, badPayments, maxAcct))

	callsName := CallsFile
	if g.cfg.Gzip {
		callsName += ".gz"
	}
	callsF, err := createOut(g.cfg.Out, callsName, g.cfg.Gzip)
	if err != nil {
		return nil, err
	}
	files = append(files, callsF)
	if err := g.writeCalls(ctx, callsF, newInjector(g.seed, 4, g.cfg.BadRows, badCalls, maxAcct)); err != nil {
		return nil, err
	}

	g.assignLosses()
	truthF, err := create(TruthFile)
	if err != nil {
		return nil, err
	}
	g.writeTruth(truthF)

	m = &Manifest{
		Preset: g.p.name, Seed: g.seed, Scale: g.cfg.Scale, Synthetic: true, Generator: Version,
		Region: "GB", PeriodStart: g.p.start, PeriodEnd: g.p.end, BadRows: g.cfg.BadRows,
	}
	kinds := map[*outFile]string{orgsF: "orgs", accF: "accounts", payF: "payments", callsF: "calls", truthF: "truth"}
	g.fig.BadRows = map[string]map[string]int64{}
	for _, f := range files {
		if err := f.commit(); err != nil {
			return nil, err
		}
		fi := f.info(kinds[f])
		m.Files = append(m.Files, fi)
		if fi.BadRows > 0 {
			g.fig.BadRows[fi.Name] = fi.BadByReason
		}
	}
	if len(g.fig.BadRows) == 0 {
		g.fig.BadRows = nil
	}
	m.Figures = g.fig
	return m, nil
}

// appendPadded appends prefix and n zero-padded to width digits.
func appendPadded(dst []byte, prefix byte, n int64, width int) []byte {
	dst = append(dst, prefix)
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func appendAccountID(dst []byte, num int32) []byte { return appendPadded(dst, 'U', int64(num), 7) }

func appendTime(dst []byte, t int64) []byte {
	return time.Unix(t, 0).UTC().AppendFormat(dst, time.RFC3339)
}

func appendPence(dst []byte, p int64) []byte {
	dst = strconv.AppendInt(dst, p/100, 10)
	dst = append(dst, '.')
	c := p % 100
	return append(dst, byte('0'+c/10), byte('0'+c%10))
}

func (g *generator) writeOrgs(o *outFile, in *injector) {
	o.buf = append(o.buf, "org_id,name,sector,country,number\n"...)
	for _, n := range g.orgNums {
		ob := g.orgs[n.org]
		start := len(o.buf)
		o.buf = fmt.Appendf(o.buf, "%s,%s,%s,%s,%s\n", ob.id, ob.def.name, ob.def.sector, ob.def.country, n.fileRaw)
		o.rows++
		in.after(o, start, func(r *rand.Rand) []byte { return impossibleNumber(r, n.plan, []byte(n.nsn)) })
		o.flush()
	}
}

func (g *generator) writeAccounts(o *outFile, in *injector) {
	o.buf = append(o.buf, "account_id,username,email,country,signup_at,ips\n"...)
	for _, a := range g.accts {
		start := len(o.buf)
		o.buf = appendAccountID(o.buf, a.num)
		o.buf = append(o.buf, ',')
		o.buf = append(o.buf, a.username...)
		o.buf = append(o.buf, ',')
		o.buf = append(o.buf, a.email...)
		o.buf = append(o.buf, ',')
		o.buf = append(o.buf, a.country...)
		o.buf = append(o.buf, ',')
		o.buf = appendTime(o.buf, a.signup)
		o.buf = append(o.buf, ',')
		o.buf = append(o.buf, a.ips...)
		o.buf = append(o.buf, '\n')
		o.rows++
		in.after(o, start, nil)
		o.flush()
	}
	g.fig.Accounts = int64(len(g.accts))
}

func (g *generator) writePayments(o *outFile, in *injector) {
	o.buf = append(o.buf, "payment_id,account_id,paid_at,amount,currency,method\n"...)
	paying := map[int32]bool{}
	for i, p := range g.pays {
		start := len(o.buf)
		o.buf = appendPadded(o.buf, 'P', int64(i+1), 7)
		o.buf = append(o.buf, ',')
		o.buf = appendAccountID(o.buf, p.acct.num)
		o.buf = append(o.buf, ',')
		o.buf = appendTime(o.buf, p.at)
		o.buf = append(o.buf, ',')
		o.buf = appendPence(o.buf, p.pence)
		o.buf = append(o.buf, ",GBP,"...)
		o.buf = append(o.buf, p.method...)
		o.buf = append(o.buf, '\n')
		o.rows++
		in.after(o, start, nil)
		o.flush()
		paying[p.acct.num] = true
		g.fig.PaidGBP += float64(p.pence) / 100
	}
	g.fig.Payments = int64(len(g.pays))
	g.fig.PayingAccounts = int64(len(paying))
	g.fig.PaidGBP = math.Round(g.fig.PaidGBP*100) / 100
}

// writeCalls streams the calls, minute by minute, in time order.
func (g *generator) writeCalls(ctx context.Context, o *outFile, in *injector) error {
	o.buf = append(o.buf, "call_id,account_id,started_at,duration_s,cli,callee,status\n"...)
	r := g.rng
	expected := int64(g.p.calls * g.cfg.Scale)
	var shapes [numZones]float64
	var prefix []byte
	g.fig.Destinations = map[string]int64{}
	destCalls := make([]int64, len(g.plans))
	for t0 := g.start; t0 < g.end; t0 += 60 {
		if (t0-g.start)%day == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			g.newDay(t0)
		}
		prog := float64(t0-g.start) / float64(g.end-g.start)
		for z := range numZones {
			shapes[z] = rhythm(z.local(t0), prog)
		}
		batch := g.minuteCalls[:0]
		for c, pl := range g.plans {
			k := poisson(r, g.norm[c]*shapes[pl.zone])
			h := &g.heaps[c]
			for range k {
				if len(*h) > 0 && (*h)[0].due < t0+60 {
					batch = append(batch, h.pop())
				} else {
					batch = append(batch, g.startEpisode(c, t0))
				}
			}
		}
		if t0+60 >= g.end { // the last minute: what is still planned is placed now
			for c := range g.heaps {
				for len(g.heaps[c]) > 0 {
					batch = append(batch, g.heaps[c].pop())
				}
			}
		}
		if len(batch) == 0 {
			g.minuteCalls = batch
			continue
		}
		for i := range batch {
			batch[i].due = t0 + r.Int64N(60)
		}
		// Insertion sort by second: the batch is small and mostly random.
		for i := 1; i < len(batch); i++ {
			for j := i; j > 0 && batch[j].due < batch[j-1].due; j-- {
				batch[j], batch[j-1] = batch[j-1], batch[j]
			}
		}
		prefix = time.Unix(t0, 0).UTC().AppendFormat(prefix[:0], "2006-01-02T15:04:")
		for i := range batch {
			g.emit(o, in, &batch[i], prefix, t0)
			destCalls[batch[i].c]++
		}
		g.minuteCalls = batch
		o.flush()
		if g.cfg.Progress != nil && g.callID>>16 != (g.callID-int64(len(batch)))>>16 {
			g.cfg.Progress(g.callID, expected)
		}
	}
	for c, pl := range g.plans {
		g.fig.Destinations[pl.region] += destCalls[c]
	}
	if g.cfg.Progress != nil {
		g.cfg.Progress(g.callID, g.callID)
	}
	f := &g.fig
	f.Calls = g.callID
	f.CallsPerMinute = float64(f.Calls) / g.p.minutes()
	if f.Calls > 0 {
		f.OfficeHoursShare = float64(g.office) / float64(f.Calls)
		f.WeekendShare = float64(g.weekend) / float64(f.Calls)
	}
	return nil
}

// emit writes one call and counts it.
func (g *generator) emit(o *outFile, in *injector, c *call, prefix []byte, t0 int64) {
	r := g.rng
	g.callID++
	a := g.accts[c.acct]
	pl := g.pools[c.c]
	plan := g.plans[c.c]
	start := len(o.buf)
	b := appendPadded(o.buf, 'C', g.callID, 9)
	b = append(b, ',')
	b = appendAccountID(b, a.num)
	b = append(b, ',')
	b = append(b, prefix...)
	sec := c.due - t0
	b = append(b, byte('0'+sec/10), byte('0'+sec%10), 'Z', ',')
	b = strconv.AppendInt(b, int64(c.dur), 10)
	b = append(b, ',')
	// The number presented.
	if c.org >= 0 {
		n := &g.orgNums[c.org]
		v := 0
		switch u := r.Float64(); {
		case n.plan.region == "GB" && u < 0.25:
			v = 1
		case n.plan.region == "GB" && u < 0.40, n.plan.region != "GB" && u < 0.2:
			v = 2
		}
		b = append(b, n.cli[v]...)
	} else {
		rg := plan.ranges[0]
		b = append(b, '+')
		b = append(b, plan.cc...)
		b = rg.nsn(b, r.Uint64N(rg.size))
	}
	b = append(b, ',')
	// The number called, as the caller's lead list wrote it.
	idx := c.gid - pl.base
	var style int
	if plan.region == "GB" {
		style = int(a.ukStyle)
		if r.Float64() < 0.3 {
			style = g.ukStyles.draw(r)
		}
	} else {
		style = int(a.intlStyle)
		if r.Float64() < 0.3 {
			style = g.intlStyles.draw(r)
		}
	}
	b = pl.raw(b, idx, style)
	b = append(b, ',')
	b = append(b, statusNames[c.status]...)
	b = append(b, '\n')
	o.buf = b
	o.rows++
	in.after(o, start, func(r *rand.Rand) []byte {
		rg, k := pl.locate(idx)
		return impossibleNumber(r, plan, rg.nsn(nil, k))
	})

	// Counters.
	f := &g.fig
	if c.org >= 0 {
		f.OrgCLICalls++
	}
	office, weekend := ukTimeClass(c.due)
	if office {
		g.office++
	}
	if weekend {
		g.weekend++
	}
	if f.FirstCall.IsZero() {
		f.FirstCall = time.Unix(c.due, 0).UTC()
	}
	f.LastCall = time.Unix(c.due, 0).UTC()
	fl := g.flags[c.gid]
	if fl&flagCalled == 0 {
		f.Callees++
		if plan.region == "GB" {
			f.UKNumbers++
		}
	}
	fl |= flagCalled
	if plan.region == "GB" {
		f.UKCalls++
		if c.dur > 60 {
			f.UKCallsOver60++
			if fl&flagLong == 0 {
				f.UKNumbersOver60++
			}
			if a.identified && fl&flagIdentified == 0 {
				f.UKNumbersIdentified++
				fl |= flagIdentified
			}
		}
	}
	if c.dur > 60 {
		fl |= flagLong
	}
	g.flags[c.gid] = fl
}
