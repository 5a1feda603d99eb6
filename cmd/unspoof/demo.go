package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
	"github.com/unspoof/unspoof/simulate"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/suspect"
	"github.com/unspoof/unspoof/victim"
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		dir   string
		scale float64
		seed  uint64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the whole response on a simulated seized dataset",
		Long: `demo simulates the records of a seized iSpoof-like service (--scale 0.01: about 100,000
calls), ingests them into an SQLite store in --dir, and prints the headline figures next to the
published figures of the real case, scaled.

Re-running with the same --scale and --seed reuses the data; other values recreate it.
Victim ranking, the alert campaign and the portal join the demo as they are built.`,
		Example: `  go run ./cmd/unspoof demo
  unspoof demo --scale 1        # the full 10-million-call year: a few minutes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			w := g.stdout
			if scale >= 0.2 {
				fmt.Fprintf(w, "scale %g: about %s calls; simulating and ingesting takes roughly %s on a 2-core machine\n",
					scale, count(int64(scale*10_000_000)), (time.Duration(scale*240) * time.Second).Round(time.Second))
			}
			m, err := simulate.ReadManifest(dir)
			if err != nil || m.Scale != scale || m.Seed != seed {
				if err == nil {
					fmt.Fprintf(w, "%s holds another dataset (scale %g, seed %d): recreating it\n", dir, m.Scale, m.Seed)
				}
				for _, name := range []string{"unspoof.db", "unspoof.db-wal", "unspoof.db-shm"} {
					os.Remove(filepath.Join(dir, name))
				}
				fmt.Fprintf(w, "1. simulating a seized dataset (scale %g, seed %d) into %s\n", scale, seed, dir)
				if m, err = simulate.Run(ctx, simulate.Config{Preset: "ispoof", Scale: scale, Seed: seed, Out: dir, BadRows: 0.001}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "1. reusing the simulated dataset in %s (scale %g, seed %d)\n", dir, scale, seed)
			}
			store, err := sqlite.Open(ctx, filepath.Join(dir, "unspoof.db"))
			if err != nil {
				return err
			}
			defer store.Close()
			fmt.Fprintf(w, "2. ingesting into %s\n", filepath.Join(dir, "unspoof.db"))
			for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
				fi := m.File(kind)
				if fi == nil {
					return fmt.Errorf("demo data has no %s file", kind)
				}
				path := filepath.Join(dir, fi.Name)
				if err := demoIngest(ctx, g, store, unspoof.Kind(kind), path); err != nil {
					return err
				}
			}
			fmt.Fprintln(w, "3. ranking victims (score, alerting as many numbers as the Met's rule) and suspects (UK users who paid ≥ £100)")
			vr, err := victim.Rank(ctx, store, victim.Config{Rule: victim.RuleScore})
			if err == nil {
				err = victim.Save(ctx, store, vr)
			}
			if err != nil {
				return fmt.Errorf("rank victims: %w", err)
			}
			sr, err := suspect.Rank(ctx, store, suspect.Config{Rule: suspect.RuleMet2022})
			if err == nil {
				err = suspect.Save(ctx, store, sr)
			}
			if err != nil {
				return fmt.Errorf("rank suspects: %w", err)
			}
			st, err := store.Stats(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\n4. headline figures: the store next to the published iSpoof figures (× %g)\n\n", scale)
			if err := printHeadline(w, m, st, int64(vr.MetCount), int64(len(vr.Victims)), int64(len(sr.Suspects))); err != nil {
				return err
			}
			db := filepath.Join(dir, "unspoof.db")
			fmt.Fprintf(w, "\nNext: unspoof --db %s victims list | suspects list | stats\n", db)
			fmt.Fprintln(w, "The alert campaign and the portal join this demo as they are built.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "unspoof-demo", "directory for the demo's data and store")
	f.Float64Var(&scale, "scale", 0.01, "size relative to the real case (1 = 10 million calls)")
	f.Uint64Var(&seed, "seed", 1, "random seed of the simulation")
	return cmd
}

func demoIngest(ctx context.Context, g *globals, store unspoof.EvidenceStore, kind unspoof.Kind, path string) error {
	cfg := ingest.Config{Kind: kind, Region: "GB", By: "demo", Quarantine: path + ".quarantine.csv"}
	if isTerminal(g.stderr) {
		bar := newBar(g.stderr, path)
		defer func() { bar.Finish(); fmt.Fprintln(g.stderr) }()
		cfg.Progress = func(p ingest.Progress) { bar.ChangeMax64(p.Size); bar.Set64(p.Bytes) }
	}
	res, err := ingest.File(ctx, store, path, cfg)
	if res != nil {
		fmt.Fprint(g.stdout, "   ")
		printIngest(g.stdout, path, res)
	}
	return err
}

// printHeadline prints the store's figures beside the preset's targets at the dataset's scale.
func printHeadline(w io.Writer, m *simulate.Manifest, st *unspoof.Stats, identified, alerted, suspects int64) error {
	measured := &simulate.Figures{
		Calls: st.Calls, Accounts: st.Accounts, PayingAccounts: st.PayingAccounts, PaidGBP: float64(st.PaidMinor) / 100,
		UKCalls: st.UKCalls, UKCallsOver60: st.UKCallsOver60s, UKNumbers: st.UKCallees, UKNumbersOver60: st.UKCalleesOver60,
		Callees: st.DistinctCallees, UKNumbersIdentified: identified,
	}
	rows, err := simulate.Compare(m.Preset, m.Scale, nil, measured)
	if err != nil {
		return err
	}
	show := map[string]bool{"calls": true, "accounts": true, "paying accounts": true, "paid (GBP)": true, "UK calls": true,
		"UK calls > 60 s": true, "UK numbers called": true, "UK numbers reached (> 60 s)": true, "distinct callees": true,
		"… by identified UK users (paid ≥ £100)": true}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tiSpoof (scaled)\tthis store\t")
	for _, r := range rows {
		if !show[r.Name] {
			continue
		}
		target := "—"
		if !math.IsNaN(r.Target) {
			target = count(int64(math.Round(r.Target)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r.Name, target, count(int64(math.Round(r.Measured))))
	}
	fmt.Fprintf(tw, "numbers to alert (score rule)\t—\t%s\t\n", count(alerted))
	fmt.Fprintf(tw, "suspects identified (UK, paid ≥ £100)\t—\t%s\t\n", count(suspects))
	if err := tw.Flush(); err != nil {
		return err
	}
	return nil
}
