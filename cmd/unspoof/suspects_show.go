package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
)

// activity is what one account's calls add up to, for suspects show and the exports.
type activity struct {
	calls     []*unspoof.Call
	days      []dayCount // calls per day, in day order
	peak      int        // most calls started in one minute
	peakAt    time.Time  // that minute
	victims   []*reached // UK numbers reached over the threshold, most long calls first
	orgs      []*impersonation
	orgByNum  map[string]*unspoof.Org
	longerDur time.Duration
}

type dayCount struct {
	day         time.Time
	calls, long int
}

// reached is one victim of an account: calls to it, how many over the threshold, and the
// organisations presented to it.
type reached struct {
	e164        string
	calls, long int
	first       time.Time
	orgCalls    map[int64]int // org id → calls to this number presenting its number
}

// impersonation is one organisation an account presented the number of.
type impersonation struct {
	org   *unspoof.Org
	calls int
}

// readActivity reads every call of account and sums them up; a long call lasts more than
// longer. Victims are UK numbers (+44), not organisations' own, reached by a long call.
func readActivity(ctx context.Context, s caseStore, accountID int64, longer time.Duration) (*activity, error) {
	id := accountID
	calls, _, err := s.FindCalls(ctx, unspoof.CallFilter{AccountID: &id})
	if err != nil {
		return nil, err
	}
	orgs, err := s.OrgsByNumber(ctx)
	if err != nil {
		return nil, err
	}
	a := &activity{calls: calls, orgByNum: orgs, longerDur: longer}
	perMinute := map[int64]int{}
	byNumber := map[string]*reached{}
	byOrg := map[int64]*impersonation{}
	for _, c := range calls { // in start order
		day := c.StartedAt.UTC().Truncate(24 * time.Hour)
		if n := len(a.days); n == 0 || !a.days[n-1].day.Equal(day) {
			a.days = append(a.days, dayCount{day: day})
		}
		d := &a.days[len(a.days)-1]
		d.calls++
		long := c.Duration > longer
		if long {
			d.long++
		}
		m := c.StartedAt.Unix() / 60
		perMinute[m]++
		if perMinute[m] > a.peak || perMinute[m] == a.peak && m*60 < a.peakAt.Unix() {
			a.peak, a.peakAt = perMinute[m], time.Unix(m*60, 0).UTC()
		}
		org := orgs[c.CLI.E164]
		if c.CLI.E164 == "" {
			org = nil
		}
		if org != nil {
			im := byOrg[org.ID]
			if im == nil {
				im = &impersonation{org: org}
				byOrg[org.ID] = im
			}
			im.calls++
		}
		if !strings.HasPrefix(c.Callee.E164, "+44") || orgs[c.Callee.E164] != nil {
			continue
		}
		r := byNumber[c.Callee.E164]
		if r == nil {
			r = &reached{e164: c.Callee.E164, first: c.StartedAt, orgCalls: map[int64]int{}}
			byNumber[c.Callee.E164] = r
		}
		r.calls++
		if long {
			r.long++
		}
		if org != nil {
			r.orgCalls[org.ID]++
		}
	}
	for _, r := range byNumber {
		if r.long > 0 {
			a.victims = append(a.victims, r)
		}
	}
	slices.SortFunc(a.victims, func(x, y *reached) int {
		return cmp.Or(cmp.Compare(y.long, x.long), strings.Compare(x.e164, y.e164))
	})
	for _, im := range byOrg {
		a.orgs = append(a.orgs, im)
	}
	slices.SortFunc(a.orgs, func(x, y *impersonation) int {
		return cmp.Or(cmp.Compare(y.calls, x.calls), cmp.Compare(x.org.ID, y.org.ID))
	})
	return a, nil
}

func newSuspectsShowCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "show ACCOUNT",
		Short: "Show one ranked account and its timeline",
		Long: `show prints a ranked account (by the service's own account id), how its harm score is made
up, and its timeline: payments, calls per day, peak calls in one minute, the victims it reached
(UK numbers, calls over 60 s) and the organisations it impersonated.`,
		Example: `  unspoof suspects show U000123
  unspoof suspects show U000123 --limit 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit < 0 {
				return usageError{fmt.Errorf("--limit must not be negative")}
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			sp, err := s.FindSuspectByAccount(ctx, args[0])
			if err != nil {
				return err
			}
			payments, err := s.FindPayments(ctx, sp.AccountID)
			if err != nil {
				return err
			}
			a, err := readActivity(ctx, s, sp.AccountID, 60*time.Second)
			if err != nil {
				return err
			}
			return printSuspect(g.stdout, sp, payments, a, limit)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "list at most this many victims and days (0: all)")
	return cmd
}

func printSuspect(out io.Writer, sp *unspoof.Suspect, payments []*unspoof.Payment, a *activity, limit int) error {
	upTo := func(n int) int {
		if limit == 0 {
			return n
		}
		return min(n, limit)
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.DateTime)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k string, val any) { fmt.Fprintf(w, "%s\t%v\n", k, val) }
	row("account", fmt.Sprintf("%s (username %q, country %q)", sp.ExternalID, sp.Username, sp.Country))
	row("rule / rank", fmt.Sprintf("%s / %d", sp.Rule, sp.Rank))
	row("harm", fmt.Sprintf("%.2f", sp.Score))
	row("met-2022 identifies it", sp.Identified)
	row("paid", fmt.Sprintf("£%.2f in %d payments", float64(sp.PaidMinor)/100, sp.Payments))
	row("calls", fmt.Sprintf("%d (%d over 60 s)", sp.Calls, sp.LongCalls))
	row("victims reached", sp.Victims)
	row("organisations", fmt.Sprintf("%d (%d calls presenting one)", sp.Orgs, sp.OrgCalls))
	row("peak calls per minute", fmt.Sprintf("%d (%s)", a.peak, when(a.peakAt)))
	row("first – last activity", when(sp.FirstActivity)+" – "+when(sp.LastActivity))
	row("ranked at", when(sp.RankedAt))
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nharm score:")
	if err := printSuspectTerms(out, sp); err != nil {
		return err
	}

	fmt.Fprintf(out, "\npayments (%d):\n", len(payments))
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  PAID (UTC)\tAMOUNT\tMETHOD\tID\tSOURCE:LINE")
	for _, p := range payments {
		fmt.Fprintf(w, "  %s\t%.2f %s\t%s\t%s\t%d:%d\n", when(p.PaidAt), float64(p.AmountMinor)/100, p.Currency, p.Method,
			p.ExternalID, p.SourceID, p.SourceRow)
	}
	w.Flush()

	fmt.Fprintf(out, "\ncalls per day (%d of %d days):\n", upTo(len(a.days)), len(a.days))
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  DAY\tCALLS\tOVER 60 S")
	for _, d := range a.days[:upTo(len(a.days))] {
		fmt.Fprintf(w, "  %s\t%d\t%d\n", d.day.Format(time.DateOnly), d.calls, d.long)
	}
	w.Flush()

	fmt.Fprintf(out, "\nvictims reached (%d of %d, most calls over 60 s first):\n", upTo(len(a.victims)), len(a.victims))
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  NUMBER\tCALLS\tOVER 60 S\tFIRST CALL")
	for _, r := range a.victims[:upTo(len(a.victims))] {
		fmt.Fprintf(w, "  %s\t%d\t%d\t%s\n", r.e164, r.calls, r.long, when(r.first))
	}
	w.Flush()

	fmt.Fprintf(out, "\norganisations impersonated (%d):\n", len(a.orgs))
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  ORGANISATION\tSECTOR\tCALLS")
	for _, im := range a.orgs {
		fmt.Fprintf(w, "  %s\t%s\t%d\n", im.org.Name, im.org.Sector, im.calls)
	}
	return w.Flush()
}
