package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/campaign"
	"github.com/unspoof/unspoof/ingest"
	"github.com/unspoof/unspoof/simulate"
	"github.com/unspoof/unspoof/smpp/smscsim"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/suspect"
	"github.com/unspoof/unspoof/victim"
	"github.com/unspoof/unspoof/web"
)

// The demo's cast: who creates and approves the campaign, who signs in to the dashboard.
const (
	demoCreator  = "demo-analyst"
	demoApprover = "demo-supervisor"
	demoStaff    = "demo"
	demoSender   = "447700900999" // an Ofcom drama number: replies (STOP) come back to it
	// One SMS part even for the longest organisation name; a web address to type, never a link.
	demoTemplate = `Police: a fraudster posing as {{org}} may have called you. Tell us at {{portal}} ` +
		`(ref {{reference}}). We never ask for money.`
)

// demoConfig is what the demo was asked to do.
type demoConfig struct {
	dir        string
	scale      float64
	seed       uint64
	http       string
	noServe    bool
	reports    int
	recipients int
}

func newDemoCmd(g *globals) *cobra.Command {
	var dc demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the whole response on a simulated seized dataset",
		Long: `demo runs the whole response to a seized caller-ID spoofing service on simulated data, in one
command:

 1. simulates the records of an iSpoof-like service (--scale 0.01: about 100,000 calls) into --dir
    and ingests them into a new SQLite store there, with progress;
 2. ranks victims (the score rule, alerting as many numbers as the Met's 2022 rule) and suspects
    (UK users who paid at least £100), and prints the headline figures next to the real case's;
 3. runs an SMS alert campaign, created by one member of staff and approved by another, through
    the built-in message centre SIMULATOR on loopback (nothing reaches any phone): receipts, a
    few undeliverable and expired messages, and one recipient replying STOP;
 4. files a few victim reports through the portal's real web forms, and links them to the
    evidence;
 5. serves the portal and the staff dashboard, printing their addresses and a one-time staff
    password, until Ctrl-C (--no-serve stops after step 4).

Re-running reuses the simulated files when --scale and --seed are unchanged (other values
recreate them) and always rebuilds the store from them, so each run starts clean.`,
		Example: `  go run ./cmd/unspoof demo
  unspoof demo --http 127.0.0.1:9000
  unspoof demo --scale 1        # the full 10-million-call year: several minutes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dc.scale <= 0 || dc.scale > 2 {
				return usageError{fmt.Errorf("--scale %g: between 0 and 2 (1 is the real case's size)", dc.scale)}
			}
			return runDemo(cmd.Context(), g, dc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dc.dir, "dir", "unspoof-demo", "directory for the demo's data and store")
	f.Float64Var(&dc.scale, "scale", 0.01, "size relative to the real case (1 = 10 million calls)")
	f.Uint64Var(&dc.seed, "seed", 1, "random seed of the simulation")
	f.StringVar(&dc.http, "http", "127.0.0.1:8080", "address of the portal and dashboard (another free port is used if taken)")
	f.BoolVar(&dc.noServe, "no-serve", false, "stop after filing the reports instead of serving the dashboard")
	f.IntVar(&dc.reports, "reports", 5, "victim reports to file through the portal")
	f.IntVar(&dc.recipients, "recipients", 0, "alert at most this many victims (0: every high-tier mobile)")
	return cmd
}

func runDemo(ctx context.Context, g *globals, dc demoConfig) error {
	w := g.stdout
	if !g.verbose { // the steps' own lines say what happens; the components' logs only when asked
		g.logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if dc.scale >= 0.2 {
		fmt.Fprintf(w, "scale %g: about %s calls; the demo takes roughly %s on a 2-core machine (most of it ingesting and ranking)\n",
			dc.scale, count(int64(dc.scale*10_000_000)), (time.Duration(dc.scale*360) * time.Second).Round(time.Second))
	}
	m, err := demoDataset(ctx, w, dc)
	if err != nil {
		return err
	}
	db := filepath.Join(dc.dir, "unspoof.db")
	for _, name := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(w, "   ingesting into a new store, %s\n", db)
	for _, kind := range []string{"orgs", "accounts", "payments", "calls"} {
		fi := m.File(kind)
		if fi == nil {
			return fmt.Errorf("demo data has no %s file", kind)
		}
		if err := demoIngest(ctx, g, store, unspoof.Kind(kind), filepath.Join(dc.dir, fi.Name)); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\n2. Victims and suspects: ranking victims (score rule, alerting as many numbers as the Met's rule) and suspects (UK users who paid ≥ £100)")
	vr, err := victim.Rank(ctx, store, victim.Config{Rule: victim.RuleScore})
	if err == nil {
		err = victim.Save(ctx, store, vr)
	}
	if err != nil {
		return fmt.Errorf("rank victims: %w", err)
	}
	sr, err := suspect.Rank(ctx, store, suspect.Config{Rule: suspect.RuleMet2022})
	if err == nil {
		err = suspect.Save(ctx, store, sr)
	}
	if err != nil {
		return fmt.Errorf("rank suspects: %w", err)
	}
	st, err := store.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n   headline figures: the store next to the published iSpoof figures (× %g)\n\n", dc.scale)
	if err := printHeadline(w, m, st, int64(vr.MetCount), int64(len(vr.Victims)), int64(len(sr.Suspects))); err != nil {
		return err
	}

	c, err := demoCampaign(ctx, g, store, dc)
	if err != nil {
		return err
	}

	srv, err := demoServer(ctx, g, store, dc)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(sctx)
	}()
	if err := demoReports(ctx, g, store, srv.Addr(), c, filepath.Join(dc.dir, m.File("truth").Name), dc.reports); err != nil {
		return err
	}

	password, err := demoStaffAccount(ctx, store)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n5. Portal and dashboard\n")
	fmt.Fprintf(w, "   portal:     http://%s/            (what the text means; /report: report a call)\n", srv.Addr())
	fmt.Fprintf(w, "   dashboard:  http://%s/staff       sign in as %q with password %s (made for this run only)\n",
		srv.Addr(), demoStaff, password)
	fmt.Fprintf(w, "   the store:  unspoof --db %s victims list | suspects list | campaign status | stats\n", db)
	if dc.noServe {
		return nil
	}
	fmt.Fprintln(w, "   serving until Ctrl-C")
	<-ctx.Done()
	fmt.Fprintln(w, "stopped")
	return nil
}

// demoDataset reuses the simulated files in dc.dir when they were made with the same scale and
// seed, or simulates them anew.
func demoDataset(ctx context.Context, w io.Writer, dc demoConfig) (*simulate.Manifest, error) {
	m, err := simulate.ReadManifest(dc.dir)
	if err == nil && m.Scale == dc.scale && m.Seed == dc.seed {
		fmt.Fprintf(w, "1. Evidence: reusing the simulated dataset in %s (scale %g, seed %d)\n", dc.dir, dc.scale, dc.seed)
		return m, nil
	}
	if err == nil {
		fmt.Fprintf(w, "%s holds another dataset (scale %g, seed %d): recreating it\n", dc.dir, m.Scale, m.Seed)
	}
	fmt.Fprintf(w, "1. Evidence: simulating a seized dataset (scale %g, seed %d) into %s\n", dc.scale, dc.seed, dc.dir)
	return simulate.Run(ctx, simulate.Config{Preset: "ispoof", Scale: dc.scale, Seed: dc.seed, Out: dc.dir, BadRows: 0.001})
}

func demoIngest(ctx context.Context, g *globals, store unspoof.EvidenceStore, kind unspoof.Kind, path string) error {
	cfg := ingest.Config{Kind: kind, Region: "GB", By: "demo", Quarantine: path + ".quarantine.csv"}
	if isTerminal(g.stderr) {
		bar := newBar(g.stderr, path)
		defer func() { bar.Finish(); fmt.Fprintln(g.stderr) }()
		cfg.Progress = func(p ingest.Progress) { bar.ChangeMax64(p.Size); bar.Set64(p.Bytes) }
	}
	res, err := ingest.File(ctx, store, path, cfg)
	if res != nil {
		fmt.Fprint(g.stdout, "   ")
		printIngest(g.stdout, path, res)
	}
	return err
}

// demoCampaign creates, approves and runs the alert campaign through a message centre simulator
// of its own on loopback.
func demoCampaign(ctx context.Context, g *globals, store caseStore, dc demoConfig) (*unspoof.Campaign, error) {
	w := g.stdout
	sel := "tier=high"
	if dc.recipients > 0 {
		sel += fmt.Sprintf(",limit=%d", dc.recipients)
	}
	// The portal address the text names: at a real operation the force's own web address.
	portal := "police.example/ispoof"
	if rs, err := store.FindRecipients(ctx, unspoof.RecipientFilter{Tier: new(victim.TierHigh), Channel: new(unspoof.ChannelSMS), Limit: 1}); err != nil {
		return nil, err
	} else if len(rs) == 0 {
		fmt.Fprintln(w, "\n3. Alert campaign: no high-tier mobile victims at this scale and seed, so no campaign (try a larger --scale)")
		return nil, nil
	}
	c, lint, err := campaign.Create(ctx, store, campaign.Spec{Name: "iSpoof demo alert", Template: demoTemplate,
		SenderID: demoSender, Select: sel, Portal: portal, Hours: campaign.Hours{Start: 0, End: 24}, Synthetic: true,
		CreatedBy: demoCreator, Now: time.Now()})
	if err != nil {
		if lint != nil {
			printLint(g.stderr, lint)
		}
		return nil, fmt.Errorf("create the campaign: %w", err)
	}
	if err := campaign.Approve(ctx, store, c.ID, demoApprover, time.Now()); err != nil {
		return nil, fmt.Errorf("approve the campaign: %w", err)
	}
	n := c.Total()
	fmt.Fprintf(w, "\n3. Alert campaign: %s high-tier mobile victims, %s SMS parts; created by %s, approved by %s\n",
		count(n), count(c.Parts), demoCreator, demoApprover)
	fmt.Fprintf(w, "   text (worst case, %d part%s): %s\n", lint.Parts, plural(lint.Parts), lint.Worst)
	sim, err := smscsim.New(smscsim.Config{Addr: "127.0.0.1:0", SystemID: "unspoof", Password: "demo",
		ReceiptDelay: 300 * time.Millisecond, Undeliverable: 0.03, Expired: 0.01, StopAfter: int(max(1, n/3)),
		Logger: g.logger})
	if err != nil {
		return nil, err
	}
	if err := sim.Open(); err != nil {
		return nil, err
	}
	defer sim.Close()
	fmt.Fprintf(w, "   sending through the SMSC SIMULATOR on %s (loopback; nothing reaches a phone), sending hours open all day for the demo\n",
		sim.Addr())
	sum, err := sendCampaign(ctx, g, store, c, campaignRun{addr: sim.Addr(), systemID: "unspoof", password: "demo",
		rate: 500, window: campaign.DefaultWindow, linger: 5 * time.Second, progress: isTerminal(g.stderr)})
	if sum != nil {
		printRun(indented(w), sum)
	}
	if err != nil {
		return nil, fmt.Errorf("run the campaign: %w", err)
	}
	sim.Close()
	printSimStats(indented(w), sim.Stats())
	return store.FindCampaignByID(ctx, c.ID)
}

// demoServer starts the portal and dashboard on dc.http, or on a free loopback port when that
// address is taken.
func demoServer(ctx context.Context, g *globals, store *sqlite.DB, dc demoConfig) (*web.Server, error) {
	if err := store.CheckpointInBackground(ctx, time.Second); err != nil {
		return nil, err
	}
	open := func(addr string) (*web.Server, error) {
		srv, err := web.New(web.Config{Addr: addr, Store: store, Logger: g.logger, Portal: "police.example/ispoof",
			FiguresEvery: time.Minute})
		if err != nil {
			return nil, err
		}
		return srv, srv.Open()
	}
	srv, err := open(dc.http)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(dc.http)
		fmt.Fprintf(g.stdout, "   %s is taken: using another port\n", dc.http)
		srv, err = open(net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "--http %s: %v", dc.http, err)
	}
	return srv, nil
}

// demoStaffAccount makes the dashboard account the demo prints, with a new random password.
func demoStaffAccount(ctx context.Context, store caseStore) (string, error) {
	password := rand.Text()[:16]
	st := &unspoof.Staff{Username: demoStaff, Name: "Demo supervisor", Role: unspoof.RoleAdmin,
		PasswordHash: web.HashPassword(password), CreatedAt: time.Now().UTC()}
	if err := store.CreateStaff(ctx, st); err != nil {
		return "", err
	}
	return password, store.Audit(ctx, &unspoof.AuditEntry{At: time.Now().UTC(), Actor: "demo", Action: "staff.add",
		Object: "staff " + demoStaff, Detail: "role admin, one-time demo password"})
}

// indent writes through to w with three spaces at the start of every line, for summaries printed
// under a step.
type indent struct {
	w     io.Writer
	inner *bool // within a line: pointer, so that copies of the value share it
}

func (i indent) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if !*i.inner {
			if _, err := io.WriteString(i.w, "   "); err != nil {
				return n, err
			}
		}
		line := p
		if k := bytes.IndexByte(p, '\n'); k >= 0 {
			line = p[:k+1]
		}
		m, err := i.w.Write(line)
		n += m
		if err != nil {
			return n, err
		}
		*i.inner = line[len(line)-1] != '\n'
		p = p[len(line):]
	}
	return n, nil
}

// indented returns an indent writer on w.
func indented(w io.Writer) indent { return indent{w: w, inner: new(bool)} }

// printHeadline prints the store's figures beside the preset's targets at the dataset's scale.
func printHeadline(w io.Writer, m *simulate.Manifest, st *unspoof.Stats, identified, alerted, suspects int64) error {
	measured := &simulate.Figures{
		Calls: st.Calls, Accounts: st.Accounts, PayingAccounts: st.PayingAccounts, PaidGBP: float64(st.PaidMinor) / 100,
		UKCalls: st.UKCalls, UKCallsOver60: st.UKCallsOver60s, UKNumbers: st.UKCallees, UKNumbersOver60: st.UKCalleesOver60,
		Callees: st.DistinctCallees, UKNumbersIdentified: identified,
	}
	rows, err := simulate.Compare(m.Preset, m.Scale, nil, measured)
	if err != nil {
		return err
	}
	show := map[string]bool{"calls": true, "accounts": true, "paying accounts": true, "paid (GBP)": true, "UK calls": true,
		"UK calls > 60 s": true, "UK numbers called": true, "UK numbers reached (> 60 s)": true, "distinct callees": true,
		"… by identified UK users (paid ≥ £100)": true}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tiSpoof (scaled)\tthis store\t")
	for _, r := range rows {
		if !show[r.Name] {
			continue
		}
		target := "—"
		if !math.IsNaN(r.Target) {
			target = count(int64(math.Round(r.Target)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r.Name, target, count(int64(math.Round(r.Measured))))
	}
	fmt.Fprintf(tw, "numbers to alert (score rule)\t—\t%s\t\n", count(alerted))
	fmt.Fprintf(tw, "suspects identified (UK, paid ≥ £100)\t—\t%s\t\n", count(suspects))
	return tw.Flush()
}
