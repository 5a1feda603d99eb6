package simulate

import (
	"fmt"
	"math/rand/v2"
)

// Sectors of impersonated organisations, with how far a victim trusts a caller who claims to be
// one: the bank's fraud team most, a shop least.
var sectorCredibility = map[string]float64{
	"bank":     1.0,
	"police":   0.9,
	"tax":      0.7,
	"telecom":  0.4,
	"retail":   0.3,
	"delivery": 0.3,
}

// orgDef is a fictional organisation whose numbers the service's users display.
type orgDef struct {
	name    string
	sector  string
	country string
	weight  float64 // how often fraudsters pick it
	numbers int
}

// The organisations are invented; any likeness to a real one's name is accidental.
var orgDefs = []orgDef{
	{"Northbridge Bank", "bank", "GB", 14, 3},
	{"Albion & Vale Bank", "bank", "GB", 11, 3},
	{"Kestrel Bank", "bank", "GB", 9, 2},
	{"Thameside Building Society", "bank", "GB", 6, 2},
	{"Pennine Mutual", "bank", "GB", 5, 2},
	{"Crownmere Bank", "bank", "GB", 5, 2},
	{"Old Quay Savings", "bank", "GB", 3, 1},
	{"Revenue and Duties Office", "tax", "GB", 7, 2},
	{"Capital Police Fraud Unit", "police", "GB", 4, 1},
	{"Britline Telecom", "telecom", "GB", 4, 2},
	{"Meridian Mobile", "telecom", "GB", 3, 1},
	{"Marketway Online", "retail", "GB", 3, 1},
	{"Parcelway Deliveries", "delivery", "GB", 2, 1},
	{"Prairie Mutual Bank", "bank", "US", 10, 2},
	{"Lakeshore National Bank", "bank", "US", 8, 2},
	{"Cobalt Trust", "bank", "US", 6, 2},
	{"Summitline Credit Union", "bank", "US", 4, 1},
	{"Federal Revenue Bureau", "tax", "US", 6, 2},
	{"Tri-County Sheriff's Office", "police", "US", 3, 1},
	{"Coastline Wireless", "telecom", "US", 3, 1},
	{"ShopStream", "retail", "US", 4, 1},
}

// org is an organisation of the dataset.
type org struct {
	id      string // "O01"
	def     orgDef
	cred    float64
	numbers []int // indices into generator.orgNums
}

// orgNumber is one number of an organisation.
type orgNumber struct {
	org     int
	e164    string
	fileRaw string    // as written in orgs.csv
	cli     [3]string // as presented by callers: "+44…", national, bare/IDD
	nsn     string
	plan    *numberPlan
}

// buildOrgs draws the organisations' numbers (distinct, from ranges no victim pool uses).
func buildOrgs(r *rand.Rand, gb, us *numberPlan) ([]*org, []orgNumber) {
	var orgs []*org
	var nums []orgNumber
	seen := map[string]bool{}
	for i, d := range orgDefs {
		o := &org{id: fmt.Sprintf("O%02d", i+1), def: d, cred: sectorCredibility[d.sector]}
		plan, ranges := gb, ukOrgRanges
		if d.country == "US" {
			plan, ranges = us, usOrgRanges
		}
		for j := 0; j < d.numbers; j++ {
			// The first number of a bank is its main line, the second its fraud line (free
			// phone), the third a branch.
			ri := j % len(ranges)
			rg := ranges[ri]
			var nsn []byte
			for {
				nsn = rg.nsn(nil, r.Uint64N(rg.size))
				if !seen[string(nsn)] {
					seen[string(nsn)] = true
					break
				}
			}
			n := orgNumber{org: i, nsn: string(nsn), plan: plan, e164: "+" + plan.cc + string(nsn)}
			if d.country == "GB" {
				n.fileRaw = string(formatNumber(nil, plan, rg, nsn, styleNatSpaced))
				n.cli = [3]string{n.e164, "0" + n.nsn, "44" + n.nsn}
			} else {
				n.fileRaw = string(formatNumber(nil, plan, rg, nsn, styleNANPBrackets))
				n.cli = [3]string{n.e164, n.e164, "001" + n.nsn}
			}
			o.numbers = append(o.numbers, len(nums))
			nums = append(nums, n)
		}
		orgs = append(orgs, o)
	}
	return orgs, nums
}
