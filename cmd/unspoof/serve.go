package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		addr, portal       string
		secure, trustProxy bool
		perMinute          int
		figuresEvery       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve [--http 127.0.0.1:8080] [--portal ADDRESS]",
		Short: "Serve the victim portal, the staff dashboard and the JSON API",
		Long: `serve runs the public portal (/: what the alert means, /report: report a call, /opt-out), the
staff dashboard (/staff: headline figures, campaigns, reports, victims, suspects, audit log) and the
JSON API (/api/v1, docs/api/web.md) on one address. Put it behind an HTTPS proxy for the public and
pass --secure-cookies (and --trust-proxy if the proxy sets X-Forwarded-For). Staff accounts are made
with "unspoof staff add". Reports are linked to the evidence in the background as they arrive.`,
		Example: `  unspoof serve --http 127.0.0.1:8080 --portal met.police.uk/ispoof
  unspoof staff add alice --role analyst --name "Alice Analyst"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if lite, ok := s.(*sqlite.DB); ok {
				if err := lite.CheckpointInBackground(ctx, time.Second); err != nil {
					return err
				}
			}
			srv, err := web.New(web.Config{Addr: addr, Store: s, Logger: g.logger, Portal: portal, ReportsPerMinute: perMinute,
				TrustProxy: trustProxy, SecureCookies: secure, FiguresEvery: figuresEvery})
			if err != nil {
				return err
			}
			if err := srv.Open(); err != nil {
				return unspoof.Errorf(unspoof.EINVALID, "--http %s: %v", addr, err)
			}
			fmt.Fprintf(g.stdout, "serving on http://%s/ (portal) and http://%s/staff (dashboard)\n", srv.Addr(), srv.Addr())
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Close(sctx)
		},
	}
	cmd.Flags().StringVar(&addr, "http", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&portal, "portal", "", "the portal's public address, as the alert text names it")
	cmd.Flags().BoolVar(&secure, "secure-cookies", false, "mark cookies Secure and send HSTS: set when the public reaches it over HTTPS")
	cmd.Flags().BoolVar(&trustProxy, "trust-proxy", false, "take the client address from X-Forwarded-For (only behind a proxy that sets it)")
	cmd.Flags().IntVar(&perMinute, "reports-per-minute", web.DefaultReportsPerMinute, "report submissions one client may make a minute (-1: no limit, for load tests)")
	cmd.Flags().DurationVar(&figuresEvery, "figures-every", web.DefaultFiguresEvery, "how often the figures that scan every call are recomputed")
	return cmd
}

func newStaffCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "staff",
		Short:   "Manage the staff who may sign in to the dashboard",
		Example: `  UNSPOOF_PASSWORD='correct horse battery' unspoof staff add alice --role analyst --name "Alice Analyst"`,
	}
	var role, name string
	add := &cobra.Command{
		Use:   "add USERNAME --role comms|analyst|supervisor|admin [--name NAME]",
		Short: "Add a member of staff (the password is asked for, or read from UNSPOOF_PASSWORD)",
		Long: `add creates a dashboard account. Roles: comms (figures and campaign progress, no personal data),
analyst (reports, victims, suspects, exports), supervisor (an analyst who approves campaigns), admin
(also the audit log). The password (12 characters or more) is read from UNSPOOF_PASSWORD, or asked
for on the terminal; it is stored only as an argon2id hash.`,
		Example: `  unspoof staff add alice --role analyst --name "Alice Analyst"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(unspoof.Roles, role) {
				return usageError{fmt.Errorf("--role %q: one of %s", role, strings.Join(unspoof.Roles, ", "))}
			}
			pw, err := readPassword(g)
			if err != nil {
				return err
			}
			if err := web.CheckNewPassword(pw); err != nil {
				return err
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			st := &unspoof.Staff{Username: args[0], Name: cmp.Or(name, args[0]), Role: role, PasswordHash: web.HashPassword(pw),
				CreatedAt: time.Now().UTC()}
			if err := s.CreateStaff(cmd.Context(), st); err != nil {
				return err
			}
			s.Audit(cmd.Context(), &unspoof.AuditEntry{At: time.Now().UTC(), Actor: currentUser(), Action: "staff.add",
				Object: "staff " + st.Username, Detail: "role " + role})
			fmt.Fprintf(g.stdout, "added %s (%s)\n", st.Username, st.Role)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "comms, analyst, supervisor or admin")
	add.Flags().StringVar(&name, "name", "", "full name, shown on the dashboard")
	cmd.AddCommand(add, newStaffListCmd(g), newStaffSetCmd(g, "disable"), newStaffSetCmd(g, "enable"), newStaffPasswordCmd(g))
	return cmd
}

// readPassword reads a new password from UNSPOOF_PASSWORD or, on a terminal, twice from the user.
func readPassword(g *globals) (string, error) {
	if pw := os.Getenv("UNSPOOF_PASSWORD"); pw != "" {
		return pw, nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", usageError{errors.New("no password: set UNSPOOF_PASSWORD or type it")}
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(g.stderr, "Password: ")
	a, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(g.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(g.stderr, "Again: ")
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(g.stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", usageError{errors.New("the two passwords differ")}
	}
	return string(a), nil
}
