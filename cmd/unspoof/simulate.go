package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof/simulate"
)

func newSimulateCmd() *cobra.Command {
	var (
		cfg   simulate.Config
		check string
	)
	cmd := &cobra.Command{
		Use:   "simulate --preset ispoof --scale S --seed N --out DIR [--gzip] [--bad-rows F] | --check DIR",
		Short: "Generate a calibrated synthetic seized dataset, or check one against its targets",
		Long: `simulate writes what the server of a caller-ID spoofing service might hold, at --scale times
the size of the real case, with the ground truth of who was defrauded:

  accounts.csv  payments.csv  calls.csv (or calls.csv.gz)  orgs.csv  truth.csv  manifest.json

The ispoof preset matches the published figures of the 2022 iSpoof case at scale 1 (10 million
calls over a year, 59,000 accounts, £3.2m taken, 200,000 UK numbers reached, 4,785 reports).
The same --seed and --scale give the same bytes. Every number is a valid number of its country,
outside the ranges reserved for drama; the dataset is marked synthetic and must never be
alerted through a real SMSC.

--bad-rows adds that many extra malformed rows per good row (corrupted copies, each with one
defect), so that ingest's quarantine is exercised while the good rows, and the truth, stay
exact. manifest.json counts them by file and reason.

--check DIR reads a dataset back, measures its headline figures from the files alone (numbers
normalised as ingest does) and prints them next to the targets; it fails if any is out of
tolerance or if the malformed rows found differ from those recorded.`,
		Example: `  unspoof simulate --preset ispoof --scale 0.01 --seed 1 --out case1
  unspoof simulate --scale 1 --seed 7 --out /data/ispoof --gzip --bad-rows 0.001
  unspoof simulate --check case1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if check != "" {
				return runSimulateCheck(ctx, cmd.OutOrStdout(), check)
			}
			if cfg.Out == "" {
				return usageError{fmt.Errorf("simulate needs --out DIR (or --check DIR)")}
			}
			if cfg.Scale <= 0 {
				return usageError{fmt.Errorf("--scale must be above 0")}
			}
			stderr := cmd.ErrOrStderr()
			var bar *progressbar.ProgressBar
			if isTerminal(stderr) {
				bar = progressbar.NewOptions64(0,
					progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetDescription("calls"),
					progressbar.OptionShowCount(),
					progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("calls"),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionSetWidth(30),
					progressbar.OptionClearOnFinish(),
				)
				cfg.Progress = func(done, total int64) {
					if bar.GetMax64() != total {
						bar.ChangeMax64(total)
					}
					bar.Set64(done)
				}
			}
			start := time.Now()
			m, err := simulate.Run(ctx, cfg)
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), summaryLine(m, cfg.Out, time.Since(start)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Preset, "preset", simulate.DefaultPreset, "calibration to generate ("+strings.Join(simulate.Presets(), ", ")+")")
	f.Float64Var(&cfg.Scale, "scale", 1, "size relative to the real case (0.01 is 100,000 calls)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed and scale give the same files")
	f.StringVarP(&cfg.Out, "out", "o", "", "directory to write the dataset to (created if missing)")
	f.BoolVar(&cfg.Gzip, "gzip", false, "write calls.csv.gz instead of calls.csv")
	f.Float64Var(&cfg.BadRows, "bad-rows", 0, "extra malformed rows per good row, e.g. 0.001")
	f.StringVar(&check, "check", "", "read the dataset in `DIR` back and compare its figures with the targets")
	cmd.MarkFlagsMutuallyExclusive("check", "out")
	return cmd
}

// summaryLine is the one line simulate prints when it is done.
func summaryLine(m *simulate.Manifest, dir string, d time.Duration) string {
	f := m.Figures
	var bad int64
	for _, fi := range m.Files {
		bad += fi.BadRows
	}
	s := fmt.Sprintf("simulate: %s calls, %s accounts, %s callees (%s defrauded, %s would report), £%s paid",
		count(f.Calls), count(f.Accounts), count(f.Callees), count(f.Defrauded),
		count(f.Reports), count(int64(math.Round(f.PaidGBP))))
	if bad > 0 {
		s += fmt.Sprintf(", %s bad rows", count(bad))
	}
	return s + fmt.Sprintf(" → %s (preset %s, scale %g, seed %d) in %s",
		dir, m.Preset, m.Scale, m.Seed, d.Round(10*time.Millisecond))
}

// runSimulateCheck measures the dataset in dir and prints its figures next to the targets.
func runSimulateCheck(ctx context.Context, w io.Writer, dir string) error {
	m, err := simulate.ReadManifest(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	got, err := simulate.Check(ctx, dir)
	if err != nil {
		return err
	}
	rows, err := simulate.Compare(m.Preset, m.Scale, &m.Figures, got)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: preset %s, scale %g, seed %d, synthetic %v, %s\n\n", dir, m.Preset, m.Scale, m.Seed, m.Synthetic, m.Generator)
	if err := simulate.PrintRows(w, rows); err != nil {
		return err
	}
	out := 0
	for _, r := range rows {
		if !r.OK() {
			out++
		}
	}
	// Malformed rows: found by reading, against those the generator recorded.
	mismatch := 0
	type key struct{ file, reason string }
	seen := map[key]bool{}
	var keys []key
	for _, src := range []map[string]map[string]int64{m.Figures.BadRows, got.BadRows} {
		for file, reasons := range src {
			for reason := range reasons {
				if k := (key{file, reason}); !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].file < keys[j].file || keys[i].file == keys[j].file && keys[i].reason < keys[j].reason
	})
	if len(keys) > 0 {
		fmt.Fprintf(w, "\nmalformed rows    %-14s %-20s %10s %10s\n", "file", "reason", "recorded", "found")
		for _, k := range keys {
			rec, found := m.Figures.BadRows[k.file][k.reason], got.BadRows[k.file][k.reason]
			mark := ""
			if rec != found {
				mark = "  MISMATCH"
				mismatch++
			}
			fmt.Fprintf(w, "                  %-14s %-20s %10d %10d%s\n", k.file, k.reason, rec, found, mark)
		}
	}
	fmt.Fprintf(w, "\n%d of %d figures within tolerance; read in %s\n", len(rows)-out, len(rows), time.Since(start).Round(10*time.Millisecond))
	switch {
	case out > 0 && mismatch > 0:
		return fmt.Errorf("check: %d figures out of tolerance, %d malformed-row counts differ", out, mismatch)
	case out > 0:
		return fmt.Errorf("check: %d figures out of tolerance", out)
	case mismatch > 0:
		return fmt.Errorf("check: %d malformed-row counts differ from the manifest", mismatch)
	}
	return nil
}

// simulateCount writes n with thousands separators.
