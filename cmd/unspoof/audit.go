package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Export the audit log: who saw, exported, decided or deleted what",
	}
	cmd.AddCommand(newAuditExportCmd(g))
	return cmd
}

// auditHeader is the columns of the CSV export and the keys of the JSON Lines one.
var auditHeader = []string{"id", "at", "actor", "action", "object", "detail"}

func newAuditExportCmd(g *globals) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export [--format csv|jsonl] [--out FILE]",
		Short: "Write the whole audit log, oldest first, as CSV or JSON Lines",
		Long: `export writes every entry of the audit log, oldest first, to stdout or --out. The columns of CSV
and the keys of JSON Lines are the same: id, at (RFC 3339, UTC), actor, action, object, detail.
Entries of STOP replies name the number that sent them: the file holds personal data, and the
export is itself recorded in the audit log.`,
		Example: `  unspoof audit export --format csv --out audit.csv
  unspoof audit export --format jsonl | grep '"action":"purge"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "csv" && format != "jsonl" {
				return usageError{fmt.Errorf("unknown --format %q: csv or jsonl", format)}
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			es, err := s.FindAudit(cmd.Context(), 0)
			if err != nil {
				return err
			}
			slices.Reverse(es)
			if err := g.audit(cmd.Context(), s, "audit.export", "audit log", fmt.Sprintf("%d entries as %s to %s", len(es), format,
				cmp.Or(out, "stdout"))); err != nil {
				return err
			}
			return g.export(out, "audit entries", len(es), func(w io.Writer) error { return writeAudit(w, format, es) })
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	return cmd
}

func writeAudit(w io.Writer, format string, es []*unspoof.AuditEntry) error {
	return table{header: auditHeader, rows: len(es),
		row: func(i int) []string {
			e := es[i]
			return []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Object, e.Detail}
		},
		safe:  []int{2, 3, 4, 5},
		typed: func(i int, obj map[string]any) { obj["id"] = es[i].ID },
	}.write(w, format)
}
