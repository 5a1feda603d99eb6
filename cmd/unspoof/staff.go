package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/web"
)

func newStaffListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the staff: role, and whether they may sign in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			all, err := s.FindStaff(cmd.Context())
			if err != nil {
				return err
			}
			if len(all) == 0 {
				fmt.Fprintln(g.stdout, "no staff yet: unspoof staff add --help")
				return nil
			}
			now := time.Now()
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "username\tname\trole\tmay sign in\tadded")
			for _, st := range all {
				state := "yes"
				switch {
				case !st.DisabledAt.IsZero():
					state = "no: disabled " + st.DisabledAt.Format(time.RFC3339)
				case now.Before(st.LockedUntil):
					state = "locked until " + st.LockedUntil.Format(time.RFC3339) + " (failed logins)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Username, st.Name, st.Role, state, st.CreatedAt.Format(time.DateOnly))
			}
			return tw.Flush()
		},
	}
}

// newStaffSetCmd makes disable and enable: both need a reason, which the audit log keeps.
func newStaffSetCmd(g *globals, verb string) *cobra.Command {
	var reason string
	short := map[string]string{
		"disable": "Stop a member of staff signing in, and end their sessions now (they stay named in the audit log)",
		"enable":  "Let a disabled member of staff sign in again",
	}[verb]
	cmd := &cobra.Command{
		Use:     verb + " USERNAME --reason TEXT",
		Short:   short,
		Example: "  unspoof staff " + verb + " alice --reason \"left the team 2026-12-01\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError{fmt.Errorf("--reason is required: the audit log keeps why")}
			}
			ctx := cmd.Context()
			s, st, err := openStaff(ctx, g, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			at := time.Now().UTC()
			if verb == "enable" {
				at = time.Time{}
			}
			if err := g.audit(ctx, s, "staff."+verb, "staff "+st.Username, reason); err != nil {
				return err
			}
			if err := s.SetStaffDisabled(ctx, st.ID, at); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%sd %s; their sessions have ended\n", verb, st.Username)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; kept in the audit log)")
	return cmd
}

func newStaffPasswordCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "password USERNAME",
		Short: "Set a new password for a member of staff (ends their sessions, lifts a lockout)",
		Long: `password replaces a member of staff's password, read from UNSPOOF_PASSWORD or asked for on the
terminal (12 characters or more). Their sessions end and a lockout after failed logins is lifted.`,
		Example: `  unspoof staff password alice`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, st, err := openStaff(ctx, g, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			pw, err := readPassword(g)
			if err != nil {
				return err
			}
			if err := web.CheckNewPassword(pw); err != nil {
				return err
			}
			if err := g.audit(ctx, s, "staff.password", "staff "+st.Username, ""); err != nil {
				return err
			}
			if err := s.SetStaffPassword(ctx, st.ID, web.HashPassword(pw)); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "new password for %s; their sessions have ended\n", st.Username)
			return nil
		},
	}
}

// openStaff opens the store and finds the member of staff called username (ENOTFOUND if there
// is none, with the store closed again).
func openStaff(ctx context.Context, g *globals, username string) (caseStore, *unspoof.Staff, error) {
	s, err := g.openCase(ctx)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.FindStaffByUsername(ctx, username)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, st, nil
}
