package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newStatsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print the headline figures of the loaded evidence",
		Example: `  unspoof stats
  unspoof stats --json --db postgres://localhost/case42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer store.Close()
			s, err := store.Stats(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				e := json.NewEncoder(g.stdout)
				e.SetIndent("", "  ")
				return e.Encode(s)
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			row := func(label string, v string) { fmt.Fprintf(w, "%s\t%s\t\n", label, v) }
			row("sources ingested", count(s.Sources))
			row("accounts", count(s.Accounts))
			row("accounts that paid", count(s.PayingAccounts))
			row("payments", fmt.Sprintf("%s (£%s)", count(s.Payments), count(s.PaidMinor/100)))
			row("calls", count(s.Calls))
			if !s.FirstCall.IsZero() {
				row("first – last call", s.FirstCall.Format(time.DateOnly)+" – "+s.LastCall.Format(time.DateOnly))
			}
			row("calls over 60 s", count(s.CallsOver60s))
			row("distinct numbers called", count(s.DistinctCallees))
			row("calls to UK numbers", count(s.UKCalls))
			row("UK numbers called", count(s.UKCallees))
			row("UK calls over 60 s", count(s.UKCallsOver60s))
			row("UK numbers reached > 60 s", count(s.UKCalleesOver60))
			row("complaints", count(s.Complaints))
			w.Flush()
			if len(s.TopOrgs) > 0 {
				fmt.Fprintln(g.stdout, "\nmost impersonated organisations (calls presenting their numbers):")
				w = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				for i, o := range s.TopOrgs {
					fmt.Fprintf(w, "  %d.\t%s\t%s\n", i+1, o.Org, count(o.Calls))
				}
				w.Flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
