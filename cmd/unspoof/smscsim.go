package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/smpp/smscsim"
)

func newSMSCSimCmd(g *globals) *cobra.Command {
	var (
		cfg         smscsim.Config
		passwordEnv string
		logPath     string
	)
	cmd := &cobra.Command{
		Use:   "smsc-sim [--listen 127.0.0.1:2775]",
		Short: "A message centre simulator on loopback, for trying campaigns without an operator account",
		Long: `smsc-sim is an SMPP 3.4 message centre SIMULATOR: it sends nothing to any phone. It accepts binds
from unspoof campaign run (or any SMPP client), answers each message with an id of its own, and
after --receipt-delay sends a delivery receipt: delivered for most numbers, undeliverable or expired
for the shares --undeliverable and --expired ask (the same numbers every time). --stop-after N makes
the recipient of the N-th message reply STOP, so opt-outs can be tried; --throttle N answers
ESME_RTHROTTLED above N messages a second, so the campaign's back-off can be watched.

It listens on loopback only and names itself "unspoof-smsc-sim" in every bind response. The bind
password is read from the environment variable --password-env names (unset: any password). Ctrl-C
stops it and prints what it received.`,
		Example: `  unspoof smsc-sim --listen 127.0.0.1:2775 --undeliverable 0.03 --stop-after 10 --log submits.jsonl
  unspoof campaign run 1 --smsc 127.0.0.1:2775`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg.Password = os.Getenv(passwordEnv)
			cfg.Logger = g.logger
			if logPath != "" {
				f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
				if err != nil {
					return unspoof.Errorf(unspoof.EINVALID, "--log: %v", err)
				}
				defer f.Close()
				cfg.Log = f
			}
			sim, err := smscsim.New(cfg)
			if err != nil {
				return usageError{err}
			}
			if err := sim.Open(); err != nil {
				return unspoof.Errorf(unspoof.EINVALID, "--listen %s: %v", cfg.Addr, err)
			}
			pw := "any password"
			if cfg.Password != "" {
				pw = "the password in $" + passwordEnv
			}
			fmt.Fprintf(g.stdout, "SMSC SIMULATOR (nothing is sent to any phone) on %s: system_id %q, %s\n", sim.Addr(), cfg.SystemID, pw)
			fmt.Fprintf(g.stdout, "try: unspoof campaign run ID --smsc %s --system-id %s\n", sim.Addr(), cfg.SystemID)
			<-ctx.Done()
			err = sim.Close()
			printSimStats(g.stdout, sim.Stats())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "listen", smscsim.DefaultAddr, "loopback address to listen on")
	f.StringVar(&cfg.SystemID, "system-id", smscsim.DefaultSystemID, "the system_id a bind must present")
	f.StringVar(&passwordEnv, "password-env", "UNSPOOF_SMPP_PASSWORD", "environment variable holding the bind password (unset: any)")
	f.DurationVar(&cfg.ReceiptDelay, "receipt-delay", smscsim.DefaultReceiptDelay, "delay before a delivery receipt")
	f.Float64Var(&cfg.Undeliverable, "undeliverable", 0.03, "share of numbers whose messages end undeliverable")
	f.Float64Var(&cfg.Expired, "expired", 0.01, "share of numbers whose messages expire")
	f.IntVar(&cfg.StopAfter, "stop-after", 0, "the recipient of the N-th message replies STOP (0: nobody)")
	f.IntVar(&cfg.Throttle, "throttle", 0, "accept at most N messages a second, answering ESME_RTHROTTLED above (0: no limit)")
	f.StringVar(&logPath, "log", "", "append one JSON line per accepted message to this file")
	return cmd
}

// printSimStats prints what a simulator received and answered.
func printSimStats(w io.Writer, st smscsim.Stats) {
	fmt.Fprintf(w, "smsc-sim: %s bind%s, %s messages accepted, %s throttled, %s refused; receipts: %s delivered, %s undeliverable, %s expired; %s STOP sent\n",
		count(st.Binds), plural(int(st.Binds)), count(st.Submits), count(st.Throttled), count(st.Rejected),
		count(st.Delivered), count(st.Undeliverable), count(st.Expired), count(st.MO))
}
