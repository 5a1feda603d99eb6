// Package ingest streams a seized service's files (CSV with any delimiter, or JSON Lines, either
// optionally gzip-compressed) into an evidence store: columns mapped to fields, numbers
// normalised, every row keeping the file and line it came from. A bad row never stops a load and
// is never lost: it goes to a quarantine file with its line, field and reason.
package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/unspoof/unspoof"
)

// Defaults for Config's zero fields.
const (
	DefaultRegion = "GB"
	DefaultMaxBad = 0.10
)

// Config says how to read one file.
type Config struct {
	Kind      unspoof.Kind
	Region    string            // default region numbers are read in; DefaultRegion if ""
	Mapping   map[string]string // column → field
	Format    string            // "csv" or "jsonl"; detected if ""
	Delimiter rune              // CSV delimiter; detected from the header if 0
	Location  *time.Location    // zone of times written without one; UTC if nil

	// Quarantine is where bad rows go; "" puts them next to the input as NAME.quarantine.csv.
	Quarantine string
	// MaxBad is the share of bad rows above which the load is abandoned and the store left as it
	// was; 0 means DefaultMaxBad, 1 never abandons.
	MaxBad float64

	By string // who ingests, recorded with the source

	// Progress, if set, is called from another goroutine about four times a second.
	Progress func(Progress)
}

// Progress is how far a load has got.
type Progress struct {
	Bytes, Size int64 // of the file as stored (compressed if gzip)
	Rows, Bad   int64
	Elapsed     time.Duration
}

// Result is what one File call did.
type Result struct {
	Source   *unspoof.Source
	Already  bool             // the same file was loaded before: nothing was done
	Reasons  map[string]int64 // bad rows per "field: reason"
	Elapsed  time.Duration
	Aborted  bool // too many bad rows: nothing was loaded
	Fallback int64
}

// ErrTooManyBad is returned (wrapped) when a file's bad rows pass Config.MaxBad.
var ErrTooManyBad = errors.New("too many bad rows")

// File loads the file at path into store.
func File(ctx context.Context, store unspoof.EvidenceStore, path string, cfg Config) (*Result, error) {
	if _, ok := fields[cfg.Kind]; !ok {
		return nil, unspoof.Errorf(unspoof.EINVALID, "unknown kind %q (want accounts, payments, calls, orgs or complaints)", cfg.Kind)
	}
	cfg.Region = strings.ToUpper(cmp.Or(cfg.Region, DefaultRegion))
	cfg.MaxBad = cmp.Or(cfg.MaxBad, DefaultMaxBad)
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	start := time.Now()
	sum, size, err := digest(path)
	if err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: %v", path, err)
	}
	res := &Result{Reasons: map[string]int64{}}
	if prev, err := store.FindSourceByDigest(ctx, cfg.Kind, sum); err == nil {
		res.Source, res.Already = prev, true
		return res, nil
	} else if unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
		return nil, err
	}
	src := &unspoof.Source{
		Kind: cfg.Kind, Name: path, SHA256: sum, Size: size, Region: cfg.Region,
		Synthetic: synthetic(path), IngestedBy: cfg.By,
	}
	res.Source = src

	var accounts map[string]int64
	if cfg.Kind == unspoof.KindCalls || cfg.Kind == unspoof.KindPayments || cfg.Kind == unspoof.KindAccounts {
		if accounts, err = store.AccountIDs(ctx); err != nil {
			return nil, fmt.Errorf("read accounts: %w", err)
		}
	}

	f, err := os.Open(path)
	if err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: %v", path, err)
	}
	defer f.Close()
	counter := &countingReader{r: f}
	recs, err := openRecords(counter, path, cfg.Kind, &cfg)
	if err != nil {
		return nil, err
	}
	q := &quarantine{path: cmp.Or(cfg.Quarantine, path+".quarantine.csv"), file: path}

	p := &parser{cfg: &cfg, file: path, norm: newNormaliser(cfg.Region), accounts: accounts, q: q, res: res}
	stopProgress := p.reportProgress(ctx, counter, size, start)
	err = store.Load(ctx, src, func(l unspoof.Loader) error { return p.run(ctx, recs, l, src) })
	stopProgress()
	if qerr := q.close(); err == nil && qerr != nil {
		err = qerr
	}
	res.Elapsed = time.Since(start)
	src.QuarantinePath = q.written()
	if errors.Is(err, ErrTooManyBad) {
		res.Aborted = true
	}
	if err != nil {
		return res, err
	}
	return res, nil
}

// synthetic reports whether path sits next to a simulator manifest that says it is synthetic.
func synthetic(path string) bool {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "manifest.json"))
	if err != nil {
		return false
	}
	var m struct {
		Synthetic bool `json:"synthetic"`
	}
	return json.Unmarshal(b, &m) == nil && m.Synthetic
}

// parser turns records into rows; it runs in its own goroutine while the store writes.
type parser struct {
	cfg      *Config
	file     string
	norm     *normaliser
	accounts map[string]int64
	q        *quarantine
	res      *Result

	mu         sync.Mutex
	rows, bads int64

	seen map[string]bool // accounts or org numbers already in this file
}

// batch is a slice of parsed rows handed from the parser to the writer.
type batch struct {
	calls      []unspoof.Call
	accounts   []unspoof.Account
	payments   []unspoof.Payment
	orgs       []orgRow
	complaints []unspoof.Complaint
}

type orgRow struct {
	org unspoof.Org
	num unspoof.OrgNumber
}

func (b *batch) reset() {
	b.calls, b.accounts, b.payments, b.orgs, b.complaints = b.calls[:0], b.accounts[:0], b.payments[:0], b.orgs[:0], b.complaints[:0]
}

const batchRows = 2048

func (p *parser) run(ctx context.Context, recs records, l unspoof.Loader, src *unspoof.Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *batch, 4)
	free := make(chan *batch, 6)
	for range 6 {
		free <- &batch{}
	}
	perr := make(chan error, 1)
	go func() {
		defer close(full)
		perr <- p.parse(ctx, recs, full, free)
	}()
	var werr error
	for b := range full {
		if werr == nil {
			werr = p.write(ctx, l, b)
			if werr != nil {
				cancel()
			}
		}
		b.reset()
		free <- b
	}
	if err := <-perr; err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	src.RowsRead, src.RowsQuarantined = p.rows, p.bads
	src.RowsLoaded = p.rows - p.bads
	src.QuarantinePath = p.q.written()
	if p.rows > 0 && float64(p.bads) > p.cfg.MaxBad*float64(p.rows) {
		return p.tooMany()
	}
	return nil
}

func (p *parser) tooMany() error {
	return fmt.Errorf("%s: %w: %d of %d rows (%.1f%%) are bad, over the limit of %.1f%% (--max-bad); nothing was loaded; see %s",
		p.file, ErrTooManyBad, p.bads, p.rows, 100*float64(p.bads)/float64(max(p.rows, 1)), 100*p.cfg.MaxBad, p.q.path)
}

func (p *parser) write(ctx context.Context, l unspoof.Loader, b *batch) error {
	for i := range b.calls {
		if err := l.AddCall(ctx, &b.calls[i]); err != nil {
			return err
		}
	}
	for i := range b.accounts {
		if err := l.AddAccount(ctx, &b.accounts[i]); err != nil {
			return err
		}
	}
	for i := range b.payments {
		if err := l.AddPayment(ctx, &b.payments[i]); err != nil {
			return err
		}
	}
	for i := range b.orgs {
		if err := l.AddOrgNumber(ctx, &b.orgs[i].org, &b.orgs[i].num); err != nil {
			return err
		}
	}
	for i := range b.complaints {
		if err := l.AddComplaint(ctx, &b.complaints[i]); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) parse(ctx context.Context, recs records, full, free chan *batch) error {
	vals := make([]string, len(fields[p.cfg.Kind]))
	var b *batch
	n := 0
	send := func() error {
		select {
		case full <- b:
			b, n = nil, 0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		if b == nil {
			select {
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		line, err := recs.next(vals)
		if err == io.EOF {
			break
		}
		var re *rowError
		if err != nil && !errors.As(err, &re) {
			return err
		}
		if re == nil {
			re = p.row(b, vals, line)
		}
		p.mu.Lock()
		p.rows++
		if re != nil {
			p.bads++
		}
		rows, bads := p.rows, p.bads
		p.mu.Unlock()
		if re != nil {
			p.res.Reasons[re.Error()]++
			if err := p.q.add(line, re, recs.raw()); err != nil {
				return err
			}
			// Give up early on a file that is clearly wrong, rather than after reading it all.
			if rows >= 10000 && float64(bads) > p.cfg.MaxBad*float64(rows) {
				return p.tooMany()
			}
		}
		if n++; n == batchRows {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if b != nil && n > 0 {
		return send()
	}
	if b != nil {
		free <- b
	}
	return nil
}

// row parses one record of vals into b; a *rowError says why it is bad.
func (p *parser) row(b *batch, v []string, line int64) *rowError {
	ref := unspoof.Ref{SourceRow: line}
	switch p.cfg.Kind {
	case unspoof.KindCalls:
		return p.call(b, v, ref)
	case unspoof.KindAccounts:
		return p.account(b, v, ref)
	case unspoof.KindPayments:
		return p.payment(b, v, ref)
	case unspoof.KindOrgs:
		return p.org(b, v, ref)
	case unspoof.KindComplaints:
		return p.complaint(b, v, ref)
	}
	return badRow("", "unknown kind")
}

func (p *parser) account(b *batch, v []string, ref unspoof.Ref) *rowError {
	// account_id username email country signup_at ips
	ext := strings.TrimSpace(v[0])
	if ext == "" {
		return badRow("account_id", "empty")
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if _, ok := p.accounts[ext]; ok || p.seen[ext] {
		return badRow("account_id", "duplicate account %q", ext)
	}
	a := unspoof.Account{ExternalID: ext, Username: strings.TrimSpace(v[1]), Email: strings.TrimSpace(v[2]),
		Country: strings.ToUpper(strings.TrimSpace(v[3])), Ref: ref}
	if s := strings.TrimSpace(v[4]); s != "" {
		t, err := parseTime(s, p.cfg.Location)
		if err != nil {
			return badRow("signup_at", "unreadable time %q", s)
		}
		a.SignupAt = t
	}
	a.IPs = strings.FieldsFunc(v[5], func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
	p.seen[ext] = true
	b.accounts = append(b.accounts, a)
	return nil
}

func (p *parser) accountID(v string) (int64, *rowError) {
	ext := strings.TrimSpace(v)
	if ext == "" {
		return 0, badRow("account_id", "empty")
	}
	id, ok := p.accounts[ext]
	if !ok {
		return 0, badRow("account_id", "unknown account %q (ingest the accounts file first)", ext)
	}
	return id, nil
}

func (p *parser) payment(b *batch, v []string, ref unspoof.Ref) *rowError {
	// payment_id account_id paid_at amount currency method
	id, re := p.accountID(v[1])
	if re != nil {
		return re
	}
	t, err := parseTime(v[2], p.cfg.Location)
	if err != nil {
		return badRow("paid_at", "unreadable time %q", v[2])
	}
	amt, ok := parseAmount(v[3])
	if !ok {
		return badRow("amount", "not an amount: %q", v[3])
	}
	cur := strings.ToUpper(cmp.Or(strings.TrimSpace(v[4]), "GBP"))
	if len(cur) != 3 {
		return badRow("currency", "not an ISO 4217 code: %q", v[4])
	}
	b.payments = append(b.payments, unspoof.Payment{ExternalID: strings.TrimSpace(v[0]), AccountID: id, PaidAt: t,
		AmountMinor: amt, Currency: cur, Method: strings.TrimSpace(v[5]), Ref: ref})
	return nil
}

func (p *parser) call(b *batch, v []string, ref unspoof.Ref) *rowError {
	// call_id account_id started_at duration_s cli callee status
	id, re := p.accountID(v[1])
	if re != nil {
		return re
	}
	t, err := parseTime(v[2], p.cfg.Location)
	if err != nil {
		return badRow("started_at", "unreadable time %q", v[2])
	}
	var secs int64
	if s := strings.TrimSpace(v[3]); s != "" {
		n, ok := atoi(s)
		if !ok || n > 7*24*3600 {
			return badRow("duration_s", "not a duration in whole seconds: %q", v[3])
		}
		secs = n
	}
	callee, err := p.norm.phone(v[5])
	if err != nil {
		return numberError("callee", v[5], err)
	}
	cli, err := p.norm.phone(v[4])
	if err != nil { // a spoofed CLI may be anything: keep it as given
		cli = unspoof.Phone{Raw: v[4]}
	}
	b.calls = append(b.calls, unspoof.Call{ExternalID: strings.TrimSpace(v[0]), AccountID: id, StartedAt: t,
		Duration: time.Duration(secs) * time.Second, Status: strings.ToLower(strings.TrimSpace(v[6])),
		CLI: cli, Callee: callee, Ref: ref})
	return nil
}

func numberError(field, raw string, err error) *rowError {
	if err == errEmpty {
		return badRow(field, "empty")
	}
	return badRow(field, "%v: %q", err, raw)
}

func atoi(s string) (int64, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (p *parser) org(b *batch, v []string, ref unspoof.Ref) *rowError {
	// org_id name sector country number
	ext, name := strings.TrimSpace(v[0]), strings.TrimSpace(v[1])
	if ext == "" {
		return badRow("org_id", "empty")
	}
	if name == "" {
		return badRow("name", "empty")
	}
	num, err := p.norm.phone(v[4])
	if err != nil {
		return numberError("number", v[4], err)
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	key := ext + " " + num.E164
	if p.seen[key] {
		return badRow("number", "duplicate: organisation %s already has %s", ext, num.E164)
	}
	p.seen[key] = true
	b.orgs = append(b.orgs, orgRow{
		org: unspoof.Org{ExternalID: ext, Name: name, Sector: strings.TrimSpace(v[2]), Country: strings.ToUpper(strings.TrimSpace(v[3]))},
		num: unspoof.OrgNumber{Phone: num, Ref: ref},
	})
	return nil
}

func (p *parser) complaint(b *batch, v []string, ref unspoof.Ref) *rowError {
	// number called_at created_at city state area_code subject robocall
	num, err := p.norm.phone(v[0])
	if err != nil {
		return numberError("number", v[0], err)
	}
	c := unspoof.Complaint{Caller: num, City: strings.TrimSpace(v[3]), State: strings.TrimSpace(v[4]),
		AreaCode: strings.TrimSpace(v[5]), Subject: strings.TrimSpace(v[6]), Ref: ref}
	for i, dst := range []*time.Time{&c.CalledAt, &c.CreatedAt} {
		if s := strings.TrimSpace(v[1+i]); s != "" {
			t, err := parseTime(s, p.cfg.Location)
			if err != nil {
				return badRow(FieldNames(unspoof.KindComplaints)[2+i], "unreadable time %q", s)
			}
			*dst = t
		}
	}
	robo, ok := parseBool(v[7])
	if !ok {
		return badRow("robocall", "not yes or no: %q", v[7])
	}
	c.Robocall = robo
	b.complaints = append(b.complaints, c)
	return nil
}

// reportProgress calls cfg.Progress every 250 ms until the returned stop is called.
func (p *parser) reportProgress(ctx context.Context, c *countingReader, size int64, start time.Time) (stop func()) {
	if p.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	report := func() {
		p.mu.Lock()
		pr := Progress{Bytes: c.n.Load(), Size: size, Rows: p.rows, Bad: p.bads, Elapsed: time.Since(start)}
		p.mu.Unlock()
		p.cfg.Progress(pr)
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-done:
				report()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
