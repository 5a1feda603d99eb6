package simulate

import (
	"sort"
	"time"
)

// zone is a time zone the generator needs, with its daylight-saving rule computed here (no
// tzdata needed, and the same answer on every machine).
type zone uint8

const (
	zoneLondon   zone = iota // GB, IE: UTC+0, +1 from the last Sunday of March to that of October
	zoneParis                // FR, DE, ES, NL, IT: UTC+1 / +2, same switch instants
	zoneNewYork              // US, CA: UTC−5 / −4, second Sunday of March to first of November
	zoneBrisbane             // AU: UTC+10 all year
	numZones
)

// transitions per zone: sorted instants (Unix seconds) from which offset applies.
var zoneTransitions [numZones][]struct{ at, offset int64 }

func init() {
	for z := range numZones {
		var tr []struct{ at, offset int64 }
		for y := 2015; y <= 2040; y++ {
			var on, off time.Time
			var std, dst int64
			switch z {
			case zoneLondon, zoneParis:
				on = lastSunday(y, time.March).Add(time.Hour)
				off = lastSunday(y, time.October).Add(time.Hour)
				std = 0
				if z == zoneParis {
					std = 3600
				}
				dst = std + 3600
			case zoneNewYork:
				on = nthSunday(y, time.March, 2).Add(7 * time.Hour)
				off = nthSunday(y, time.November, 1).Add(6 * time.Hour)
				std, dst = -5*3600, -4*3600
			default:
				std, dst = 10*3600, 10*3600
				on = time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
				off = on
			}
			tr = append(tr, struct{ at, offset int64 }{time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC).Unix(), std})
			if on != off {
				tr = append(tr, struct{ at, offset int64 }{on.Unix(), dst}, struct{ at, offset int64 }{off.Unix(), std})
			}
		}
		zoneTransitions[z] = tr
	}
}

func lastSunday(y int, m time.Month) time.Time {
	d := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	return d.AddDate(0, 0, -int(d.Weekday()))
}

func nthSunday(y int, m time.Month, n int) time.Time {
	d := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, (7-int(d.Weekday()))%7)
	return d.AddDate(0, 0, 7*(n-1))
}

// offset returns the zone's offset from UTC, in seconds, at Unix time t.
func (z zone) offset(t int64) int64 {
	tr := zoneTransitions[z]
	i := sort.Search(len(tr), func(i int) bool { return tr[i].at > t }) - 1
	if i < 0 {
		return tr[0].offset
	}
	return tr[i].offset
}

// local returns Unix time t shifted to the zone's wall clock (still counted in seconds from
// the epoch, so that t/86400 is the local day).
func (z zone) local(t int64) int64 { return t + z.offset(t) }

// londonLocal returns Unix time t on the UK's wall clock.
func londonLocal(t int64) int64 { return zoneLondon.local(t) }

// Weekday rhythm: relative call rate at each local hour, Monday to Friday, and the factor of
// each day of the week (Sunday first). Fraud call centres keep office hours.
var (
	hourWeights = [24]float64{
		0.03, 0.02, 0.02, 0.02, 0.02, 0.03, 0.06, 0.20, 0.55, 0.95, 1.15, 1.20,
		1.05, 1.00, 1.15, 1.15, 1.05, 0.85, 0.60, 0.45, 0.33, 0.22, 0.12, 0.06,
	}
	dayWeights = [7]float64{0.25, 1.05, 1.10, 1.08, 1.05, 0.95, 0.45}
)

// rhythm returns the relative call rate at local wall-clock time lt (see zone.local), with
// progress the share of the period elapsed (the service grew over the year).
func rhythm(lt int64, progress float64) float64 {
	days := floorDiv(lt, 86400)
	sec := lt - days*86400
	h := sec / 3600
	f := float64(sec%3600) / 3600
	w := hourWeights[h]*(1-f) + hourWeights[(h+1)%24]*f
	wd := (days + 4) % 7 // 1970-01-01 was a Thursday
	w *= dayWeights[wd]
	// Christmas Day, Boxing Day and New Year's Day are quiet.
	if holidays[days] {
		w *= 0.35
	}
	return w * (0.85 + 0.30*progress)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// holidays holds the day numbers (days since 1970-01-01) of 25, 26 December and 1 January.
var holidays = func() map[int64]bool {
	m := map[int64]bool{}
	for y := 2015; y <= 2040; y++ {
		for _, d := range []time.Time{
			time.Date(y, time.December, 25, 0, 0, 0, 0, time.UTC),
			time.Date(y, time.December, 26, 0, 0, 0, 0, time.UTC),
			time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC),
		} {
			m[d.Unix()/86400] = true
		}
	}
	return m
}()
