// Command unspoof fights caller-ID spoofing fraud: it ingests the records of a seized spoofing
// service, finds and alerts its victims, ranks its users for investigators and screens calls
// for phone networks. Run "unspoof --help" for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
)

// Exit codes, documented in README.md.
const (
	exitOK       = 0
	exitError    = 1 // something failed
	exitUsage    = 2 // the command line or an input was wrong
	exitRejected = 3 // a file had more bad rows than --max-bad allows; nothing was loaded
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var usage usageError
	switch {
	case errors.Is(err, ingest.ErrTooManyBad):
		fmt.Fprintln(os.Stderr, "unspoof:", err)
		return exitRejected
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "unspoof:", err)
		return exitUsage
	case unspoof.ErrorCode(err) == unspoof.EINVALID:
		fmt.Fprintln(os.Stderr, "unspoof:", unspoof.ErrorMessage(err))
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "unspoof: interrupted")
		return exitError
	}
	fmt.Fprintln(os.Stderr, "unspoof:", err)
	return exitError
}

// usageError is a mistake on the command line.
type usageError struct{ error }

// globals are the settings every subcommand shares.
type globals struct {
	db         string
	verbose    bool
	cpuprofile string
	stdout     io.Writer
	stderr     io.Writer
	logger     *slog.Logger
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "unspoof",
		Short: "Investigate and prevent caller-ID spoofing fraud",
		Long: `unspoof takes the records of a seized caller-ID spoofing service, finds its victims and
its worst users, alerts victims, takes their reports, and screens calls for phone networks.

The evidence is kept in an SQLite file (./unspoof.db) or, at scale, PostgreSQL:
  --db PATH              SQLite file (default ./unspoof.db, or $UNSPOOF_DB)
  --db postgres://…      PostgreSQL`,
		Example: `  unspoof simulate --preset ispoof --scale 0.01 --out case1
  unspoof ingest --kind accounts case1/accounts.csv
  unspoof ingest --kind calls case1/calls.csv
  unspoof stats`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if g.verbose {
				level = slog.LevelDebug
			}
			g.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			if g.cpuprofile != "" {
				f, err := os.Create(g.cpuprofile)
				if err != nil {
					return usageError{fmt.Errorf("--cpuprofile: %w", err)}
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			return nil
		},
		PersistentPostRun: func(cmd *cobra.Command, args []string) {
			if g.cpuprofile != "" {
				pprof.StopCPUProfile()
			}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.db, "db", envOr("UNSPOOF_DB", "unspoof.db"), "SQLite file or postgres:// URL of the evidence store")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail (may include full phone numbers)")
	root.PersistentFlags().StringVar(&g.cpuprofile, "cpuprofile", "", "write a CPU profile to this file (for performance work)")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.AddCommand(
		newDemoCmd(g),
		newSimulateCmd(),
		newIngestCmd(g),
		newStatsCmd(g),
		newSourcesCmd(g),
		newMigrateCmd(g),
		newVictimsCmd(g),
		newSuspectsCmd(g),
		newEvaluateCmd(g),
		newCampaignCmd(g),
		newSMSCSimCmd(g),
		newServeCmd(g),
		newStaffCmd(g),
		newPassportCmd(g),
		newScreenCmd(g),
		newPurgeCmd(g),
		newAuditCmd(g),
	)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("%s needs at least %d argument(s); see --help", cmd.CommandPath(), n)}
		}
		return nil
	}
}
