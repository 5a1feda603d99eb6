package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newSourcesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "sources",
		Short:   "List every ingested file with its SHA-256 and row counts",
		Example: `  unspoof sources`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer store.Close()
			srcs, err := store.FindSources(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tKIND\tFILE\tSHA-256\tREAD\tLOADED\tQUARANTINED\tWHEN\tBY\tSYNTHETIC")
			for _, s := range srcs {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%v\n", s.ID, s.Kind, s.Name, s.SHA256[:16], s.RowsRead,
					s.RowsLoaded, s.RowsQuarantined, s.IngestedAt.Format(time.DateTime), s.IngestedBy, s.Synthetic)
			}
			return w.Flush()
		},
	}
}
