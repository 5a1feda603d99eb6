package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// account is a user of the spoofing service.
type account struct {
	num      int32 // account_id is U + num, zero-padded
	country  string
	signup   int64 // Unix seconds
	username string
	email    string
	ips      string

	plan       int        // index into planPrices; -1 if the account never paid
	paidPence  int64      // total paid
	periods    [][2]int64 // paid months [from, to)
	weight     float64    // how many calls the account makes while active, relative to others
	skill      float64    // how convincing its callers are (standard normal-ish)
	trialEnd   int64      // a non-payer that tried the service: active until then; 0 if none
	identified bool       // a UK user who paid at least £100
	ukStyle    uint8      // how its lead lists write UK numbers
	intlStyle  uint8      // … and foreign ones
	favUK      int        // favourite UK organisation (index into orgs), or -1
	favUS      int        // favourite US organisation, or -1
	randomCLI  float64    // share of its calls that present a random number
}

// Subscription plans: price a month, how common, and how many calls a subscriber makes
// relative to the cheapest plan.
var planPrices = []struct {
	pence     int64
	weight    float64
	intensity float64
}{
	{15000, 0.55, 1},
	{25000, 0.20, 1.5},
	{50000, 0.12, 2.5},
	{100000, 0.07, 4},
	{250000, 0.04, 7},
	{500000, 0.02, 10},
}

// accountCountries: where the service's users were (the UK and the US lead; "" is unknown).
var accountCountries = []struct {
	code   string
	weight float64
}{
	{"GB", 0.30}, {"US", 0.15}, {"NL", 0.06}, {"FR", 0.05}, {"DE", 0.05}, {"NG", 0.05},
	{"CA", 0.04}, {"IN", 0.04}, {"IE", 0.03}, {"ES", 0.03}, {"AU", 0.03}, {"RO", 0.03},
	{"PK", 0.03}, {"ZA", 0.03}, {"AE", 0.02}, {"BR", 0.02}, {"", 0.04},
}

var (
	nameHeads = []string{"ghost", "silent", "vox", "crypt", "shadow", "lucky", "fast", "north",
		"prime", "zero", "nova", "dark", "iron", "cash", "blue", "red", "smooth", "quiet", "king",
		"slick", "venom", "frost", "echo", "static", "hex", "neon", "rapid", "lone", "grey", "gold"}
	nameTails = []string{"fox", "wolf", "money", "line", "caller", "boss", "dialer", "hawk",
		"shark", "ops", "voice", "ring", "wave", "tone", "jack", "ace", "mode", "zone", "pay", "desk"}
	// Only domains reserved for documentation and testing (RFC 2606): nobody can be mailed.
	mailDomains = []string{"example.com", "example.net", "example.org", "mail.example",
		"proton.example", "secure.example"}
)

// payment is one monthly payment.
type payment struct {
	acct   *account
	at     int64
	pence  int64
	method string
}

// buildAccounts makes n accounts signed up before end, and their payments: paying accounts are
// chosen at random until the service's takings reach paidPence (to within half the cheapest
// plan); a share of the others tried the service for a few days without paying.
func buildAccounts(r *rand.Rand, n int, start, end int64, paidPence int64, orgs []*org) ([]*account, []payment) {
	const day = 86400
	accts := make([]*account, n)
	cw := make([]float64, len(accountCountries))
	for i, c := range accountCountries {
		cw[i] = c.weight
	}
	var ukOrgW, usOrgW []float64
	var ukOrgIdx, usOrgIdx []int
	for i, o := range orgs {
		if o.def.country == "GB" {
			ukOrgW, ukOrgIdx = append(ukOrgW, o.def.weight), append(ukOrgIdx, i)
		} else {
			usOrgW, usOrgIdx = append(usOrgW, o.def.weight), append(usOrgIdx, i)
		}
	}
	var ukSW, inSW []float64
	for s := range numStyles {
		ukSW = append(ukSW, ukStyleWeights[s])
		inSW = append(inSW, intlStyleWeights[s])
	}
	span := float64(end - start)
	for i := range accts {
		a := &account{plan: -1, favUK: -1, favUS: -1}
		// The service ran before the period: a fifth of users signed up in the eight months
		// before it. Sign-ups during the period grow over the year.
		if r.Float64() < 0.22 {
			a.signup = start - int64(r.Float64()*240*day)
		} else {
			u := r.Float64()
			x := (-0.7 + math.Sqrt(0.49+1.2*u)) / 0.6
			a.signup = start + int64(x*(span-day))
		}
		a.country = accountCountries[pick(r, cw)].code
		h := nameHeads[r.IntN(len(nameHeads))] + nameTails[r.IntN(len(nameTails))]
		if r.IntN(3) > 0 {
			h += fmt.Sprint(r.IntN(1000))
		}
		a.username = h
		a.email = fmt.Sprintf("%s%d@%s", h, r.IntN(100), mailDomains[r.IntN(len(mailDomains))])
		a.ips = randomIPs(r)
		zw := r.NormFloat64()
		a.weight = math.Exp(0.7 * zw)
		a.skill = 0.35*zw + 0.9*r.NormFloat64()
		a.ukStyle = uint8(pick(r, ukSW))
		a.intlStyle = uint8(pick(r, inSW))
		if len(ukOrgIdx) > 0 {
			a.favUK = ukOrgIdx[pick(r, ukOrgW)]
		}
		if len(usOrgIdx) > 0 {
			a.favUS = usOrgIdx[pick(r, usOrgW)]
		}
		a.randomCLI = 0.02 + 0.25*r.Float64()*r.Float64()
		accts[i] = a
	}
	// Account ids follow the order of sign-up.
	sort.SliceStable(accts, func(i, j int) bool { return accts[i].signup < accts[j].signup })
	for i, a := range accts {
		a.num = int32(i + 1)
	}

	// Payers, in random order, until the takings are reached.
	pw := make([]float64, len(planPrices))
	for i, p := range planPrices {
		pw[i] = p.weight
	}
	var pays []payment
	var total int64
	half := planPrices[0].pence / 2
	for _, i := range r.Perm(n) {
		if total >= paidPence-half {
			break
		}
		a := accts[i]
		if a.signup > end-3*day {
			continue
		}
		plan := pick(r, pw)
		months := paidMonths(r)
		// The first payment: soon after sign-up, or early in the period for older users.
		first := a.signup + int64(r.ExpFloat64()*6*day)
		if a.signup < start {
			first = start + int64(r.Float64()*90*day)
		}
		var ps []payment
		var sum int64
		t := first
		p := plan
		for m := 0; m < months && t < end; m++ {
			if m > 0 && r.Float64() < 0.06 && p < len(planPrices)-1 {
				p++ // upgrade
			}
			price := planPrices[p].pence
			if total+sum+price > paidPence+half {
				break
			}
			ps = append(ps, payment{acct: a, at: t, pence: price, method: payMethod(r)})
			sum += price
			// The next month's payment; a few skip a month.
			t += 30 * day
			if r.Float64() < 0.15 {
				t += 30 * day
			}
			t += int64(r.NormFloat64() * 3600 * 6)
		}
		if len(ps) == 0 {
			continue
		}
		a.plan = plan
		a.paidPence = sum
		a.weight *= planPrices[plan].intensity
		for _, p := range ps {
			a.periods = append(a.periods, [2]int64{p.at, min(p.at+30*day, end)})
		}
		pays = append(pays, ps...)
		total += sum
	}
	for _, a := range accts {
		if a.plan < 0 && a.signup >= start && a.signup < end-day && r.Float64() < 0.45 {
			a.trialEnd = min(a.signup+3*day, end)
		}
		a.identified = a.country == "GB" && a.paidPence >= 10000
	}
	sort.SliceStable(pays, func(i, j int) bool { return pays[i].at < pays[j].at })
	return accts, pays
}

// paidMonths draws how many months a paying user paid for: most paid once or twice.
func paidMonths(r *rand.Rand) int {
	switch u := r.Float64(); {
	case u < 0.42:
		return 1
	case u < 0.64:
		return 2
	case u < 0.76:
		return 3
	default:
		return 4 + r.IntN(9)
	}
}

func payMethod(r *rand.Rand) string {
	switch u := r.Float64(); {
	case u < 0.93:
		return "BTC"
	case u < 0.97:
		return "ETH"
	}
	return "LTC"
}

// randomIPs returns one to four addresses from the ranges reserved for documentation
// (RFC 5737, RFC 3849), joined by ";".
func randomIPs(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	if r.Float64() < 0.5 {
		n = 1
	}
	nets := []string{"192.0.2.", "198.51.100.", "203.0.113."}
	ips := make([]string, n)
	for i := range ips {
		if r.Float64() < 0.1 {
			ips[i] = fmt.Sprintf("2001:db8:%x::%x", r.IntN(0x10000), 1+r.IntN(0xffff))
		} else {
			ips[i] = nets[r.IntN(len(nets))] + fmt.Sprint(1+r.IntN(254))
		}
	}
	return strings.Join(ips, ";")
}
