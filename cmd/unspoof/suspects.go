package main

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/suspect"
)

func newSuspectsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suspects",
		Short: "Rank the service's users for investigators, show and export them",
		Long: `suspects builds the suspects table from the evidence and shows it.

Rules (--rule):
  met-2022  the Metropolitan Police's rule for iSpoof: UK users (accounts.country GB) who paid
            the service at least £100 in all.
  harm      every account that paid or called, ranked by a transparent harm score (see
            "unspoof suspects explain"): unique victims (UK numbers reached by a call over
            60 s), calls over 60 s, organisations impersonated (presented number of an
            organisation), money paid to the service and, once reports exist, the victims'
            reported losses linked to the account (0 until then).

Both rules rank by the harm score, then account id; rank 1 is the first to go after.`,
		Example: `  unspoof suspects rank --rule harm
  unspoof suspects list --limit 20
  unspoof suspects show U000123
  unspoof suspects export --format graphml --top 50 --out suspects.graphml`,
	}
	cmd.AddCommand(newSuspectsRankCmd(g), newSuspectsExplainCmd(g), newSuspectsListCmd(g), newSuspectsShowCmd(g),
		newSuspectsExportCmd(g))
	return cmd
}

func newSuspectsRankCmd(g *globals) *cobra.Command {
	var rule string
	cmd := &cobra.Command{
		Use:   "rank --rule met-2022|harm",
		Short: "Build the suspects table from the evidence (replaces the previous ranking)",
		Long: `rank reads every call once, grouped by account, with each account's payments, scores each
account and replaces the suspects table with those --rule selects, in one transaction.`,
		Example: `  unspoof suspects rank --rule met-2022
  unspoof suspects rank --rule harm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := suspect.CheckRule(rule); err != nil {
				return err
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			r, err := suspect.Rank(ctx, s, suspect.Config{Rule: rule})
			if err != nil {
				return err
			}
			ranked := time.Since(start)
			if err := suspect.Save(ctx, s, r); err != nil {
				return err
			}
			g.logger.Debug("suspects ranked", "rule", r.Rule, "suspects", len(r.Suspects), "aggregate", ranked,
				"total", time.Since(start))
			fmt.Fprintf(g.stdout, "suspects rank: rule %s selected %s of %s accounts in %s\n", r.Rule,
				count(int64(len(r.Suspects))), count(int64(r.Accounts)), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&rule, "rule", suspect.RuleHarm, "ranking rule: "+strings.Join(suspect.Rules, " or "))
	return cmd
}

// printSuspectTerms prints how s was scored: each feature, its value, weight and points.
func printSuspectTerms(w io.Writer, s *unspoof.Suspect) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FEATURE\tVALUE\tWEIGHT\tPOINTS\tMEANING")
	for _, t := range suspect.DefaultModel.Terms(s) {
		fmt.Fprintf(tw, "  %s\t%.2f\t%.2f\t%.2f\t%s\n", t.Feature, t.Value, t.Weight, t.Points, t.Note)
	}
	fmt.Fprintf(tw, "  total\t\t\t%.2f\t\n", s.Score)
	return tw.Flush()
}

func newSuspectsExplainCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "explain ACCOUNT",
		Short:   "Print how a ranked account's harm score is made up",
		Example: `  unspoof suspects explain U000123`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			sp, err := s.FindSuspectByAccount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: harm %.2f, rank %d by rule %s; met-2022 identifies it: %v\n", sp.ExternalID, sp.Score,
				sp.Rank, sp.Rule, sp.Identified)
			return printSuspectTerms(g.stdout, sp)
		},
	}
}

func newSuspectsListCmd(g *globals) *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:     "list [--limit N]",
		Short:   "List the ranked suspects, first first",
		Example: `  unspoof suspects list --limit 20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || offset < 0 {
				return usageError{fmt.Errorf("--limit and --offset must not be negative")}
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			ss, n, err := s.FindSuspects(cmd.Context(), unspoof.SuspectFilter{Limit: limit, Offset: offset})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RANK\tACCOUNT\tUSERNAME\tCOUNTRY\tHARM\tVICTIMS\tLONG CALLS\tORGS\tPAID £\tMET-2022")
			for _, sp := range ss {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%.2f\t%d\t%d\t%d\t%.2f\t%v\n", sp.Rank, sp.ExternalID, sp.Username, sp.Country,
					sp.Score, sp.Victims, sp.LongCalls, sp.Orgs, float64(sp.PaidMinor)/100, sp.Identified)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%d of %s suspects\n", len(ss), count(int64(n)))
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many (0: all)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many first")
	return cmd
}

// suspectHeader names the columns of suspects export --format csv.
var suspectHeader = []string{"rank", "account", "username", "country", "rule", "harm", "identified", "victims", "calls",
	"long_calls", "orgs", "org_calls", "paid_minor", "payments", "loss_minor", "first_activity", "last_activity", "ranked_at"}

func suspectRecord(s *unspoof.Suspect) []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	t := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	return []string{strconv.Itoa(s.Rank), s.ExternalID, s.Username, s.Country, s.Rule, strconv.FormatFloat(s.Score, 'f', 2, 64),
		strconv.FormatBool(s.Identified), i(s.Victims), i(s.Calls), i(s.LongCalls), i(s.Orgs), i(s.OrgCalls), i(s.PaidMinor),
		i(s.Payments), i(s.LossMinor), t(s.FirstActivity), t(s.LastActivity), t(s.RankedAt)}
}

func writeSuspectsCSV(w io.Writer, ss []*unspoof.Suspect) error {
	cw := csv.NewWriter(w)
	cw.Write(suspectHeader)
	for _, s := range ss {
		cw.Write(suspectRecord(s))
	}
	cw.Flush()
	return cw.Error()
}

func newSuspectsExportCmd(g *globals) *cobra.Command {
	var (
		format, out string
		top         int
	)
	cmd := &cobra.Command{
		Use:   "export --format csv|ftm|graphml [--out FILE] [--top N]",
		Short: "Write the ranked suspects as CSV, FollowTheMoney entities or a GraphML graph",
		Long: `export writes the ranked suspects (the first --top, or all), in rank order, to stdout or --out:

  csv      the ranking, one row per suspect: ` + strings.Join(suspectHeader, ", ") + `.
  ftm      FollowTheMoney entities, one JSON object a line ({"id", "schema", "properties"}):
           per suspect a LegalEntity (the unknown holder of the account: FtM's caller, payer
           and owner must be one), the UserAccount it owns, a Payment per payment it made, a
           Call per call it made that lasted more than 60 s (shorter calls are left out to
           keep the file sane), and an Organization per organisation whose number it
           presented.
  graphml  a graph of accounts, victims (UK numbers reached by a call over 60 s) and
           organisations impersonated: nodes carry a "type" (account, victim, organisation),
           edges a "calls" count (account→victim: calls to the number; account→organisation
           and victim→organisation: calls presenting the organisation's number).

ftm and graphml read each suspect's calls: use --top on a large case. The files hold full phone
numbers: personal data, to be handled as such.`,
		Example: `  unspoof suspects export --format csv --out suspects.csv
  unspoof suspects export --format ftm --top 20 --out suspects.ftm.jsonl
  unspoof suspects export --format graphml --top 50 --out suspects.graphml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if format != "csv" && format != "ftm" && format != "graphml" {
				return usageError{fmt.Errorf("unknown --format %q: csv, ftm or graphml", format)}
			}
			if top < 0 {
				return usageError{fmt.Errorf("--top must not be negative")}
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			ss, _, err := s.FindSuspects(ctx, unspoof.SuspectFilter{Limit: top})
			if err != nil {
				return err
			}
			if err := g.audit(ctx, s, "suspects.export", "suspects", fmt.Sprintf("%d suspects as %s to %s", len(ss), format,
				cmp.Or(out, "stdout"))); err != nil {
				return err
			}
			return g.export(out, "suspects", len(ss), func(w io.Writer) error {
				switch format {
				case "ftm":
					return writeSuspectsFtM(ctx, w, s, ss)
				case "graphml":
					return writeSuspectsGraphML(ctx, w, s, ss)
				}
				return writeSuspectsCSV(w, ss)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv, ftm or graphml")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	cmd.Flags().IntVar(&top, "top", 0, "only the first `N` suspects (0: all)")
	return cmd
}
