// Package report takes the public's reports of spoofed calls: it checks what they typed, gives
// each report a number, and links it to the evidence: to its victim (by reference code, then
// by number), to the calls that victim received, and through them to the accounts that made
// them, attributing the reported loss to those accounts.
package report

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/victim"
)

// Limits on what a report may hold, in characters.
const (
	MaxStory   = 5000
	MaxShort   = 200 // organisation, contact, reference, phone
	MaxLossGBP = 100_000_000
)

// Ways money was paid, as the form offers them.
var PaidBy = []string{"bank-transfer", "card", "cash", "crypto", "gift-cards", "other"}

// ContactBy are the contact preferences the form offers.
var ContactBy = []string{"phone", "email", "none"}

// Form is a report as typed on the portal, every field a string.
type Form struct {
	Reference string
	Phone     string
	Day       string
	Month     string
	Year      string
	Org       string
	Lost      string // "yes" or "no"
	Amount    string // pounds, "1,250.50" or "£1250"
	PaidBy    string
	Story     string
	ContactBy string
	Contact   string
	Consent   string // "yes" when ticked
}

// FieldError is one problem with one field, worded for the person who typed it.
type FieldError struct {
	Field   string // the form field's name: "phone", "called-on", "amount"…
	Message string
}

// Check reads a form into a report, or says what is wrong with it, field by field, in the
// order the fields appear. now bounds the date of the call.
func Check(f *Form, now time.Time) (*unspoof.Report, []FieldError) {
	for _, p := range []*string{&f.Reference, &f.Phone, &f.Day, &f.Month, &f.Year, &f.Org, &f.Lost, &f.Amount, &f.PaidBy,
		&f.Story, &f.ContactBy, &f.Contact, &f.Consent} {
		*p = clean(*p)
	}
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }
	tooLong := func(field, label, v string, n int) bool {
		if utf8.RuneCountInString(v) > n {
			bad(field, fmt.Sprintf("%s must be %d characters or fewer", label, n))
			return true
		}
		return false
	}
	r := &unspoof.Report{ReferenceGiven: strings.TrimSpace(f.Reference), PhoneGiven: strings.TrimSpace(f.Phone),
		OrgClaimed: strings.TrimSpace(f.Org), Story: strings.TrimSpace(f.Story), ContactBy: f.ContactBy,
		Contact: strings.TrimSpace(f.Contact)}

	if r.ReferenceGiven != "" && !tooLong("reference", "Reference", r.ReferenceGiven, MaxShort) {
		code, err := victim.NormaliseCode(r.ReferenceGiven)
		if err != nil {
			bad("reference", "Enter the reference exactly as it is in the text message, like K7QM-3XHT-9PXC, or leave it empty")
		} else {
			r.Reference = code
		}
	}
	switch {
	case r.PhoneGiven == "":
		bad("phone", "Enter the phone number that received the call")
	case tooLong("phone", "Phone number", r.PhoneGiven, MaxShort):
	default:
		n, err := phonenum.Parse(r.PhoneGiven, "GB")
		if err != nil || n.Possible != phonenum.IsPossible {
			bad("phone", "Enter a phone number, like 07700 900 982 or 020 7946 0000")
		} else {
			r.E164 = n.E164
		}
	}
	if d, m, y := strings.TrimSpace(f.Day), strings.TrimSpace(f.Month), strings.TrimSpace(f.Year); d+m+y != "" {
		day, e1 := strconv.Atoi(d)
		month, e2 := strconv.Atoi(m)
		year, e3 := strconv.Atoi(y)
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		switch {
		case e1 != nil || e2 != nil || e3 != nil || t.Day() != day || int(t.Month()) != month || year < 1000:
			bad("called-on", "Enter a real date, like 27 3 2022, or leave the date empty")
		case t.After(now):
			bad("called-on", "The date of the call must be today or in the past")
		case year < 2000:
			bad("called-on", "The date of the call must be after 2000")
		default:
			r.CalledOn = t
		}
	}
	tooLong("org", "Who the caller said they were", r.OrgClaimed, MaxShort)
	switch f.Lost {
	case "yes":
		r.Lost = true
		pence, err := ParsePounds(f.Amount)
		switch {
		case strings.TrimSpace(f.Amount) == "":
			bad("amount", "Enter how much money you lost, or an estimate")
		case err != nil:
			bad("amount", "Enter the amount in pounds, like 250 or 1,250.50")
		case pence <= 0:
			bad("amount", "The amount must be more than £0")
		case pence > MaxLossGBP*100:
			bad("amount", "The amount must be less than £100,000,000")
		default:
			r.LossMinor = pence
		}
		if f.PaidBy != "" && !slices.Contains(PaidBy, f.PaidBy) {
			bad("paid-by", "Select how the money was paid")
		}
		r.PaidBy = f.PaidBy
	case "no":
	default:
		bad("lost", "Select yes if you lost money")
	}
	tooLong("story", "What happened", r.Story, MaxStory)
	switch f.ContactBy {
	case "phone", "email":
		switch {
		case r.Contact == "":
			bad("contact", "Enter your "+map[string]string{"phone": "phone number", "email": "email address"}[f.ContactBy])
		case tooLong("contact", "Contact details", r.Contact, MaxShort):
		case f.ContactBy == "email" && !looksLikeEmail(r.Contact):
			bad("contact", "Enter an email address in the correct format, like name@example.com")
		case f.ContactBy == "phone":
			if _, err := phonenum.Parse(r.Contact, "GB"); err != nil {
				bad("contact", "Enter a phone number, like 07700 900 982")
			}
		}
	case "none":
		r.Contact = ""
	default:
		bad("contact-by", "Select how we may contact you")
	}
	if f.Consent != "yes" {
		bad("consent", "You must agree before we can keep and use your report")
	}
	r.Consent = f.Consent == "yes"
	return r, errs
}

// clean makes typed text safe to store on any engine: invalid UTF-8 becomes U+FFFD, and control
// characters other than newline and tab are dropped (a NUL is refused by PostgreSQL).
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func looksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-3 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, " <>\"")
}

// ParsePounds reads an amount of money in pounds ("£1,250.50", "250") as pence.
func ParsePounds(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "£"))
	s = strings.ReplaceAll(s, ",", "")
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && !dot || len(whole) > 12 || len(frac) > 2 || dot && frac == "" {
		return 0, fmt.Errorf("amount %q: not pounds and pence", s)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q: not pounds and pence", s)
		}
	}
	p, _ := strconv.ParseInt(cmp.Or(whole, "0"), 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	return p*100 + f, nil
}

// NumberAlphabet is the characters of report numbers: the reference codes' alphabet, with no
// two characters that look alike.
const NumberAlphabet = victim.Alphabet

// NewNumber returns a new public report number: "R-" and 8 characters (40 bits) from
// crypto/rand. It identifies a report when its author calls; it unlocks nothing.
func NewNumber() string {
	var b [8]byte
	rand.Read(b[:])
	out := []byte("R-")
	for _, x := range b {
		out = append(out, NumberAlphabet[int(x)%len(NumberAlphabet)])
	}
	return string(out)
}

// Store is what linking reads and writes.
type Store interface {
	unspoof.ReportStore
	FindVictimByNumber(ctx context.Context, e164 string) (*unspoof.Victim, error)
	FindCalls(ctx context.Context, f unspoof.CallFilter) ([]*unspoof.Call, int, error)
}

// DefaultLongCall is the call length over which a call counts for attributing a loss.
const DefaultLongCall = 60 * time.Second

// Link finds what a report refers to:
//   - its victim: by reference code first (the code names exactly one number), else by the
//     number that received the call, in the victims ranking or, failing that, among the
//     numbers called at all;
//   - the calls to that number, and the accounts that made them;
//   - the loss, attributed to those accounts in proportion to their calls longer than longCall
//     (a fraud needs a conversation; an account with only short calls gets none of it), or to
//     all their calls when none was that long; pence left over by the division go to the
//     accounts with the most such calls, so the shares add up exactly.
//
// A report that matches nothing is unmatched: a member of staff reviews it.
func Link(ctx context.Context, s Store, r *unspoof.Report, longCall time.Duration) (*unspoof.ReportLink, error) {
	l := &unspoof.ReportLink{ReportID: r.ID, Status: unspoof.ReportUnmatched}
	if r.Reference != "" {
		if v, err := s.FindVictimByCode(ctx, r.Reference); err == nil {
			l.Match, l.VictimE164 = unspoof.MatchReference, v.E164
		} else if unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
			return nil, err
		}
	}
	if l.Match == "" && r.E164 != "" {
		if v, err := s.FindVictimByNumber(ctx, r.E164); err == nil {
			l.Match, l.VictimE164 = unspoof.MatchNumber, v.E164
		} else if unspoof.ErrorCode(err) != unspoof.ENOTFOUND {
			return nil, err
		}
	}
	number := cmp.Or(l.VictimE164, r.E164)
	if number == "" {
		return l, nil
	}
	calls, _, err := s.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &number})
	if err != nil {
		return nil, err
	}
	if len(calls) == 0 {
		return l, nil
	}
	if l.Match == "" {
		l.Match, l.VictimE164 = unspoof.MatchNumber, number
	}
	l.Status = unspoof.ReportMatched
	type tally struct{ all, long int64 }
	by := map[int64]*tally{}
	var anyLong bool
	for _, c := range calls {
		l.CallIDs = append(l.CallIDs, c.ID)
		t := by[c.AccountID]
		if t == nil {
			t = &tally{}
			by[c.AccountID] = t
		}
		t.all++
		if c.Duration > longCall {
			t.long++
			anyLong = true
		}
	}
	weight := func(a *unspoof.ReportAccount) int64 {
		if anyLong {
			return by[a.AccountID].long
		}
		return by[a.AccountID].all
	}
	var total int64
	for id, t := range by {
		l.Accounts = append(l.Accounts, &unspoof.ReportAccount{AccountID: id, Calls: int(t.all)})
	}
	slices.SortFunc(l.Accounts, func(a, b *unspoof.ReportAccount) int {
		return cmp.Or(cmp.Compare(weight(b), weight(a)), cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.AccountID, b.AccountID))
	})
	for _, a := range l.Accounts {
		total += weight(a)
	}
	if r.Lost && r.LossMinor > 0 && total > 0 {
		var given int64
		for _, a := range l.Accounts {
			a.LossMinor = r.LossMinor * weight(a) / total
			given += a.LossMinor
		}
		for i := 0; given < r.LossMinor; i = (i + 1) % len(l.Accounts) {
			if weight(l.Accounts[i]) > 0 { // leftover pence go to the heaviest accounts first
				l.Accounts[i].LossMinor++
				given++
			}
		}
	}
	return l, nil
}

// Linker links new reports in the background, as they arrive: the portal answers before any
// lookup, so that its answer (and how long it takes) says nothing about the evidence.
type Linker struct {
	Store    Store
	LongCall time.Duration // DefaultLongCall if zero
	Logger   *slog.Logger
	kick     chan struct{}
}

// NewLinker returns a Linker.
func NewLinker(s Store, logger *slog.Logger) *Linker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Linker{Store: s, LongCall: DefaultLongCall, Logger: logger.With("component", "report"), kick: make(chan struct{}, 1)}
}

// Kick wakes the linker: a report has arrived.
func (k *Linker) Kick() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// Run links new reports until ctx is done: delay after a Kick (so that the work of linking never
// overlaps the request that filed the report, and cannot be timed through it), and every
// interval anyway.
func (k *Linker) Run(ctx context.Context, delay, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := k.LinkNew(ctx); err != nil && ctx.Err() == nil {
			k.Logger.Error("linking reports", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-k.kick:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
		case <-t.C:
		}
	}
}

// LinkNew links every report still new and returns how many it linked.
func (k *Linker) LinkNew(ctx context.Context) (int, error) {
	n := 0
	for {
		rs, err := k.Store.ReportsToLink(ctx, 100)
		if err != nil || len(rs) == 0 {
			return n, err
		}
		for _, r := range rs {
			l, err := Link(ctx, k.Store, r, cmp.Or(k.LongCall, DefaultLongCall))
			if err != nil {
				return n, fmt.Errorf("link report %d: %w", r.ID, err)
			}
			if err := k.Store.SaveReportLink(ctx, l); err != nil {
				return n, fmt.Errorf("link report %d: %w", r.ID, err)
			}
			n++
		}
	}
}
