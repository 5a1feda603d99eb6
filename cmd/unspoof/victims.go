package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/victim"
)

// caseStore is an evidence store with its victims and suspects tables: both engines are one.
type caseStore interface {
	unspoof.EvidenceStore
	unspoof.VictimStore
	unspoof.SuspectStore
	unspoof.CampaignStore
	unspoof.ReportStore
	unspoof.StaffStore
}

// openCase opens the store --db names, as a caseStore.
func (g *globals) openCase(ctx context.Context) (caseStore, error) {
	s, err := g.openStore(ctx)
	if err != nil {
		return nil, err
	}
	cs, ok := s.(caseStore)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("store %T keeps no victims or suspects", s)
	}
	return cs, nil
}

// rankFlags are the flags that say how numbers are ranked, shared by victims rank, explain and
// evaluate.
type rankFlags struct {
	rule    string
	minDur  time.Duration
	country string
	abroad  bool
}

func (f *rankFlags) add(cmd *cobra.Command, withRule bool) {
	if withRule {
		cmd.Flags().StringVar(&f.rule, "rule", victim.RuleScore, "ranking rule: "+strings.Join(victim.Rules, " or "))
	}
	cmd.Flags().DurationVar(&f.minDur, "min-duration", victim.DefaultMinDuration, "a long call lasts more than this")
	cmd.Flags().StringVar(&f.country, "country", victim.DefaultCountry, "numbers to rank: GB (+44) or ALL")
	cmd.Flags().BoolVar(&f.abroad, "abroad", false, "give numbers outside the UK an alert channel (normally none)")
}

func (f *rankFlags) config(rule string) (victim.Config, error) {
	if !slices.Contains(victim.Rules, rule) {
		return victim.Config{}, usageError{fmt.Errorf("unknown rule %q: --rule takes %s", rule, strings.Join(victim.Rules, ", "))}
	}
	if f.minDur <= 0 {
		return victim.Config{}, usageError{fmt.Errorf("--min-duration must be above 0, got %s", f.minDur)}
	}
	return victim.Config{Rule: rule, MinDuration: f.minDur, Country: f.country, Abroad: f.abroad}, nil
}

func newVictimsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "victims",
		Short: "Rank the numbers called, decide who to alert, list and export them",
		Long: `victims builds the victims table from the evidence and shows it.

Rules (--rule):
  met-2022  the Metropolitan Police's rule for iSpoof: a UK number (+44) with at least one call
            longer than --min-duration (60 s) made by an account of an identified suspect, a UK
            user (accounts.country GB) who paid the service at least £100.
  score     a transparent score (see "unspoof victims explain"): the same number of numbers as
            met-2022 selects (top K by score, K = the met-2022 count), chosen among every UK
            number called.

Each victim gets a tier (the first fifth of the ranking high, the next 3/10 medium, the rest
low), a channel (sms for a mobile, letter for another valid number, none for an invalid,
fictional or non-UK number) and a reference code it keeps for good. Numbers of impersonated
organisations are never victims. A victim's status says whether the next campaign may alert it:
new, alerted (a message of an earlier campaign alerts or may have alerted it) or opted-out (STOP,
or the portal's opt-out page); it is worked out from the campaigns and opt-outs each time, so a
new ranking never resets it.`,
		Example: `  unspoof victims rank --rule met-2022
  unspoof victims rank --rule score --explain 07911123456
  unspoof victims list --tier high --channel sms --limit 20
  unspoof victims list --status opted-out
  unspoof victims show 07911123456
  unspoof victims export --format csv --out victims.csv`,
	}
	cmd.AddCommand(newVictimsRankCmd(g), newVictimsExplainCmd(g), newVictimsListCmd(g), newVictimsShowCmd(g),
		newVictimsExportCmd(g))
	return cmd
}

func newVictimsRankCmd(g *globals) *cobra.Command {
	var (
		f       rankFlags
		explain string
	)
	cmd := &cobra.Command{
		Use:   "rank --rule met-2022|score [--min-duration 60s] [--country GB]",
		Short: "Build the victims table from the evidence (replaces the previous ranking)",
		Long: `rank reads every call to the numbers of --country once, scores each number, selects those
--rule alerts and replaces the victims table with them in one transaction. Numbers ranked before
keep their reference codes.`,
		Example: `  unspoof victims rank --rule met-2022
  unspoof victims rank --rule score --min-duration 90s --explain "07911 123456"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := f.config(f.rule)
			if err != nil {
				return err
			}
			var number string
			if explain != "" {
				if number, err = readNumber(explain); err != nil {
					return err
				}
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			r, err := victim.Rank(ctx, s, cfg)
			if err != nil {
				return err
			}
			ranked := time.Since(start)
			if err := victim.Save(ctx, s, r); err != nil {
				return err
			}
			g.logger.Debug("victims ranked", "rule", r.Rule, "numbers", len(r.Victims), "aggregate", ranked,
				"total", time.Since(start))
			took := time.Since(start)
			statuses, err := countStatuses(ctx, s)
			if err != nil {
				return err
			}
			printRankSummary(g.stdout, r, took, statuses)
			if number != "" {
				fmt.Fprintln(g.stdout)
				return printExplain(g.stdout, r, number)
			}
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&explain, "explain", "", "also print how `NUMBER` was scored")
	return cmd
}

// countStatuses counts the ranked victims by status.
func countStatuses(ctx context.Context, s unspoof.VictimStore) (map[string]int, error) {
	m := make(map[string]int)
	for _, st := range unspoof.VictimStatuses {
		_, n, err := s.FindVictims(ctx, unspoof.VictimFilter{Status: &st, Limit: 1})
		if err != nil {
			return nil, err
		}
		m[st] = n
	}
	return m, nil
}

func printRankSummary(w io.Writer, r *victim.Ranking, d time.Duration, statuses map[string]int) {
	tiers, channels := map[string]int64{}, map[string]int64{}
	for _, v := range r.Victims {
		tiers[v.Tier]++
		channels[v.Channel]++
	}
	fmt.Fprintf(w, "victims rank: rule %s selected %s of %s numbers called (met-2022 selects %s) in %s\n",
		r.Rule, count(int64(len(r.Victims))), count(int64(r.Candidates)), count(int64(r.MetCount)), d.Round(time.Millisecond))
	fmt.Fprintf(w, "  tiers: high %s, medium %s, low %s\n", count(tiers[victim.TierHigh]), count(tiers[victim.TierMedium]),
		count(tiers[victim.TierLow]))
	fmt.Fprintf(w, "  channels: sms %s, letter %s, none %s\n", count(channels[unspoof.ChannelSMS]),
		count(channels[unspoof.ChannelLetter]), count(channels[unspoof.ChannelNone]))
	fmt.Fprintf(w, "  status: new %s, alerted %s, opted-out %s (the next campaign takes only new)\n",
		count(int64(statuses[unspoof.VictimNew])), count(int64(statuses[unspoof.VictimAlerted])),
		count(int64(statuses[unspoof.VictimOptedOut])))
}

// printExplain prints how number was scored: each feature, its value, weight and contribution.
func printExplain(w io.Writer, r *victim.Ranking, number string) error {
	v, ok := r.Find(number)
	if !ok {
		return unspoof.Errorf(unspoof.ENOTFOUND, "%s was not called (or is an organisation's number, or outside --country)", number)
	}
	sel := "not selected"
	if v.Rank > 0 {
		sel = fmt.Sprintf("rank %d of %d, tier %s", v.Rank, len(r.Victims), v.Tier)
	}
	fmt.Fprintf(w, "%s: score %.3f (%s by rule %s); met-2022 selects it: %v\n", number, v.Score, sel, r.Rule,
		v.Identified && strings.HasPrefix(v.E164, "+44"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FEATURE\tVALUE\tWEIGHT\tCONTRIBUTION\tMEANING")
	for _, t := range r.Explain(v) {
		fmt.Fprintf(tw, "  %s\t%.3f\t%.2f\t%.3f\t%s\n", t.Feature, t.Value, t.Weight, t.Contribution(), t.Help)
	}
	fmt.Fprintf(tw, "  total\t\t\t%.3f\t\n", v.Score)
	return tw.Flush()
}

// readNumber reads a number as typed (national or international) into E.164.
func readNumber(raw string) (string, error) {
	n, err := phonenum.Parse(raw, "GB")
	if err != nil || n.E164 == "" {
		return "", unspoof.Errorf(unspoof.EINVALID, "%q is not a phone number", raw)
	}
	return n.E164, nil
}

func newVictimsExplainCmd(g *globals) *cobra.Command {
	var f rankFlags
	cmd := &cobra.Command{
		Use:   "explain NUMBER",
		Short: "Print the score model's weights and how NUMBER was scored",
		Long: `explain ranks the evidence again (without saving) and prints each feature of the score for
NUMBER: its value, its weight and its part of the score. The weights are DefaultModel's in
package victim: a logistic regression fitted on one simulated case (seed 1, scale 0.1) and
rounded; docs/performance.md gives how it does on other seeds.`,
		Example: `  unspoof victims explain 07911123456
  unspoof victims explain +447911123456 --min-duration 90s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			number, err := readNumber(args[0])
			if err != nil {
				return err
			}
			cfg, err := f.config(victim.RuleScore)
			if err != nil {
				return err
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := victim.Rank(ctx, s, cfg)
			if err != nil {
				return err
			}
			return printExplain(g.stdout, r, number)
		},
	}
	f.add(cmd, false)
	return cmd
}

func victimFilter(tier, channel, status string, limit, offset int) (unspoof.VictimFilter, error) {
	var f unspoof.VictimFilter
	if status != "" {
		if !slices.Contains(unspoof.VictimStatuses, status) {
			return f, usageError{fmt.Errorf("unknown --status %q: %s", status, strings.Join(unspoof.VictimStatuses, ", "))}
		}
		f.Status = &status
	}
	if tier != "" {
		if !slices.Contains([]string{victim.TierHigh, victim.TierMedium, victim.TierLow}, tier) {
			return f, usageError{fmt.Errorf("unknown --tier %q: high, medium or low", tier)}
		}
		f.Tier = &tier
	}
	if channel != "" {
		if !slices.Contains([]string{unspoof.ChannelSMS, unspoof.ChannelLetter, unspoof.ChannelNone}, channel) {
			return f, usageError{fmt.Errorf("unknown --channel %q: sms, letter or none", channel)}
		}
		f.Channel = &channel
	}
	if limit < 0 || offset < 0 {
		return f, usageError{fmt.Errorf("--limit and --offset must not be negative")}
	}
	f.Limit, f.Offset = limit, offset
	return f, nil
}

func newVictimsListCmd(g *globals) *cobra.Command {
	var (
		tier, channel, status string
		limit, offset         int
	)
	cmd := &cobra.Command{
		Use:   "list [--tier high] [--channel sms] [--status new] [--limit N]",
		Short: "List the ranked victims, best first",
		Example: `  unspoof victims list
  unspoof victims list --tier high --channel sms --limit 100
  unspoof victims list --status opted-out`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := victimFilter(tier, channel, status, limit, offset)
			if err != nil {
				return err
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			vs, n, err := s.FindVictims(cmd.Context(), f)
			if err != nil {
				return err
			}
			if err := g.audit(cmd.Context(), s, "victims.list", "victims", fmt.Sprintf("%d shown", len(vs))); err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RANK\tNUMBER\tTIER\tCHANNEL\tSTATUS\tSCORE\tCALLS\tLONG\tTALK\tACCOUNTS\tORGS\tCODE")
			for _, v := range vs {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%.2f\t%d\t%d\t%s\t%d\t%d\t%s\n", v.Rank, v.E164, v.Tier, v.Channel, v.Status,
					v.Score, v.Calls, v.LongCalls, v.TalkTime, v.Accounts, v.Orgs, v.Code)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s of %s victims\n", count(int64(len(vs))), count(int64(n)))
			return nil
		},
	}
	cmd.Flags().StringVar(&tier, "tier", "", "only this tier: high, medium, low")
	cmd.Flags().StringVar(&channel, "channel", "", "only this channel: sms, letter, none")
	cmd.Flags().StringVar(&status, "status", "", "only this status: new, alerted, opted-out")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many (0: all)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many first")
	return cmd
}

func newVictimsShowCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "show NUMBER",
		Short: "Show one victim and the timeline of its calls",
		Example: `  unspoof victims show 07911123456
  unspoof victims show +447911123456 --limit 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			number, err := readNumber(args[0])
			if err != nil {
				return err
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			v, err := s.FindVictimByNumber(ctx, number)
			if err != nil {
				return err
			}
			if err := g.audit(ctx, s, "victim.view", v.E164, ""); err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			row := func(k string, val any) { fmt.Fprintf(w, "%s\t%v\n", k, val) }
			row("number", v.E164)
			row("reference code", v.Code)
			row("rule / rank / tier", fmt.Sprintf("%s / %d / %s", v.Rule, v.Rank, v.Tier))
			row("score", fmt.Sprintf("%.3f", v.Score))
			row("channel", v.Channel)
			row("line type", fmt.Sprintf("%s (region %s, valid %v, fictional %v)", v.LineType, v.Region, v.Valid, v.Fictional))
			row("calls", fmt.Sprintf("%d (%d answered, %d long)", v.Calls, v.AnsweredCalls, v.LongCalls))
			row("talk time", fmt.Sprintf("%s (longest %s)", v.TalkTime, v.LongestCall))
			row("first – last call", v.FirstCall.Format(time.DateTime)+" – "+v.LastCall.Format(time.DateTime))
			row("accounts", fmt.Sprintf("%d (%d with a long call; at most %d long calls by one)", v.Accounts, v.LongAccounts,
				v.CallerLongCalls))
			ended := "no caller's last call was long"
			if v.EndedLongCall > 0 {
				ended = fmt.Sprintf("a caller's last call was long (%s)", v.EndedLongCall)
			}
			row("ended on a long call", ended)
			row("organisations", fmt.Sprintf("%d (%d calls presenting one, %d a bank)", v.Orgs, v.OrgCalls, v.BankCalls))
			row("identified suspects", fmt.Sprintf("%v (%d long calls)", v.Identified, v.IdentifiedLongCalls))
			row("status", v.Status)
			row("ranked at", v.RankedAt.Format(time.DateTime))
			if err := w.Flush(); err != nil {
				return err
			}
			calls, n, err := s.FindCalls(ctx, unspoof.CallFilter{CalleeE164: &number, Limit: limit})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\ncalls (%d of %d):\n", len(calls), n)
			w = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "  STARTED (UTC)\tDURATION\tSTATUS\tACCOUNT\tPRESENTED\tSOURCE:LINE")
			for _, c := range calls {
				cli := c.CLI.Raw
				if c.CLI.E164 != "" && c.CLI.E164 != c.CLI.Raw {
					cli += " (" + c.CLI.E164 + ")"
				}
				fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\t%d:%d\n", c.StartedAt.Format(time.DateTime), c.Duration, c.Status,
					c.AccountID, cli, c.SourceID, c.SourceRow)
			}
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 200, "show at most this many calls (0: all)")
	return cmd
}

// exportHeader names the columns of victims export.
var exportHeader = []string{"rank", "e164", "code", "tier", "channel", "score", "rule", "status", "region", "line_type",
	"valid", "fictional", "calls", "answered_calls", "long_calls", "talk_s", "longest_s", "first_call", "last_call",
	"accounts", "long_accounts", "caller_long_calls", "ended_long_s", "orgs", "org_calls", "bank_calls", "identified_long_calls",
	"identified", "ranked_at"}

func exportRecord(v *unspoof.Victim) []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	b := strconv.FormatBool
	return []string{strconv.Itoa(v.Rank), v.E164, v.Code, v.Tier, v.Channel, strconv.FormatFloat(v.Score, 'f', 4, 64), v.Rule,
		v.Status, v.Region, v.LineType, b(v.Valid), b(v.Fictional), i(v.Calls), i(v.AnsweredCalls), i(v.LongCalls),
		i(int64(v.TalkTime / time.Second)), i(int64(v.LongestCall / time.Second)), v.FirstCall.Format(time.RFC3339),
		v.LastCall.Format(time.RFC3339), i(v.Accounts), i(v.LongAccounts), i(v.CallerLongCalls),
		i(int64(v.EndedLongCall / time.Second)), i(v.Orgs), i(v.OrgCalls), i(v.BankCalls),
		i(v.IdentifiedLongCalls), b(v.Identified), v.RankedAt.Format(time.RFC3339)}
}

func newVictimsExportCmd(g *globals) *cobra.Command {
	var (
		format, out, tier, channel, status string
	)
	cmd := &cobra.Command{
		Use:   "export --format csv|jsonl [--out FILE]",
		Short: "Write the ranked victims as CSV or JSON Lines",
		Long: `export writes every ranked victim (or those of --tier/--channel/--status), in rank order, to stdout or
--out. The columns of CSV and the keys of JSON Lines are the same: ` + strings.Join(exportHeader, ", ") + `.
The file holds full phone numbers: personal data, to be handled as such.`,
		Example: `  unspoof victims export --format csv --out victims.csv
  unspoof victims export --format jsonl --channel sms | gzip > sms.jsonl.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "csv" && format != "jsonl" {
				return usageError{fmt.Errorf("unknown --format %q: csv or jsonl", format)}
			}
			f, err := victimFilter(tier, channel, status, 0, 0)
			if err != nil {
				return err
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			vs, _, err := s.FindVictims(cmd.Context(), f)
			if err != nil {
				return err
			}
			if err := g.audit(cmd.Context(), s, "victims.export", "victims", fmt.Sprintf("%d victims as %s to %s", len(vs), format,
				cmp.Or(out, "stdout"))); err != nil {
				return err
			}
			return g.export(out, "victims", len(vs), func(w io.Writer) error { return writeVictims(w, format, vs) })
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	cmd.Flags().StringVar(&tier, "tier", "", "only this tier: high, medium, low")
	cmd.Flags().StringVar(&channel, "channel", "", "only this channel: sms, letter, none")
	cmd.Flags().StringVar(&status, "status", "", "only this status: new, alerted, opted-out")
	return cmd
}

func writeVictims(w io.Writer, format string, vs []*unspoof.Victim) error {
	return table{header: exportHeader, rows: len(vs), row: func(i int) []string { return exportRecord(vs[i]) },
		typed: func(i int, m map[string]any) {
			v := vs[i]
			for _, k := range []string{"rank", "calls", "answered_calls", "long_calls", "talk_s", "longest_s", "accounts",
				"long_accounts", "caller_long_calls", "ended_long_s", "orgs", "org_calls", "bank_calls", "identified_long_calls"} {
				m[k], _ = strconv.ParseInt(m[k].(string), 10, 64)
			}
			m["score"] = v.Score
			m["valid"], m["fictional"], m["identified"] = v.Valid, v.Fictional, v.Identified
		}}.write(w, format)
}
