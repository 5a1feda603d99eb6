package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
)

// messageHeader is the columns of campaign export's CSV and the keys of its JSON Lines.
var messageHeader = []string{"number", "reference", "state", "reason", "parts", "delivered_parts", "attempts",
	"sent_at", "done_at"}

func newCampaignExportCmd(g *globals) *cobra.Command {
	var format, out, states string
	cmd := &cobra.Command{
		Use:   "export ID [--state failed,expired] --format csv|jsonl [--out FILE]",
		Short: "Write a campaign's messages (by default those that did not arrive) as CSV or JSON Lines",
		Long: `export writes the campaign's messages in the states of --state (default failed and expired: the
people the text did not reach, who may need a letter or a call), by message id, to stdout or --out.
The columns of CSV and the keys of JSON Lines are the same: ` + strings.Join(messageHeader, ", ") + `.
The file holds full phone numbers: personal data, to be handled as such. Every export is in the
audit log.`,
		Example: `  unspoof campaign export 1 --out not-reached.csv
  unspoof campaign export 1 --state ambiguous --format jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := campaignID(args[0])
			if err != nil {
				return err
			}
			if format != "csv" && format != "jsonl" {
				return usageError{fmt.Errorf("unknown --format %q: csv or jsonl", format)}
			}
			var want []string
			for st := range strings.SplitSeq(states, ",") {
				st = strings.TrimSpace(st)
				if !slices.Contains(unspoof.MessageStates, st) {
					return usageError{fmt.Errorf("--state %q: one or more of %s", st, strings.Join(unspoof.MessageStates, ", "))}
				}
				want = append(want, st)
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.FindCampaignByID(ctx, id); err != nil {
				return err
			}
			var ms []*unspoof.Message
			for _, st := range want {
				got, _, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: id, State: &st})
				if err != nil {
					return err
				}
				ms = append(ms, got...)
			}
			slices.SortFunc(ms, func(a, b *unspoof.Message) int { return cmp.Compare(a.ID, b.ID) })
			if err := g.audit(ctx, s, "campaign.export", fmt.Sprintf("campaign %d", id),
				fmt.Sprintf("%d messages (%s) as %s to %s", len(ms), strings.Join(want, ","), format, cmp.Or(out, "stdout"))); err != nil {
				return err
			}
			return g.export(out, "messages", len(ms), func(w io.Writer) error { return writeMessages(w, format, ms) })
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to `FILE` instead of stdout")
	cmd.Flags().StringVar(&states, "state", unspoof.MessageFailed+","+unspoof.MessageExpired, "comma-separated message `STATES`")
	return cmd
}

func messageRecord(m *unspoof.Message) []string {
	t := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return []string{m.E164, m.Reference, m.State, m.Reason, strconv.Itoa(m.Parts), strconv.Itoa(m.Delivered),
		strconv.Itoa(m.Attempts), t(m.SentAt), t(m.DoneAt)}
}

func writeMessages(w io.Writer, format string, ms []*unspoof.Message) error {
	return table{header: messageHeader, rows: len(ms), row: func(i int) []string { return messageRecord(ms[i]) },
		safe: []int{3}, // the reason: the SMSC's words
		typed: func(i int, obj map[string]any) {
			obj["parts"], obj["delivered_parts"], obj["attempts"] = ms[i].Parts, ms[i].Delivered, ms[i].Attempts
		}}.write(w, format)
}
