package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/campaign"
	"github.com/unspoof/unspoof/smpp"
)

// staffFlag is who is acting: approvals and the audit log need a name.
type staffFlag struct{ as string }

func (f *staffFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.as, "as", "", "who you are, for approvals and the audit log (default $UNSPOOF_STAFF, else your login)")
}

func (f *staffFlag) name() string {
	if f.as != "" {
		return f.as
	}
	if s := os.Getenv("UNSPOOF_STAFF"); s != "" {
		return s
	}
	return currentUser()
}

func campaignID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("campaign id %q: a number (see unspoof campaign status)", arg)}
	}
	return id, nil
}

func newCampaignCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "campaign",
		Short: "Alert victims by SMS: create, approve, run, pause, resume, cancel, status",
		Long: `campaign sends an alert to the victims of a ranking over SMPP.

A campaign is created as a draft from a selection of victims and a template, which the linter
checks (no links, no numbers to call back, the reference required). A second member of staff
approves it; then run sends it, throttled in SMS parts a second, only in sending hours of each
recipient's time zone, never twice to a number: a message is recorded as being submitted before
it leaves, and one caught in flight by a crash is marked ambiguous and not resent unless an
operator says so (retry-ambiguous). STOP replies opt a number out of every campaign.

Message states: pending, submitting, submitted, delivered, failed, expired, suppressed, ambiguous.`,
		Example: `  unspoof campaign create --name "iSpoof wave 1" --template alert.txt --sender-id 447700900999 \
      --select tier=high --portal met.police.uk/ispoof --as alice
  unspoof campaign approve 1 --as bob
  unspoof campaign run 1 --smsc 127.0.0.1:2775 --system-id unspoof --rate 50
  unspoof campaign status 1`,
	}
	cmd.AddCommand(newCampaignCreateCmd(g), newCampaignLintCmd(g), newCampaignApproveCmd(g), newCampaignRunCmd(g),
		newCampaignStateCmd(g, "pause"), newCampaignStateCmd(g, "resume"), newCampaignStateCmd(g, "cancel"),
		newCampaignStatusCmd(g), newCampaignRetryCmd(g), newCampaignExportCmd(g))
	return cmd
}

// templateFlags are the flags a template is linted with.
type templateFlags struct {
	template, sender, portal string
}

func (f *templateFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.template, "template", "", "file with the message text: {{reference}} (required), {{org}}, {{portal}}")
	cmd.Flags().StringVar(&f.sender, "sender-id", "", "sender: a number (replies such as STOP reach us) or up to 11 letters and digits")
	cmd.Flags().StringVar(&f.portal, "portal", "", "the portal address {{portal}} stands for, shown as text to type")
}

func (f *templateFlags) read() (string, error) {
	if f.template == "" {
		return "", usageError{errors.New("--template FILE is required")}
	}
	b, err := os.ReadFile(f.template)
	if err != nil {
		return "", unspoof.Errorf(unspoof.EINVALID, "--template: %v", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func printLint(w io.Writer, l *campaign.Lint) {
	for _, e := range l.Errors {
		fmt.Fprintln(w, "error:  ", e)
	}
	for _, e := range l.Warnings {
		fmt.Fprintln(w, "warning:", e)
	}
	fmt.Fprintf(w, "worst case (%d part%s, %s, %d characters):\n  %s\n", l.Parts, plural(l.Parts), l.Coding,
		len([]rune(l.Worst)), l.Worst)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func newCampaignLintCmd(g *globals) *cobra.Command {
	var f templateFlags
	cmd := &cobra.Command{
		Use:     "lint --template FILE --sender-id ID [--portal ADDR]",
		Short:   "Check a template without creating a campaign",
		Example: `  unspoof campaign lint --template alert.txt --sender-id 447700900999 --portal met.police.uk/ispoof`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := f.read()
			if err != nil {
				return err
			}
			l := campaign.LintTemplate(t, f.sender, f.portal, nil)
			printLint(g.stdout, l)
			if !l.OK() {
				return unspoof.Errorf(unspoof.EINVALID, "the template is refused (%d error%s)", len(l.Errors), plural(len(l.Errors)))
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newCampaignCreateCmd(g *globals) *cobra.Command {
	var (
		f        templateFlags
		who      staffFlag
		name     string
		sel      string
		testList string
		hours    string
		cap      int
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --template FILE --sender-id ID [--select tier=high,limit=N] [--test-list FILE]",
		Short: "Create a draft campaign from the victims ranking (or a test list of staff phones)",
		Long: `create selects victims with the SMS channel (--select tier=high|medium|low,limit=N), leaving out
opted-out numbers and numbers already alerted by another campaign, renders the template for each and
stores the campaign as a draft. A second member of staff must approve it before it runs.

--test-list FILE (one number a line, at most 20) makes a test campaign to staff phones instead: it
runs without approval.`,
		Example: `  unspoof campaign create --name "wave 1" --template alert.txt --sender-id 447700900999 --select tier=high --as alice
  unspoof campaign create --name "wave 1 test" --template alert.txt --sender-id 447700900999 --test-list staff.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := f.read()
			if err != nil {
				return err
			}
			h, err := parseHours(hours)
			if err != nil {
				return err
			}
			var list []string
			if testList != "" {
				b, err := os.ReadFile(testList)
				if err != nil {
					return unspoof.Errorf(unspoof.EINVALID, "--test-list: %v", err)
				}
				for _, l := range strings.Split(string(b), "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						list = append(list, l)
					}
				}
				if len(list) == 0 {
					return unspoof.Errorf(unspoof.EINVALID, "--test-list %s has no numbers", testList)
				}
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			synthetic, err := isSynthetic(ctx, s)
			if err != nil {
				return err
			}
			c, lint, err := campaign.Create(ctx, s, campaign.Spec{Name: name, Template: t, SenderID: f.sender, Select: sel,
				TestList: list, Portal: f.portal, Hours: h, DailyCap: cap, Synthetic: synthetic, CreatedBy: who.name(), Now: time.Now()})
			if lint != nil {
				printLint(g.stderr, lint)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "campaign %d %q: %s messages, %s SMS parts, sending %s recipient's time; %s\n", c.ID, c.Name,
				count(c.Total()), count(c.Parts), h, c.State)
			if c.Synthetic {
				fmt.Fprintln(g.stdout, "synthetic evidence: this campaign can only be sent to an SMSC on loopback")
			}
			if c.Test {
				fmt.Fprintf(g.stdout, "a test campaign: run it with: unspoof campaign run %d --smsc HOST:PORT\n", c.ID)
			} else {
				fmt.Fprintf(g.stdout, "next: another member of staff approves it: unspoof campaign approve %d --as NAME\n", c.ID)
			}
			return nil
		},
	}
	f.add(cmd)
	who.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "campaign name (unique)")
	cmd.Flags().StringVar(&sel, "select", "", "victims to alert: tier=high|medium|low, channel=sms, limit=N (comma-separated)")
	cmd.Flags().StringVar(&testList, "test-list", "", "file of staff mobile numbers: a test campaign to them instead")
	cmd.Flags().StringVar(&hours, "hours", "9-20", "sending hours in the recipient's time zone: START-END o'clock")
	cmd.Flags().IntVar(&cap, "daily-cap", 0, "messages submitted a day at most, all campaigns (0: no cap)")
	return cmd
}

// isSynthetic reports whether any evidence in the store came from the simulator.
func isSynthetic(ctx context.Context, s caseStore) (bool, error) {
	srcs, err := s.FindSources(ctx)
	if err != nil {
		return false, err
	}
	for _, src := range srcs {
		if src.Synthetic {
			return true, nil
		}
	}
	return false, nil
}

func parseHours(s string) (campaign.Hours, error) {
	a, b, ok := strings.Cut(s, "-")
	start, err1 := strconv.Atoi(strings.TrimSpace(a))
	end, err2 := strconv.Atoi(strings.TrimSpace(b))
	h := campaign.Hours{Start: start, End: end}
	if !ok || err1 != nil || err2 != nil {
		return h, usageError{fmt.Errorf("--hours %q: START-END in whole hours, e.g. 9-20", s)}
	}
	if err := h.Check(); err != nil {
		return h, usageError{fmt.Errorf("--hours: %v", err)}
	}
	return h, nil
}

func newCampaignApproveCmd(g *globals) *cobra.Command {
	var who staffFlag
	cmd := &cobra.Command{
		Use:     "approve ID --as NAME",
		Short:   "Approve a draft campaign (not by the member of staff who created it)",
		Example: `  unspoof campaign approve 1 --as bob`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := campaignID(args[0])
			if err != nil {
				return err
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := campaign.Approve(cmd.Context(), s, id, who.name(), time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "campaign %d approved by %s\n", id, who.name())
			return nil
		},
	}
	who.add(cmd)
	return cmd
}

func newCampaignStateCmd(g *globals, verb string) *cobra.Command {
	var (
		who    staffFlag
		reason string
	)
	short := map[string]string{
		"pause":  "Pause a campaign: a run stops submitting within seconds and waits",
		"resume": "Resume a paused campaign",
		"cancel": "Cancel a campaign for good: its pending messages are never sent",
	}[verb]
	cmd := &cobra.Command{
		Use:     verb + " ID",
		Short:   short,
		Example: fmt.Sprintf("  unspoof campaign %s 1 --as alice", verb),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := campaignID(args[0])
			if err != nil {
				return err
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			now := time.Now()
			switch verb {
			case "pause":
				err = campaign.Pause(cmd.Context(), s, id, who.name(), now)
			case "resume":
				err = campaign.Resume(cmd.Context(), s, id, who.name(), now)
			case "cancel":
				err = campaign.Cancel(cmd.Context(), s, id, who.name(), reason, now)
			}
			if err != nil {
				return err
			}
			c, err := s.FindCampaignByID(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "campaign %d is %s\n", id, c.State)
			return nil
		},
	}
	who.add(cmd)
	if verb == "cancel" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	}
	return cmd
}

func newCampaignRetryCmd(g *globals) *cobra.Command {
	var (
		who    staffFlag
		reason string
	)
	cmd := &cobra.Command{
		Use:   "retry-ambiguous ID --reason TEXT",
		Short: "Send again the messages whose outcome is unknown (some may get the alert twice)",
		Long: `A message is ambiguous when it may have left but no answer came: the link dropped or the sender
was killed while it was in flight. The SMSC may have it; sending it again may alert the person
twice. retry-ambiguous makes them pending again, so that the next run sends them, and records who
decided it and why in the audit log.`,
		Example: `  unspoof campaign retry-ambiguous 1 --as alice --reason "SMSC confirmed it received none of them"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := campaignID(args[0])
			if err != nil {
				return err
			}
			s, err := g.openCase(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := campaign.RetryAmbiguous(cmd.Context(), s, id, who.name(), reason, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "campaign %d: %s ambiguous message%s pending again; run the campaign to send them\n", id,
				count(int64(n)), plural(n))
			return nil
		},
	}
	who.add(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why they may be sent again (required; kept in the audit log)")
	return cmd
}

func newCampaignStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "Counts by state, parts, rate and time left: one campaign, or all",
		Example: `  unspoof campaign status
  unspoof campaign status 1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			var cs []*unspoof.Campaign
			if len(args) == 1 {
				id, err := campaignID(args[0])
				if err != nil {
					return err
				}
				c, err := s.FindCampaignByID(ctx, id)
				if err != nil {
					return err
				}
				cs = []*unspoof.Campaign{c}
			} else if cs, err = s.FindCampaigns(ctx); err != nil {
				return err
			}
			if len(cs) == 0 {
				fmt.Fprintln(g.stdout, "no campaigns yet: unspoof campaign create --help")
				return nil
			}
			lastMin, err := s.SubmittedSince(ctx, time.Now().Add(-time.Minute))
			if err != nil {
				return err
			}
			rate := float64(lastMin) / 60
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "id\tname\tstate\tmessages\tparts\t"+strings.Join(unspoof.MessageStates, "\t")+"\t")
			for _, c := range cs {
				row := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t", c.ID, truncate(c.Name, 24), c.State, count(c.Total()), count(c.Parts))
				for _, st := range unspoof.MessageStates {
					row += count(c.Counts[st]) + "\t"
				}
				fmt.Fprintln(tw, row)
			}
			tw.Flush()
			if len(cs) == 1 {
				c := cs[0]
				left := c.Counts[unspoof.MessagePending] + c.Counts[unspoof.MessageSubmitting]
				fmt.Fprintf(g.stdout, "created by %s %s", c.CreatedBy, c.CreatedAt.Format(time.RFC3339))
				if c.ApprovedBy != "" {
					fmt.Fprintf(g.stdout, ", approved by %s %s", c.ApprovedBy, c.ApprovedAt.Format(time.RFC3339))
				}
				fmt.Fprintf(g.stdout, "\nsending hours %02d:00–%02d:00 recipient's time", c.QuietStart, c.QuietEnd)
				if c.DailyCap > 0 {
					fmt.Fprintf(g.stdout, ", daily cap %s", count(int64(c.DailyCap)))
				}
				fmt.Fprintln(g.stdout)
				if rate > 0 && left > 0 {
					fmt.Fprintf(g.stdout, "rate %.0f messages/s over the last minute; about %s left\n", rate,
						(time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
				}
				if n := c.Counts[unspoof.MessageAmbiguous]; n > 0 {
					fmt.Fprintf(g.stdout, "%s ambiguous: may or may not have been sent; see unspoof campaign retry-ambiguous --help\n", count(n))
				}
				if err := printReasons(ctx, g, s, c); err != nil {
					return err
				}
			}
			return nil
		},
	}
	return cmd
}

// printReasons lists why the campaign's messages did not arrive, most common first, with what
// each reason means where it is a common one.
func printReasons(ctx context.Context, g *globals, s unspoof.CampaignStore, c *unspoof.Campaign) error {
	reasons, err := s.MessageReasons(ctx, c.ID)
	if err != nil || len(reasons) == 0 {
		return err
	}
	var n int64
	for _, r := range reasons {
		n += r.Messages
	}
	fmt.Fprintf(g.stdout, "\nwhy %s message%s did not arrive (or may not have):\n", count(n), plural(int(n)))
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  state\treason\tmessages\tmeaning")
	for _, r := range reasons {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.State, cmp.Or(r.Reason, "-"), count(r.Messages), unspoof.ReasonMeaning(r.Reason))
	}
	return tw.Flush()
}

func newCampaignRunCmd(g *globals) *cobra.Command {
	var (
		addr, systemID, passwordEnv string
		rate                        float64
		window                      int
		linger                      time.Duration
		metricsAddr                 string
		senderTON, senderNPI        int
		allowReal, noProgress       bool
		dryRun                      bool
	)
	cmd := &cobra.Command{
		Use:   "run ID --smsc HOST:PORT [--rate PARTS/S] [--dry-run]",
		Short: "Send an approved campaign over SMPP, with live progress",
		Long: `run binds to the SMSC as a transceiver and sends the campaign's pending messages: throttled to
--rate SMS parts a second (slowing down when the SMSC says it is throttling), only in sending hours,
within the daily cap. Delivery receipts and STOP replies are recorded as they come; after the last
message run waits up to --linger for outstanding receipts. Ctrl-C stops it cleanly: messages not yet
sent stay pending. A campaign of synthetic evidence is refused unless the SMSC is on loopback.

The SMPP password is read from the environment variable --password-env names.`,
		Example: `  UNSPOOF_SMPP_PASSWORD=secret unspoof campaign run 1 --smsc 127.0.0.1:2775 --system-id unspoof --rate 50
  unspoof campaign run 1 --smsc 127.0.0.1:2775 --metrics 127.0.0.1:9464
  unspoof campaign run 1 --dry-run --rate 50`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := campaignID(args[0])
			if err != nil {
				return err
			}
			if dryRun {
				s, err := g.openCase(ctx)
				if err != nil {
					return err
				}
				defer s.Close()
				p, err := campaign.DryRun(ctx, s, id, rate, time.Now())
				if err != nil {
					return err
				}
				printPlan(g.stdout, p, addr, allowReal)
				return nil
			}
			if addr == "" {
				return usageError{errors.New("--smsc HOST:PORT is required")}
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return usageError{fmt.Errorf("--smsc %q: HOST:PORT", addr)}
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			c, err := s.FindCampaignByID(ctx, id)
			if err != nil {
				return err
			}
			if err := campaign.CheckSMSC(c, addr, allowReal); err != nil {
				return err
			}
			o := campaignRun{addr: addr, systemID: systemID, password: os.Getenv(passwordEnv), rate: rate, window: window,
				linger: linger, allowReal: allowReal, progress: !noProgress && isTerminal(g.stderr)}
			if o.senderTON, o.senderNPI, o.senderTypeSet, err = senderType(cmd, senderTON, senderNPI); err != nil {
				return err
			}
			if metricsAddr != "" {
				reg := prometheus.NewRegistry()
				o.metrics = campaign.NewMetrics(reg)
				ln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return unspoof.Errorf(unspoof.EINVALID, "--metrics: %v", err)
				}
				srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
				go srv.Serve(ln)
				defer srv.Close()
				fmt.Fprintf(g.stderr, "metrics on http://%s/metrics\n", ln.Addr())
			}
			sum, err := sendCampaign(ctx, g, s, c, o)
			if sum != nil {
				printRun(g.stdout, sum)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "smsc", "", "the SMSC's HOST:PORT (SMPP 3.4)")
	cmd.Flags().StringVar(&systemID, "system-id", "unspoof", "SMPP system_id")
	cmd.Flags().StringVar(&passwordEnv, "password-env", "UNSPOOF_SMPP_PASSWORD", "environment variable holding the SMPP password")
	cmd.Flags().Float64Var(&rate, "rate", 0, "SMS parts a second at most, for this bind (0: as fast as the SMSC takes them)")
	cmd.Flags().IntVar(&window, "window", campaign.DefaultWindow, "SMPP window: PDUs awaiting a response at most")
	cmd.Flags().IntVar(&senderTON, "sender-ton", -1, "the sender's SMPP type of number, as the aggregator asks (default: 5 for a name, 3 for a short code, 1 for a number)")
	cmd.Flags().IntVar(&senderNPI, "sender-npi", -1, "the sender's SMPP numbering plan, with --sender-ton (default: 0 for a name or short code, 1 for a number)")
	cmd.Flags().DurationVar(&linger, "linger", campaign.DefaultLinger, "after the last message, how long to wait for delivery receipts")
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9464)")
	cmd.Flags().BoolVar(&allowReal, "allow-real-smsc", false, "send a synthetic dataset's campaign through a non-loopback SMSC (never do this with simulated numbers)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be sent now (by time zone, parts, time at --rate, samples) and send nothing")
	return cmd
}

// senderType checks --sender-ton and --sender-npi: both or neither, and values SMPP 3.4 defines.
func senderType(cmd *cobra.Command, ton, npi int) (byte, byte, bool, error) {
	tonSet, npiSet := cmd.Flags().Changed("sender-ton"), cmd.Flags().Changed("sender-npi")
	switch {
	case !tonSet && !npiSet:
		return 0, 0, false, nil
	case tonSet != npiSet:
		return 0, 0, false, usageError{errors.New("--sender-ton and --sender-npi go together: give both, as the aggregator specifies")}
	case ton < 0 || ton > 6:
		return 0, 0, false, usageError{fmt.Errorf("--sender-ton %d: SMPP 3.4 defines 0 to 6 (1 international, 3 network specific, 5 alphanumeric)", ton)}
	case !slices.Contains([]int{0, 1, 3, 4, 6, 8, 9, 10, 14, 18}, npi):
		return 0, 0, false, usageError{fmt.Errorf("--sender-npi %d: SMPP 3.4 defines 0, 1, 3, 4, 6, 8, 9, 10, 14 and 18 (0 unknown, 1 E.164)", npi)}
	}
	return byte(ton), byte(npi), true, nil
}

// campaignRun are the settings of one run of a campaign.
type campaignRun struct {
	addr, systemID, password string
	rate                     float64
	window                   int
	linger                   time.Duration
	allowReal                bool
	senderTON, senderNPI     byte
	senderTypeSet            bool // --sender-ton and --sender-npi given
	progress                 bool // a progress bar on stderr
	metrics                  *campaign.Metrics
}

// sendCampaign binds to the SMSC at o.addr as a transceiver and runs campaign c until its
// messages are sent (or ctx ends), with a progress bar when asked: what campaign run and the
// demo both do.
func sendCampaign(ctx context.Context, g *globals, s caseStore, c *unspoof.Campaign, o campaignRun) (*campaign.Summary, error) {
	var bar *progressbar.ProgressBar
	if o.progress {
		bar = progressbar.NewOptions64(c.Total(), progressbar.OptionSetWriter(g.stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("campaign %d", c.ID)), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionSetWidth(30), progressbar.OptionFullWidth())
	}
	var eng *campaign.Engine
	client := smpp.New(smpp.Config{Addr: o.addr, SystemID: o.systemID, Password: o.password, Window: o.window,
		Logger: g.logger, DeliverAsync: func(d *smpp.Deliver, ack func()) { eng.Deliver(d, ack) }})
	cfg := campaign.Config{Store: s, SMSC: client, SMSCAddr: o.addr, AllowRealSMSC: o.allowReal, Rate: o.rate,
		Window: o.window, Linger: o.linger, Logger: g.logger, Metrics: o.metrics, SenderTON: o.senderTON,
		SenderNPI: o.senderNPI, SenderTypeSet: o.senderTypeSet}
	if bar != nil { // progress counts the campaign's messages: only when someone watches
		cfg.Progress = func(p campaign.Progress) {
			done := p.Campaign.Total() - p.Campaign.Counts[unspoof.MessagePending] - p.Campaign.Counts[unspoof.MessageSubmitting]
			bar.Describe(progressLine(p))
			bar.Set64(done)
		}
	}
	eng = campaign.New(cfg)
	clientCtx, stopClient := context.WithCancel(context.WithoutCancel(ctx))
	clientDone := make(chan error, 1)
	go func() { clientDone <- client.Run(clientCtx) }()
	sum, err := eng.Run(ctx, c.ID)
	stopClient()
	cerr := <-clientDone
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(g.stderr)
	}
	var refused *smpp.StatusError
	switch {
	case err != nil || cerr == nil || errors.Is(cerr, context.Canceled):
	case errors.Is(cerr, smpp.ErrBindRefused) && errors.As(cerr, &refused):
		err = unspoof.Errorf(unspoof.EINVALID, "the SMSC at %s refused the bind (%s): check --system-id %q and the password in the environment variable --password-env names",
			o.addr, refused.Status, o.systemID)
	default:
		err = cerr
	}
	return sum, err
}

// printPlan shows a dry run. Sample numbers are masked: the texts are what staff check.
func printPlan(w io.Writer, p *campaign.Plan, addr string, allowReal bool) {
	c := p.Campaign
	fmt.Fprintf(w, "dry run of campaign %d %q (%s): nothing sent\n", c.ID, c.Name, c.State)
	fmt.Fprintf(w, "%s pending messages, %s SMS parts; %s within sending hours (%02d:00–%02d:00 local) now\n",
		count(int64(p.Pending)), count(p.Parts), count(int64(p.OpenNow)), c.QuietStart, c.QuietEnd)
	for _, z := range p.Zones {
		when := "now"
		if !z.Open {
			when = "from " + z.NextOpen.UTC().Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(w, "  %-50s %8s  %s\n", z.Zone, count(int64(z.Messages)), when)
	}
	if p.Duration > 0 {
		fmt.Fprintf(w, "at the given rate: about %s of sending\n", p.Duration.Round(time.Second))
	}
	if c.DailyCap > 0 {
		fmt.Fprintf(w, "daily cap: %s messages a day (all campaigns)\n", count(int64(c.DailyCap)))
	}
	if addr != "" {
		if err := campaign.CheckSMSC(c, addr, allowReal); err != nil {
			fmt.Fprintln(w, "would be refused:", unspoof.ErrorMessage(err))
		}
	}
	for _, m := range p.Samples {
		fmt.Fprintf(w, "to %s (%d part%s): %s\n", campaign.Mask(m.E164), m.Parts, plural(m.Parts), m.Text)
	}
}

func progressLine(p campaign.Progress) string {
	c := p.Campaign
	s := fmt.Sprintf("campaign %d: %s delivered, %s failed, %s ambiguous, %.0f parts/s", c.ID,
		count(c.Counts[unspoof.MessageDelivered]), count(c.Counts[unspoof.MessageFailed]+c.Counts[unspoof.MessageExpired]),
		count(c.Counts[unspoof.MessageAmbiguous]), p.Rate)
	if p.Waiting != "" {
		s += " — " + p.Waiting
	}
	return s
}

func printRun(w io.Writer, sum *campaign.Summary) {
	c := sum.Campaign
	if sum.FoundInFlight > 0 {
		fmt.Fprintf(w, "found %s message%s in flight from an earlier run: now ambiguous, not resent (see retry-ambiguous)\n",
			count(int64(sum.FoundInFlight)), plural(sum.FoundInFlight))
	}
	fmt.Fprintf(w, "campaign %d %q: %s; this run submitted %s messages (%s parts) in %s, %.0f messages/s",
		c.ID, c.Name, c.State, count(sum.Submitted), count(sum.Parts), sum.Elapsed.Round(time.Millisecond), sum.Rate())
	if sum.Throttled > 0 {
		fmt.Fprintf(w, ", %s throttled and retried", count(sum.Throttled))
	}
	if sum.OptOuts > 0 {
		fmt.Fprintf(w, ", %s STOP", count(sum.OptOuts))
	}
	if sum.Stopped != "" {
		fmt.Fprintf(w, "; stopped: %s", sum.Stopped)
	}
	fmt.Fprintln(w)
	var parts []string
	for _, st := range unspoof.MessageStates {
		if n := c.Counts[st]; n > 0 {
			parts = append(parts, st+" "+count(n))
		}
	}
	fmt.Fprintln(w, "  "+strings.Join(parts, ", "))
}
