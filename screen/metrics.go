package screen

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof"
)

// codeIDs number the codes the engine itself gives, so that the hot path counts them in arrays
// instead of hashing label values. 0 is "none": an allow without reasons.
var codeIDs = [...]struct{ code, rule string }{
	{"none", ""},
	{CodeInvalidNumber, RuleNumbering},
	{CodeImpossibleNumber, RuleNumbering},
	{CodeFictionalNumber, RuleNumbering},
	{CodeDNO, RuleDNO},
	{CodeUKCLIInternational, RuleIngress},
	{CodeUKMobileInternational, RuleIngress},
	{CodeSpoofingEgress, RuleEgress},
	{CodeStirShakenFailed, RuleStirShaken},
	{CodeVelocity, RuleVelocity},
	{CodeDeadline, RuleDeadline},
}

const nCodes = len(codeIDs)

// codeID returns code's index in codeIDs, or -1 for a code of the verifier's.
func codeID(code string) int {
	switch code {
	case "none":
		return 0
	case CodeInvalidNumber:
		return 1
	case CodeImpossibleNumber:
		return 2
	case CodeFictionalNumber:
		return 3
	case CodeDNO:
		return 4
	case CodeUKCLIInternational:
		return 5
	case CodeUKMobileInternational:
		return 6
	case CodeSpoofingEgress:
		return 7
	case CodeStirShakenFailed:
		return 8
	case CodeVelocity:
		return 9
	case CodeDeadline:
		return 10
	}
	return -1
}

// actions by strength: the verdict's action is the strongest.
const (
	actAllow = iota
	actFlag
	actBlock
)

var actionNames = [...]string{actAllow: unspoof.ActionAllow, actFlag: unspoof.ActionFlag, actBlock: unspoof.ActionBlock}

func actionID(a string) int {
	switch a {
	case unspoof.ActionBlock:
		return actBlock
	case unspoof.ActionFlag:
		return actFlag
	}
	return actAllow
}

// Latency histogram buckets: upper bounds of 2 µs × 2^k, k < latBuckets; then +Inf.
const (
	latBase    = 2000 // ns
	latBuckets = 16   // up to 65.5 ms
)

// metrics are an Engine's Prometheus metrics. The hot path adds to plain atomic counters (one
// for the verdict, one per reason, two for the latency: fewer than a prometheus.Histogram's
// own), in one of metricSlots copies picked per call, so that cores screening at once seldom
// write the same cache line; the metrics are made from their sums when Prometheus asks
// (Collect).
type metrics struct {
	slots [metricSlots]metricSlot
	shown [3][nCodes]bool // verdict series shown even at 0: the action each code can decide

	mu       sync.Mutex
	other    map[[3]string]*atomic.Uint64 // the verifier's codes: {"v", action, code} or {"r", rule+"\x00"+code, mode}
	lists    map[string]listState
	verdictD *prometheus.Desc
	reasonD  *prometheus.Desc
	latencyD *prometheus.Desc
	infoD    *prometheus.Desc
	entriesD *prometheus.Desc
	loadedD  *prometheus.Desc
}

// metricSlots is how many copies of the counters there are: enough that two or more cores
// rarely pick the same one at once.
const metricSlots = 16

type metricSlot struct {
	verdicts [3][nCodes]atomic.Uint64 // action × deciding code
	reasons  [nCodes][2]atomic.Uint64 // code × report-only
	latency  [2]latencyHist           // unsigned, signed
	_        [64]byte                 // the next slot starts on another cache line
}

type latencyHist struct {
	buckets [latBuckets + 1]atomic.Uint64
	sumNS   atomic.Int64
}

type listState struct {
	version string
	entries int
	loaded  time.Time
}

func newMetrics(reg prometheus.Registerer, mobileAction, verifyFail string) *metrics {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("unspoof_screen_"+name, help, labels, nil)
	}
	m := &metrics{
		other:    map[[3]string]*atomic.Uint64{},
		lists:    map[string]listState{},
		verdictD: desc("verdicts_total", `Verdicts by action and the reason code that decided it ("none" for a clean allow).`, "action", "reason"),
		reasonD:  desc("reasons_total", "Reasons found, by rule, code and the rule's mode (enforce or report-only).", "rule", "code", "mode"),
		latencyD: desc("latency_seconds", "Time to a verdict, by whether the call carried an Identity header.", "signed"),
		infoD:    desc("list_info", "1 for the version of each list in use (dno, egress).", "list", "version"),
		entriesD: desc("list_entries", "Entries of each list in use (dno, egress).", "list"),
		loadedD:  desc("list_loaded_timestamp_seconds", "When each list in use was loaded (Unix time).", "list"),
	}
	show := func(action int, code string) { m.shown[action][codeID(code)] = true }
	show(actAllow, "none")
	show(actAllow, CodeDeadline)
	show(actBlock, CodeInvalidNumber)
	show(actBlock, CodeImpossibleNumber)
	show(actFlag, CodeFictionalNumber)
	show(actBlock, CodeDNO)
	show(actBlock, CodeUKCLIInternational)
	if a := actionID(mobileAction); a != actAllow {
		show(a, CodeUKMobileInternational)
	}
	show(actBlock, CodeSpoofingEgress)
	show(actionID(verifyFail), CodeStirShakenFailed)
	show(actFlag, CodeVelocity)
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// record counts a verdict: its action and deciding code, each reason, its latency. slot is
// any number that varies from call to call (the low bits pick the copy of the counters).
func (m *metrics) record(v *unspoof.Verdict, action int, decided string, signed bool, slot uint) {
	sl := &m.slots[slot%metricSlots]
	if id := codeID(decided); id >= 0 {
		sl.verdicts[action][id].Add(1)
	} else {
		m.counter([3]string{"v", actionNames[action], decided}).Add(1)
	}
	for i := range v.Reasons {
		r := &v.Reasons[i]
		ro := 0
		if r.ReportOnly {
			ro = 1
		}
		if id := codeID(r.Code); id >= 0 && r.Rule == codeIDs[id].rule {
			sl.reasons[id][ro].Add(1)
			continue
		}
		mode := ModeEnforce
		if r.ReportOnly {
			mode = ModeReportOnly
		}
		m.counter([3]string{"r", r.Rule + "\x00" + r.Code, string(mode)}).Add(1)
	}
	h := &sl.latency[0]
	if signed {
		h = &sl.latency[1]
	}
	ns := max(int64(v.Latency), 0)
	h.buckets[min(bits.Len64(uint64(max(ns-1, 0))/latBase), latBuckets)].Add(1)
	h.sumNS.Add(ns)
}

// counter returns the counter of a series with a verifier's code, made on first use.
func (m *metrics) counter(key [3]string) *atomic.Uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.other[key]
	if !ok {
		c = new(atomic.Uint64)
		m.other[key] = c
	}
	return c
}

// list records that list (dno, egress) now is the given version with n entries.
func (m *metrics) list(list, version string, n int, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists[list] = listState{version, n, at}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.verdictD, m.reasonD, m.latencyD, m.infoD, m.entriesD, m.loadedD} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, n uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	for a := range 3 {
		for id := range nCodes {
			var n uint64
			for i := range m.slots {
				n += m.slots[i].verdicts[a][id].Load()
			}
			if n > 0 || m.shown[a][id] {
				counter(m.verdictD, n, actionNames[a], codeIDs[id].code)
			}
		}
	}
	for id := 1; id < nCodes; id++ {
		for ro, mode := range []Mode{ModeEnforce, ModeReportOnly} {
			var n uint64
			for i := range m.slots {
				n += m.slots[i].reasons[id][ro].Load()
			}
			if n > 0 || codeIDs[id].code != CodeDeadline || ro == 0 {
				counter(m.reasonD, n, codeIDs[id].rule, codeIDs[id].code, string(mode))
			}
		}
	}
	for signed, label := range []string{"false", "true"} {
		var buckets [latBuckets + 1]uint64
		var sum int64
		for i := range m.slots {
			h := &m.slots[i].latency[signed]
			for k := range buckets {
				buckets[k] += h.buckets[k].Load()
			}
			sum += h.sumNS.Load()
		}
		cum := make(map[float64]uint64, latBuckets)
		var count uint64
		for k := range latBuckets {
			count += buckets[k]
			cum[float64(int64(latBase)<<k)/1e9] = count
		}
		count += buckets[latBuckets]
		ch <- prometheus.MustNewConstHistogram(m.latencyD, count, float64(sum)/1e9, cum, label)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, c := range m.other {
		switch key[0] {
		case "v":
			counter(m.verdictD, c.Load(), key[1], key[2])
		case "r":
			rule, code, _ := cutNUL(key[1])
			counter(m.reasonD, c.Load(), rule, code, key[2])
		}
	}
	for list, s := range m.lists {
		ch <- prometheus.MustNewConstMetric(m.infoD, prometheus.GaugeValue, 1, list, s.version)
		ch <- prometheus.MustNewConstMetric(m.entriesD, prometheus.GaugeValue, float64(s.entries), list)
		ch <- prometheus.MustNewConstMetric(m.loadedD, prometheus.GaugeValue, float64(s.loaded.UnixNano())/1e9, list)
	}
}

func cutNUL(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
