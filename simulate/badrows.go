package simulate

import (
	"bytes"
	"math/rand/v2"
	"strconv"
)

// Reasons a row is malformed. Each injected bad row has exactly one of them, so that a reader
// can tell which (Check does, and so can ingest's quarantine).
const (
	BadFieldCount       = "field_count"       // one field too many or too few
	BadTime             = "bad_time"          // a timestamp that is no RFC 3339 time
	BadEmptyCallee      = "empty_callee"      // calls: no callee number
	BadImpossibleCallee = "impossible_callee" // calls: too short, too long, or with letters
	BadUnknownAccount   = "unknown_account"   // calls, payments: an account id not in accounts.csv
	BadDuration         = "bad_duration"      // calls: negative or not a number
	BadAmount           = "bad_amount"        // payments: negative or not a number
	BadEmptyNumber      = "empty_number"      // orgs: no number
	BadImpossibleNumber = "impossible_number" // orgs: too short, too long, or with letters
)

// badSpec says which corruptions apply to a file and where its fields are (−1: none).
type badSpec struct {
	kinds   []string
	time    int
	account int
	number  int
	dur     int
	amount  int
}

var (
	badCalls    = badSpec{kinds: []string{BadFieldCount, BadTime, BadEmptyCallee, BadImpossibleCallee, BadUnknownAccount, BadDuration}, time: 2, account: 1, number: 5, dur: 3, amount: -1}
	badAccounts = badSpec{kinds: []string{BadFieldCount, BadTime}, time: 4, account: -1, number: -1, dur: -1, amount: -1}
	badPayments = badSpec{kinds: []string{BadFieldCount, BadTime, BadUnknownAccount, BadAmount}, time: 2, account: 1, number: -1, dur: -1, amount: 3}
	badOrgs     = badSpec{kinds: []string{BadFieldCount, BadEmptyNumber, BadImpossibleNumber}, time: -1, account: -1, number: 4, dur: -1, amount: -1}
)

var (
	badTimes     = []string{"2022-13-01T10:00:00Z", "2021-02-30T09:15:00Z", "2022-03-01T25:61:00Z", "0000-00-00 00:00:00", "yesterday", "N/A", "", "2022-03-0"}
	badDurations = []string{"abc", "12s", "NaN", "n/a", "-"}
	badAmounts   = []string{"abc", "NaN", "", "GBP", "1O0.00"}
)

// injector adds corrupted copies of rows to a file: after each good row, with probability
// frac, one copy of it with one defect, on the line that follows it (same id).
type injector struct {
	r           *rand.Rand
	frac        float64
	spec        badSpec
	maxAccount  int32
	scratch     []byte
	fieldsSaved [][]byte
}

func newInjector(seed uint64, file int, frac float64, spec badSpec, maxAccount int32) *injector {
	return &injector{r: newRand(seed, streamBad<<8|uint64(file)), frac: frac, spec: spec, maxAccount: maxAccount}
}

// after is called once the good row o.buf[start:] (ending in '\n') is written. impossible
// returns an impossible version of the row's number, for the kinds that need one.
func (in *injector) after(o *outFile, start int, impossible func(r *rand.Rand) []byte) {
	if in == nil || in.frac <= 0 || in.r.Float64() >= in.frac {
		return
	}
	in.scratch = append(in.scratch[:0], o.buf[start:len(o.buf)-1]...)
	fields := bytes.Split(in.scratch, []byte{','})
	kind := in.spec.kinds[in.r.IntN(len(in.spec.kinds))]
	r := in.r
	switch kind {
	case BadFieldCount:
		if r.IntN(2) == 0 {
			fields = fields[:len(fields)-1]
		} else {
			fields = append(fields, fields[len(fields)-1])
		}
	case BadTime:
		fields[in.spec.time] = []byte(badTimes[r.IntN(len(badTimes))])
	case BadUnknownAccount:
		fields[in.spec.account] = appendAccountID(nil, in.maxAccount+1+int32(r.IntN(1000)))
	case BadDuration:
		if r.IntN(2) == 0 {
			fields[in.spec.dur] = []byte("-" + strconv.Itoa(1+r.IntN(600)))
		} else {
			fields[in.spec.dur] = []byte(badDurations[r.IntN(len(badDurations))])
		}
	case BadAmount:
		if r.IntN(2) == 0 {
			fields[in.spec.amount] = append([]byte("-"), fields[in.spec.amount]...)
		} else {
			fields[in.spec.amount] = []byte(badAmounts[r.IntN(len(badAmounts))])
		}
	case BadEmptyCallee, BadEmptyNumber:
		fields[in.spec.number] = nil
	case BadImpossibleCallee, BadImpossibleNumber:
		fields[in.spec.number] = impossible(r)
	}
	o.buf = append(o.buf, bytes.Join(fields, []byte{','})...)
	o.buf = append(o.buf, '\n')
	o.badRows++
	o.badKinds[kind]++
}

// impossibleNumber returns a corruption of the number +cc nsn that no reader can take for a
// possible number, let alone a valid one: three digits only, eight digits too many, or two
// letters slipped in after the first digit (libphonenumber wants three digits before any
// letter; and from three letters on it would read them as a keypad's digits).
func impossibleNumber(r *rand.Rand, plan *numberPlan, nsn []byte) []byte {
	out := []byte{'+'}
	if plan.trunk != "" && r.IntN(2) == 0 {
		out = append(out[:0], plan.trunk...)
	} else {
		out = append(out, plan.cc...)
	}
	switch r.IntN(3) {
	case 0:
		return append(out, nsn[:3]...)
	case 1:
		out = append(out, nsn...)
		for range 8 {
			out = append(out, byte('0'+r.IntN(10)))
		}
		return out
	}
	out = append(out, nsn...)
	i := 1
	if out[0] == '+' {
		i = 2
	}
	const letters = "OISBZl"
	bad := []byte{letters[r.IntN(len(letters))], letters[r.IntN(len(letters))]}
	return append(out[:i:i], append(bad, out[i:]...)...)
}
