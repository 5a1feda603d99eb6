package campaign

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// DefaultZone is the time zone of a number whose zone libphonenumber does not know.
const DefaultZone = "Europe/London"

// Zone returns the time zone(s) of an E.164 number as libphonenumber maps them, space-separated
// when the number's prefix spans several (a message is sent only when it is within sending hours
// in all of them).
func Zone(e164 string) string {
	tzs, err := phonenumbers.GetTimezonesForPrefix(e164)
	if err != nil || len(tzs) == 0 || tzs[0] == phonenumbers.UNKNOWN_TIMEZONE {
		return DefaultZone
	}
	tzs = slices.Clone(tzs)
	slices.Sort(tzs)
	return strings.Join(slices.Compact(tzs), " ")
}

// Hours are the local hours in which messages may be sent: from Start o'clock to End o'clock.
type Hours struct{ Start, End int }

// DefaultHours are 09:00 to 20:00, recipient's time.
var DefaultHours = Hours{9, 20}

// Check reports an error for hours that are not 0 ≤ Start < End ≤ 24.
func (h Hours) Check() error {
	if h.Start < 0 || h.End > 24 || h.Start >= h.End {
		return fmt.Errorf("sending hours %02d:00–%02d:00: need 0 ≤ start < end ≤ 24", h.Start, h.End)
	}
	return nil
}

func (h Hours) String() string { return fmt.Sprintf("%02d:00–%02d:00", h.Start, h.End) }

var zones sync.Map // name → *time.Location

func location(name string) *time.Location {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l, _ = time.LoadLocation(DefaultZone)
	}
	zones.Store(name, l)
	return l
}

// Open reports whether now is within h in every zone of zone (as Zone returns).
func (h Hours) Open(zone string, now time.Time) bool {
	for _, z := range strings.Fields(zone) {
		hr := now.In(location(z)).Hour()
		if hr < h.Start || hr >= h.End {
			return false
		}
	}
	return true
}

// NextOpen returns the first time at or after now when zone is open, to the minute (within
// two days; zero if never, which Check'd hours rule out).
func (h Hours) NextOpen(zone string, now time.Time) time.Time {
	t := now.Truncate(time.Minute)
	for end := now.Add(48 * time.Hour); t.Before(end); t = t.Add(time.Minute) {
		if h.Open(zone, t) {
			if t.Before(now) {
				return now
			}
			return t
		}
	}
	return time.Time{}
}
