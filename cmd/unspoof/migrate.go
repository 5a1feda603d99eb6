package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the store's schema",
		Long: `migrate brings the evidence store's schema up to date. Opening a store does this too; run it
on its own to prepare a PostgreSQL database before the first ingest, or after an upgrade.`,
		Example: `  unspoof migrate --db postgres://unspoof@db.internal/case42`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintln(g.stdout, "schema is up to date")
			return nil
		},
	}
}
