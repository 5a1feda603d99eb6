package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
)

func newPurgeCmd(g *globals) *cobra.Command {
	var (
		who                           staffFlag
		reportsBefore, messagesBefore string
		reason                        string
		dryRun                        bool
	)
	cmd := &cobra.Command{
		Use:   "purge [--reports-before DATE] [--messages-before DATE] [--dry-run] --reason TEXT",
		Short: "Delete old reports and alert messages, as the retention policy says (audited)",
		Long: `purge deletes personal data the retention policy says must go:

  --reports-before DATE   the public's reports received before DATE, with their links to calls
                          and accounts; the suspects' linked losses drop by their losses
  --messages-before DATE  alert messages last changed before DATE that are final (delivered,
                          failed, expired, suppressed) in a campaign that is done or cancelled,
                          with their delivery receipts. A number whose message is deleted can be
                          selected by a later campaign again.

It never deletes the evidence (sources, accounts, payments, calls, organisations, complaints),
opt-outs (they must be honoured), campaigns, or the audit log (append-only). DATE is YYYY-MM-DD
(midnight UTC) or an RFC 3339 time, not in the future. Run with --dry-run first: it prints the
same counts and deletes nothing. A purge is one transaction, recorded in the audit log with who
(--as), why (--reason) and the counts.

Backups made before the purge still hold what it deleted: they go when the backups expire.`,
		Example: `  unspoof purge --reports-before 2025-01-01 --messages-before 2025-01-01 --dry-run
  unspoof purge --reports-before 2025-01-01 --as alice --reason "retention: 24 months after the case closed"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now().UTC()
			p := unspoof.Purge{DryRun: dryRun, By: who.name(), Reason: reason, At: now}
			var err error
			if p.ReportsBefore, err = purgeDate("--reports-before", reportsBefore, now); err != nil {
				return err
			}
			if p.MessagesBefore, err = purgeDate("--messages-before", messagesBefore, now); err != nil {
				return err
			}
			if p.ReportsBefore.IsZero() && p.MessagesBefore.IsZero() {
				return usageError{errors.New("nothing to purge: give --reports-before DATE, --messages-before DATE or both")}
			}
			if !dryRun && reason == "" {
				return usageError{errors.New("--reason is required (it is kept in the audit log); try --dry-run first")}
			}
			s, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			ps, ok := s.(unspoof.PurgeStore)
			if !ok {
				return fmt.Errorf("purge: the %T store cannot purge", s)
			}
			res, err := ps.PurgePersonalData(cmd.Context(), &p)
			if err != nil {
				return err
			}
			printPurge(g.stdout, &p, res)
			return nil
		},
	}
	who.add(cmd)
	cmd.Flags().StringVar(&reportsBefore, "reports-before", "", "delete reports received before this `DATE`")
	cmd.Flags().StringVar(&messagesBefore, "messages-before", "", "delete final messages of finished campaigns last changed before this `DATE`")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; kept in the audit log)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be deleted and delete nothing")
	return cmd
}

// purgeDate reads a purge cut-off: "" is none; a date is its midnight UTC; nothing in the future.
func purgeDate(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, v); err != nil {
			return time.Time{}, usageError{fmt.Errorf("%s %q: a date (2025-01-31) or an RFC 3339 time", flag, v)}
		}
	}
	if t.After(now) {
		return time.Time{}, usageError{fmt.Errorf("%s %s is in the future", flag, v)}
	}
	return t.UTC(), nil
}

func printPurge(w io.Writer, p *unspoof.Purge, r *unspoof.PurgeResult) {
	verb := "deleted"
	if p.DryRun {
		verb = "would delete"
		fmt.Fprintln(w, "dry run: nothing deleted")
	}
	if !p.ReportsBefore.IsZero() {
		fmt.Fprintf(w, "%s %s reports received before %s (£%s of reported losses; the linked losses of %s accounts drop)\n",
			verb, count(r.Reports), p.ReportsBefore.Format(time.RFC3339), count(r.ReportLoss/100), count(r.LinkedAccounts))
	}
	if !p.MessagesBefore.IsZero() {
		fmt.Fprintf(w, "%s %s messages of finished campaigns, final and last changed before %s, and %s delivery receipts\n",
			verb, count(r.Messages), p.MessagesBefore.Format(time.RFC3339), count(r.Receipts))
	}
	fmt.Fprintln(w, "kept: the evidence, opt-outs, campaigns, the audit log, and messages not final or of campaigns not finished")
	if !p.DryRun {
		fmt.Fprintf(w, "recorded in the audit log: purge by %s, reason %q\n", p.By, p.Reason)
		fmt.Fprintln(w, "backups made before now still hold what was deleted, until they expire")
	}
}
