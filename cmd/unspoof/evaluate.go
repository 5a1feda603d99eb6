package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/simulate"
	"github.com/unspoof/unspoof/victim"
)

// truth is a simulator's ground truth: who was defrauded, and for how much.
type truth struct {
	defrauded map[string]float64 // UK (+44) numbers defrauded → loss in GBP
	reporters map[string]bool
	ukLoss    float64
	// reportedLoss and maxReported are the losses of the UK victims who would report.
	reportedLoss, maxReported float64
	rows                      int64
}

// readTruth reads truth.csv (callee_e164,defrauded,loss_gbp,would_report). Any bad row makes it
// fail, naming the file and line of each (up to 10) and how many there were.
func readTruth(path string) (*truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "--truth: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	want := []string{"callee_e164", "defrauded", "loss_gbp", "would_report"}
	if err != nil || strings.Join(header, ",") != strings.Join(want, ",") {
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: line 1: header must be %s", path, strings.Join(want, ","))
	}
	t := &truth{defrauded: map[string]float64{}, reporters: map[string]bool{}}
	var bad []string
	nbad := 0
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if msg := truthRow(t, rec, err); msg != "" {
			nbad++
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("%s: line %d: %s", path, line, msg))
			}
			continue
		}
		t.rows++
	}
	if nbad > 0 {
		more := ""
		if nbad > len(bad) {
			more = fmt.Sprintf("\n… and %d more", nbad-len(bad))
		}
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: %d bad row(s); nothing evaluated:\n%s%s", path, nbad,
			strings.Join(bad, "\n"), more)
	}
	return t, nil
}

// truthRow adds one record to t, or says what is wrong with it.
func truthRow(t *truth, rec []string, err error) string {
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return pe.Err.Error()
	case err != nil:
		return err.Error()
	case len(rec) != 4:
		return fmt.Sprintf("%d fields, want 4", len(rec))
	case !strings.HasPrefix(rec[0], "+") || len(rec[0]) < 8:
		return fmt.Sprintf("callee_e164 %q is not an E.164 number", rec[0])
	}
	defrauded, err1 := strconv.ParseBool(rec[1])
	loss, err2 := strconv.ParseFloat(rec[2], 64)
	report, err3 := strconv.ParseBool(rec[3])
	switch {
	case err1 != nil:
		return fmt.Sprintf("defrauded %q is not true or false", rec[1])
	case err2 != nil || loss < 0 || math.IsNaN(loss) || math.IsInf(loss, 0):
		return fmt.Sprintf("loss_gbp %q is not an amount", rec[2])
	case err3 != nil:
		return fmt.Sprintf("would_report %q is not true or false", rec[3])
	}
	if defrauded && strings.HasPrefix(rec[0], "+44") {
		t.defrauded[rec[0]] = loss
		t.ukLoss += loss
		if report {
			t.reporters[rec[0]] = true
			t.reportedLoss += loss
			t.maxReported = max(t.maxReported, loss)
		}
	}
	return ""
}

// score is how well one rule's alerts match the truth.
type score struct {
	rule                          string
	alerted, hits, reportersHit   int64
	precision, recall, f1, lossIn float64
}

func evaluateRule(rule string, vs []*unspoof.Victim, t *truth) score {
	s := score{rule: rule, alerted: int64(len(vs))}
	var loss float64
	for _, v := range vs {
		if l, ok := t.defrauded[v.E164]; ok {
			s.hits++
			loss += l
			if t.reporters[v.E164] {
				s.reportersHit++
			}
		}
	}
	if s.alerted > 0 {
		s.precision = float64(s.hits) / float64(s.alerted)
	}
	if n := len(t.defrauded); n > 0 {
		s.recall = float64(s.hits) / float64(n)
	}
	if s.precision+s.recall > 0 {
		s.f1 = 2 * s.precision * s.recall / (s.precision + s.recall)
	}
	if t.ukLoss > 0 {
		s.lossIn = loss / t.ukLoss
	}
	return s
}

func newEvaluateCmd(g *globals) *cobra.Command {
	var (
		f         rankFlags
		truthPath string
		rules     []string
		scale     float64
	)
	cmd := &cobra.Command{
		Use:   "evaluate --truth truth.csv [--rule met-2022,score]",
		Short: "Measure the victim rules against a simulated dataset's ground truth",
		Long: `evaluate ranks the evidence by each --rule (without saving) and compares the numbers each would
alert with the ground truth the simulator wrote (truth.csv): numbers alerted, precision, recall
and F1 of the defrauded UK victims (+44), and the share of all UK victims' loss they cover, side
by side. Then it prints the dataset's headline figures next to those published for iSpoof at the
dataset's scale (from manifest.json beside the truth file, or --scale).

A truth file with bad rows is refused, each bad row named by file and line.`,
		Example: `  unspoof evaluate --truth case1/truth.csv
  unspoof evaluate --truth case1/truth.csv --rule met-2022,score --min-duration 60s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if truthPath == "" {
				return usageError{fmt.Errorf("evaluate needs --truth FILE")}
			}
			for _, r := range rules {
				if _, err := f.config(r); err != nil {
					return err
				}
			}
			t, err := readTruth(truthPath)
			if err != nil {
				return err
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			cfg, _ := f.config(victim.RuleScore)
			r, err := victim.Rank(ctx, s, cfg)
			if err != nil {
				return err
			}
			var scores []score
			for _, rule := range rules {
				vs, err := r.Select(rule)
				if err != nil {
					return err
				}
				scores = append(scores, evaluateRule(rule, vs, t))
			}
			w := g.stdout
			fmt.Fprintf(w, "defrauded UK victims in the truth: %s (loss £%s, %s would report); UK numbers ranked: %s\n\n",
				count(int64(len(t.defrauded))), count(int64(math.Round(t.ukLoss))), count(int64(len(t.reporters))), count(int64(r.Candidates)))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "rule\talerted\tdefrauded hit\tprecision\trecall\tF1\tUK loss covered\treporters hit\t")
			for _, sc := range scores {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%.1f%%\t%s\t\n", sc.rule, count(sc.alerted), count(sc.hits),
					sc.precision, sc.recall, sc.f1, 100*sc.lossIn, count(sc.reportersHit))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return printHeadlines(ctx, w, s, truthPath, scale, r, t)
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&truthPath, "truth", "", "ground truth `FILE` written by unspoof simulate (truth.csv)")
	cmd.Flags().StringSliceVar(&rules, "rule", victim.Rules, "rules to evaluate, comma-separated")
	cmd.Flags().Float64Var(&scale, "scale", 0, "scale of the dataset (default: from manifest.json beside the truth file)")
	return cmd
}

// headlineRows are the figures of simulate.Compare that the evidence store and the truth can
// measure.
var headlineRows = []string{"calls", "accounts", "paying accounts", "paid (GBP)", "UK calls", "UK calls > 60 s",
	"UK numbers called", "UK numbers reached (> 60 s)", "… by identified UK users (paid ≥ £100)", "distinct callees",
	"UK victims defrauded", "UK loss, all victims (GBP)", "victims who report", "reported loss (GBP)",
	"average reported loss (GBP)", "largest reported loss (GBP)"}

// printHeadlines prints the dataset's headline figures, measured from the store and the truth,
// next to the published iSpoof figures at the dataset's scale (simulate.Compare).
func printHeadlines(ctx context.Context, w io.Writer, s caseStore, truthPath string, scale float64, r *victim.Ranking, t *truth) error {
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	preset, note := simulate.DefaultPreset, ""
	var generated *simulate.Figures
	if m, err := simulate.ReadManifest(filepath.Dir(truthPath)); err == nil {
		preset, generated = m.Preset, &m.Figures
		if scale == 0 {
			scale = m.Scale
		}
	}
	if scale == 0 {
		scale = float64(st.Calls) / 10e6
		note = fmt.Sprintf(" (no manifest.json beside %s: scale %.3g estimated from the calls)", truthPath, scale)
	}
	m := &simulate.Figures{
		Calls: st.Calls, Accounts: st.Accounts, PayingAccounts: st.PayingAccounts, PaidGBP: float64(st.PaidMinor) / 100,
		UKCalls: st.UKCalls, UKCallsOver60: st.UKCallsOver60s, UKNumbers: st.UKCallees, UKNumbersOver60: st.UKCalleesOver60,
		UKNumbersIdentified: int64(r.MetCount), Callees: st.DistinctCallees,
		UKDefrauded: int64(len(t.defrauded)), UKLossGBP: t.ukLoss, Reports: int64(len(t.reporters)),
		ReportedLossGBP: t.reportedLoss, MaxLossGBP: t.maxReported,
	}
	if m.Reports > 0 {
		m.AvgReportedLossGBP = m.ReportedLossGBP / float64(m.Reports)
	}
	rows, err := simulate.Compare(preset, scale, generated, m)
	if err != nil {
		return err
	}
	keep := rows[:0]
	for _, row := range rows {
		if slices.Contains(headlineRows, row.Name) {
			keep = append(keep, row)
		}
	}
	fmt.Fprintf(w, "\nheadline figures: this dataset next to iSpoof's published ones at scale %g%s\n", scale, note)
	return simulate.PrintRows(w, keep)
}
