package simulate

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unspoof/unspoof/phonenum"
)

// Check reads the dataset in dir back and measures its headline figures from the files alone:
// it parses every row, tells malformed rows by reason, and normalises numbers with
// phonenum.Parse(raw, "GB"), as ingest would. It shares nothing with the generator's counters,
// so comparing its figures with the manifest's checks both.
func Check(ctx context.Context, dir string) (*Figures, error) {
	c := &checker{
		dir:      dir,
		cache:    map[string]parsed{},
		numbers:  map[uint64]uint8{},
		accounts: map[string]string{},
		paid:     map[string]int64{},
		orgNums:  map[uint64]bool{},
		orgTails: map[uint64]bool{},
		fig:      Figures{Destinations: map[string]int64{}, BadRows: map[string]map[string]int64{}},
	}
	callsName := CallsFile
	m, merr := ReadManifest(dir)
	if merr == nil {
		if fi := m.File("calls"); fi != nil {
			callsName = fi.Name
		}
	} else if _, err := os.Stat(filepath.Join(dir, CallsFile)); err != nil {
		callsName = CallsFile + ".gz"
	}
	steps := []struct {
		name   string
		fields int
		row    func([]string) string
	}{
		{OrgsFile, 5, c.org},
		{AccountsFile, 6, c.account},
		{PaymentsFile, 6, c.payment},
		{callsName, 7, c.call},
		{TruthFile, 4, c.truth},
	}
	for _, s := range steps {
		if s.name == callsName {
			c.endAccounts()
		}
		if err := c.read(ctx, s.name, s.fields, s.row); err != nil {
			return nil, err
		}
	}
	c.finish()
	if merr == nil {
		c.fig.SetPeriod(m.PeriodEnd.Sub(m.PeriodStart))
	} else {
		c.fig.SetPeriod(c.fig.LastCall.Sub(c.fig.FirstCall))
	}
	return &c.fig, nil
}

// parsed is a number as Check read it.
type parsed struct {
	key    uint64 // E.164 digits as an integer; 0 if the text is no valid number
	region string
}

type checker struct {
	dir      string
	cache    map[string]parsed
	numbers  map[uint64]uint8 // callee flags: flagCalled, flagLong, flagIdentified, checkUK
	accounts map[string]string
	paid     map[string]int64
	ident    map[string]bool
	orgNums  map[uint64]bool
	orgTails map[uint64]bool // last 7 digits of the organisations' numbers
	office   int64
	weekend  int64
	first    int64
	last     int64
	lossMax  int64
	repLoss  int64
	ukLoss   int64
	fig      Figures
}

const checkUK = 1 << 6

// number parses raw with default region GB, remembering the answer for the next time the same
// text comes (bounded, so memory does not grow with the calls).
func (c *checker) number(raw string) parsed {
	if p, ok := c.cache[raw]; ok {
		return p
	}
	var p parsed
	if n, err := phonenum.Parse(raw, "GB"); err == nil && n.Valid {
		p = parsed{key: e164Key(n.E164), region: n.Region}
	}
	if len(c.cache) >= 1<<18 {
		c.cache = make(map[string]parsed, 1<<18)
	}
	c.cache[raw] = p
	return p
}

// isOrgNumber reports whether raw is the number of an organisation. Only a text that ends in
// the last seven digits of one of their numbers can be; the others are not parsed.
func (c *checker) isOrgNumber(raw string) bool {
	var tail uint64
	n := 0
	for i := len(raw) - 1; i >= 0 && n < 7; i-- {
		if d := raw[i] - '0'; d <= 9 {
			tail += uint64(d) * pow10[n]
			n++
		}
	}
	if n < 7 || !c.orgTails[tail] {
		return false
	}
	p := c.number(raw)
	return p.key != 0 && c.orgNums[p.key]
}

var pow10 = [...]uint64{1, 10, 100, 1000, 10000, 100000, 1000000}

// e164Key turns "+447911123456" into 447911123456 (E.164 has at most 15 digits).
func e164Key(s string) uint64 {
	var k uint64
	for i := 0; i < len(s); i++ {
		if d := s[i] - '0'; d <= 9 {
			k = k*10 + uint64(d)
		}
	}
	return k
}

// read calls row for each data row of dir/name; row returns "" for a good row or the reason
// it is malformed. Rows with a wrong number of fields never reach row.
func (c *checker) read(ctx context.Context, name string, fields int, row func([]string) string) error {
	f, err := os.Open(filepath.Join(c.dir, name))
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer f.Close()
	var rd io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		defer zr.Close()
		rd = zr
	}
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil {
		return fmt.Errorf("check %s: header: %w", name, err)
	}
	for n := 0; ; n++ {
		if n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		reason := BadFieldCount
		if len(rec) == fields {
			reason = row(rec)
		}
		if reason != "" {
			m := c.fig.BadRows[name]
			if m == nil {
				m = map[string]int64{}
				c.fig.BadRows[name] = m
			}
			m[reason]++
		}
	}
}

func parseTime(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339, s)
	return t.Unix(), err == nil
}

// parseCount reads a non-negative decimal integer.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// parsePence reads an amount such as 150.00 into pence.
func parsePence(s string) (int64, bool) {
	i := strings.IndexByte(s, '.')
	if i < 1 || len(s)-i != 3 {
		return 0, false
	}
	pounds, ok1 := parseCount(s[:i])
	pence, ok2 := parseCount(s[i+1:])
	return pounds*100 + pence, ok1 && ok2
}

func (c *checker) org(rec []string) string {
	switch {
	case rec[4] == "":
		return BadEmptyNumber
	}
	p := c.number(rec[4])
	if p.key == 0 {
		return BadImpossibleNumber
	}
	c.orgNums[p.key] = true
	c.orgTails[p.key%1e7] = true
	return ""
}

func (c *checker) account(rec []string) string {
	if _, ok := parseTime(rec[4]); !ok {
		return BadTime
	}
	if _, dup := c.accounts[rec[0]]; !dup {
		c.fig.Accounts++
	}
	c.accounts[rec[0]] = rec[3]
	return ""
}

func (c *checker) payment(rec []string) string {
	if _, ok := c.accounts[rec[1]]; !ok {
		return BadUnknownAccount
	}
	if _, ok := parseTime(rec[2]); !ok {
		return BadTime
	}
	pence, ok := parsePence(rec[3])
	if !ok {
		return BadAmount
	}
	c.fig.Payments++
	c.paid[rec[1]] += pence
	return ""
}

// endAccounts works out the identified users: UK accounts that paid at least £100.
func (c *checker) endAccounts() {
	c.ident = map[string]bool{}
	var total int64
	for id, p := range c.paid {
		total += p
		if p > 0 {
			c.fig.PayingAccounts++
		}
		if p >= 10000 && c.accounts[id] == "GB" {
			c.ident[id] = true
		}
	}
	c.fig.PaidGBP = float64(total) / 100
}

func (c *checker) call(rec []string) string {
	if _, ok := c.accounts[rec[1]]; !ok {
		return BadUnknownAccount
	}
	t, ok := parseTime(rec[2])
	if !ok {
		return BadTime
	}
	dur, ok := parseCount(rec[3])
	if !ok {
		return BadDuration
	}
	if rec[5] == "" {
		return BadEmptyCallee
	}
	p := c.number(rec[5])
	if p.key == 0 {
		return BadImpossibleCallee
	}
	f := &c.fig
	f.Calls++
	if c.first == 0 || t < c.first {
		c.first = t
	}
	c.last = max(c.last, t)
	office, weekend := ukTimeClass(t)
	if office {
		c.office++
	}
	if weekend {
		c.weekend++
	}
	f.Destinations[p.region]++
	if c.isOrgNumber(rec[4]) {
		f.OrgCLICalls++
	}
	fl := c.numbers[p.key]
	if fl&flagCalled == 0 {
		f.Callees++
		if p.region == "GB" {
			f.UKNumbers++
			fl |= checkUK
		}
	}
	fl |= flagCalled
	if p.region == "GB" {
		f.UKCalls++
		if dur > 60 {
			f.UKCallsOver60++
			if fl&flagLong == 0 {
				f.UKNumbersOver60++
			}
			if c.ident[rec[1]] && fl&flagIdentified == 0 {
				f.UKNumbersIdentified++
				fl |= flagIdentified
			}
		}
	}
	if dur > 60 {
		fl |= flagLong
	}
	c.numbers[p.key] = fl
	return ""
}

func (c *checker) truth(rec []string) string {
	f := &c.fig
	f.TruthRows++
	fl, called := c.numbers[e164Key(rec[0])]
	if !called {
		return "not_called"
	}
	if rec[1] != "true" {
		return ""
	}
	loss, ok := parsePence(rec[2])
	if !ok {
		return BadAmount
	}
	f.Defrauded++
	if fl&checkUK == 0 {
		return ""
	}
	f.UKDefrauded++
	c.ukLoss += loss
	if fl&flagLong == 0 {
		f.UKDefraudedShortOnly++
	}
	if rec[3] == "true" {
		f.Reports++
		c.repLoss += loss
		c.lossMax = max(c.lossMax, loss)
	}
	return ""
}

func (c *checker) finish() {
	f := &c.fig
	if f.Calls > 0 {
		f.FirstCall = time.Unix(c.first, 0).UTC()
		f.LastCall = time.Unix(c.last, 0).UTC()
		f.OfficeHoursShare = float64(c.office) / float64(f.Calls)
		f.WeekendShare = float64(c.weekend) / float64(f.Calls)
	}
	f.UKLossGBP = float64(c.ukLoss) / 100
	f.ReportedLossGBP = float64(c.repLoss) / 100
	f.MaxLossGBP = float64(c.lossMax) / 100
	if f.Reports > 0 {
		f.AvgReportedLossGBP = math.Round(f.ReportedLossGBP/float64(f.Reports)*100) / 100
	}
	if len(f.BadRows) == 0 {
		f.BadRows = nil
	}
}

// SetPeriod fills CallsPerMinute for a period of the given length (Check cannot know how long
// the period was from the calls alone).
func (f *Figures) SetPeriod(d time.Duration) {
	if d > 0 {
		f.CallsPerMinute = float64(f.Calls) / d.Minutes()
	}
}
