package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
	"github.com/unspoof/unspoof/screen"
	"github.com/unspoof/unspoof/sipscreen"
	"github.com/unspoof/unspoof/stirshaken"
)

func newScreenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "screen",
		Short: "Screen calls for phone networks: serve the screening API, check a call, export block lists",
		Long: `screen decides, for each call a network asks about, whether the presented number can be
trusted: allow, flag (put through, labelled) or block, with reason codes. Rules, in order:

  numbering   invalid or unallocated number: block; impossible length: block; drama range: flag
  dno         a number on the Do-Not-Originate list (--dno): block
  ingress     a UK number on a call from abroad: block (a UK mobile: flag, for roaming)
  egress      from a known spoofing service's address or trunk (--egress): block
  stirshaken  Identity header verification: verstat, attestation, SPC; failed: flag
  velocity    too many calls or numbers called a minute from one number or address: flag

Each rule can be report-only (its reasons are recorded, the action is not changed) or off. A
verdict that waits past --deadline for signature verification fails open (allowed).

The lists come from the evidence: "screen export-dno" writes the impersonated organisations'
numbers as a DNO list, "screen export-egress" the spoofing service's users' IP addresses. Their
format, the HTTP API and the metrics are in docs/api/screen.md and docs/api/screen.openapi.json.`,
		Example: `  unspoof screen export-dno --out dno.csv
  unspoof screen export-egress --out egress.csv
  unspoof screen check --dno dno.csv --from "0300 593 4275" --to 07400123456
  unspoof screen serve --http 127.0.0.1:8080 --dno dno.csv --egress egress.csv --report-only velocity`,
	}
	cmd.AddCommand(newScreenServeCmd(g), newScreenCheckCmd(g), newScreenExportDNOCmd(g), newScreenExportEgressCmd(g))
	return cmd
}

// screenFlags are the engine's settings, shared by serve and check.
type screenFlags struct {
	dno, egress           string
	reportOnly, off       []string
	deadline              time.Duration
	region                string
	verifyFail            string
	mobileAbroad          string
	exemptPrefixes        []string
	exemptTrunks          []string
	numberCalls, numDests int
	ipCalls, ipDests      int
	cas                   []string // STIR/SHAKEN trust anchors: verification is on when given
	allowPrivateX5U       bool
}

func (f *screenFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.dno, "dno", "", "Do-Not-Originate list (CSV; see docs/api/screen.md)")
	fl.StringVar(&f.egress, "egress", "", "known spoofing-service egress list (CSV)")
	fl.StringSliceVar(&f.reportOnly, "report-only", nil, "rules whose reasons are recorded but do not act: "+strings.Join(screen.Rules, ","))
	fl.StringSliceVar(&f.off, "off", nil, "rules not to run")
	fl.DurationVar(&f.deadline, "deadline", screen.DefaultDeadline, "answer by then, failing open (allow) if verification has not finished")
	fl.StringVar(&f.region, "region", screen.DefaultRegion, "region numbers without an international prefix are dialled in")
	fl.StringVar(&f.verifyFail, "verify-fail", unspoof.ActionFlag, "what a failed STIR/SHAKEN verification does: flag or block")
	fl.StringVar(&f.mobileAbroad, "uk-mobile-abroad", unspoof.ActionFlag, "what a UK mobile number on an international ingress does: allow, flag or block")
	fl.StringSliceVar(&f.exemptPrefixes, "exempt-prefix", nil, "E.164 prefixes the ingress rule lets in from abroad (+44203…)")
	fl.StringSliceVar(&f.exemptTrunks, "exempt-trunk", nil, "trunks whose UK numbers the ingress rule lets in from abroad")
	fl.IntVar(&f.numberCalls, "calls-per-minute", screen.DefaultNumberCalls, "velocity: calls a minute from one presented number")
	fl.IntVar(&f.numDests, "numbers-per-minute", screen.DefaultNumberDestinations, "velocity: distinct numbers called a minute from one presented number")
	fl.IntVar(&f.ipCalls, "ip-calls-per-minute", screen.DefaultIPCalls, "velocity: calls a minute from one source address")
	fl.IntVar(&f.ipDests, "ip-numbers-per-minute", screen.DefaultIPDestinations, "velocity: distinct numbers called a minute from one source address")
	fl.StringArrayVar(&f.cas, "ca", nil, "STI-CA root certificate file (PEM; repeatable): verify Identity headers against it")
	fl.BoolVar(&f.allowPrivateX5U, "allow-private-x5u", false, "fetch signing certificates from private and loopback addresses (labs and tests only)")
}

// verifier returns the STIR/SHAKEN verifier the --ca flags ask for, or nil (signed calls are
// then not verified: verstat No-TN-Validation).
func (f *screenFlags) verifier(g *globals) (screen.IdentityVerifier, error) {
	if len(f.cas) == 0 {
		return nil, nil
	}
	var anchors []*x509.Certificate
	for _, path := range f.cas {
		c, err := readCertFile(path)
		if err != nil {
			return nil, usageError{fmt.Errorf("--ca: %w", err)}
		}
		anchors = append(anchors, c...)
	}
	logger := g.logger.With("component", "stirshaken")
	v := stirshaken.NewVerifier(stirshaken.Config{TrustAnchors: anchors, Logger: logger,
		Fetcher: stirshaken.NewFetcher(stirshaken.FetcherConfig{AllowPrivate: f.allowPrivateX5U, Logger: logger})})
	return screen.VerifierFunc(func(ctx context.Context, id []string, from, to string) screen.IdentityResult {
		r := v.VerifyCall(ctx, id, from, to)
		return screen.IdentityResult{Verstat: r.Verstat, Attest: r.Attest, OrigID: r.OrigID, SPC: r.SPC, Reasons: r.Reasons}
	}), nil
}

// sipFrontEnd serves the engine as a SIP redirect server on addr, UDP and TCP (docs/api/sip.md);
// calls from the international peers' address ranges are screened as international ingress.
func sipFrontEnd(addr string, e *screen.Engine, reg prometheus.Registerer, intl []netip.Prefix, logger *slog.Logger) frontEnd {
	srv := sipscreen.New(sipscreen.Config{Screener: e, Addr: addr, Ingress: sipscreen.IngressFromCIDRs(intl),
		Metrics: sipscreen.NewMetrics(reg), Logger: logger})
	return frontEnd{
		name: "SIP",
		open: func() (string, error) {
			if err := srv.Open(); err != nil {
				return "", unspoof.Errorf(unspoof.EINVALID, "--sip: %v", err)
			}
			return srv.Addr() + " (UDP and TCP: INVITE answered 302 or 603)", nil
		},
		close: func(context.Context) error { return srv.Close() },
	}
}

// engine builds the engine the flags describe, with its lists loaded, its metrics in reg (if
// not nil) and the verifier v (nil: signed calls are not verified).
func (f *screenFlags) engine(g *globals, reg prometheus.Registerer, v screen.IdentityVerifier) (*screen.Engine, error) {
	if f.deadline <= 0 {
		return nil, usageError{fmt.Errorf("--deadline must be above 0, got %s", f.deadline)}
	}
	modes := map[string]screen.Mode{}
	for flag, mode := range map[string]screen.Mode{"report-only": screen.ModeReportOnly, "off": screen.ModeOff} {
		rules := f.reportOnly
		if mode == screen.ModeOff {
			rules = f.off
		}
		for _, r := range rules {
			if !slices.Contains(screen.Rules, r) {
				return nil, usageError{fmt.Errorf("--%s: unknown rule %q (rules: %s)", flag, r, strings.Join(screen.Rules, ", "))}
			}
			if _, dup := modes[r]; dup {
				return nil, usageError{fmt.Errorf("rule %s is both report-only and off", r)}
			}
			modes[r] = mode
		}
	}
	cfg := screen.Config{
		Region: f.region, Deadline: f.deadline, Modes: modes, Verifier: v, VerifyFailAction: f.verifyFail,
		Ingress: screen.IngressConfig{MobileAction: f.mobileAbroad, ExemptPrefixes: f.exemptPrefixes, ExemptTrunks: f.exemptTrunks},
		Velocity: screen.VelocityConfig{NumberCalls: f.numberCalls, NumberDestinations: f.numDests,
			IPCalls: f.ipCalls, IPDestinations: f.ipDests},
		Metrics: reg, Logger: g.logger,
	}
	e, err := screen.New(cfg)
	if err != nil {
		return nil, err
	}
	if f.dno != "" {
		if _, err := loadList(f.dno, e.LoadDNO); err != nil {
			return nil, err
		}
	}
	if f.egress != "" {
		if _, err := loadList(f.egress, e.LoadEgress); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// loadList opens path and hands it to load (Engine.LoadDNO or LoadEgress).
func loadList[L any](path string, load func(io.Reader) (L, error)) (L, error) {
	var zero L
	fh, err := os.Open(path)
	if err != nil {
		return zero, unspoof.Errorf(unspoof.EINVALID, "%v", err)
	}
	defer fh.Close()
	l, err := load(fh)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// A frontEnd is one way calls reach the engine: the HTTP API; the SIP redirect server plugs in
// the same way (see serve). open listens (so that the address can be announced) and serves in
// the background; close stops it, waiting for calls being answered until ctx ends.
type frontEnd struct {
	name  string
	open  func() (where string, err error)
	close func(ctx context.Context) error
}

// httpFrontEnd serves the engine's HTTP/JSON API on addr, with the HTTP server impl
// (screen.FastHTTP or screen.NetHTTP).
func httpFrontEnd(addr, impl string, e *screen.Engine, reg prometheus.Gatherer, logger *slog.Logger) frontEnd {
	srv := &screen.Server{Addr: addr, HTTP: impl, Screener: e, Gatherer: reg, Logger: logger.With("component", "screen-http")}
	return frontEnd{
		name: "HTTP",
		open: func() (string, error) {
			if err := srv.Open(); err != nil {
				return "", unspoof.Errorf(unspoof.EINVALID, "--http: %v", err)
			}
			return srv.URL() + " (POST /v1/screen, GET /healthz, GET /metrics)", nil
		},
		close: srv.Close,
	}
}

func newScreenServeCmd(g *globals) *cobra.Command {
	var (
		f        screenFlags
		httpAddr string
		httpImpl string
		sipAddr  string
		intl     []string
		watch    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve --http ADDR [--dno FILE] [--egress FILE] [--report-only RULE,…]",
		Short: "Serve the screening API until interrupted, reloading the lists when they change",
		Long: `serve answers POST /v1/screen with a verdict for each call, GET /healthz and GET /metrics
(Prometheus). The DNO and egress lists are reloaded when their files change (checked every
--watch; a change is loaded once the file has stayed the same for one interval, so write them
by renaming a finished file into place, as export-dno does) and at once on SIGHUP. Calls being
screened during a reload finish with the old list; none is dropped. A list that does not parse
is not loaded: the one in use stays, and the error is logged. Ctrl-C or SIGTERM stops serving
after the calls in hand are answered.`,
		Example: `  unspoof screen serve --http 127.0.0.1:8080 --dno dno.csv --egress egress.csv
  unspoof screen serve --http :8080 --dno dno.csv --report-only velocity,ingress --deadline 30ms
  curl -s localhost:8080/v1/screen -H 'Content-Type: application/json' -d '{"from":"+443005934275","to":"+447400123456","ingress":"international"}'
  kill -HUP $(pidof unspoof)   # reload the lists now`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if watch < 0 {
				return usageError{fmt.Errorf("--watch must not be negative, got %s", watch)}
			}
			if httpImpl != screen.FastHTTP && httpImpl != screen.NetHTTP {
				return usageError{fmt.Errorf("--http-server must be %s or %s, not %q", screen.FastHTTP, screen.NetHTTP, httpImpl)}
			}
			// SIGHUP reloads the lists; caught from the start, so that an early one does not kill
			// the process (its default).
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			v, err := f.verifier(g)
			if err != nil {
				return err
			}
			e, err := f.engine(g, reg, v)
			if err != nil {
				return err
			}
			logDNO(g.logger, e)

			fronts := []frontEnd{httpFrontEnd(httpAddr, httpImpl, e, reg, g.logger)}
			if sipAddr != "" {
				var prefixes []netip.Prefix
				for _, c := range intl {
					p, err := netip.ParsePrefix(c)
					if err != nil {
						return usageError{fmt.Errorf("--international-peer %q: %v", c, err)}
					}
					prefixes = append(prefixes, p)
				}
				fronts = append(fronts, sipFrontEnd(sipAddr, e, reg, prefixes, g.logger))
			}
			var opened []frontEnd
			defer func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				for _, fe := range slices.Backward(opened) {
					if err := fe.close(ctx); err != nil {
						g.logger.Error("stop", "front_end", fe.name, "err", err)
					}
				}
			}()
			for _, fe := range fronts {
				where, err := fe.open()
				if err != nil {
					return err
				}
				opened = append(opened, fe)
				fmt.Fprintf(g.stderr, "screening %s on %s\n", fe.name, where)
			}

			w := &listWatcher{logger: g.logger, lists: []*watchedList{
				{name: "DNO", path: f.dno, load: func(r io.Reader) error { _, err := e.LoadDNO(r); return err }},
				{name: "egress", path: f.egress, load: func(r io.Reader) error { _, err := e.LoadEgress(r); return err }},
			}}
			w.run(ctx, watch, hup)
			fmt.Fprintln(g.stderr, "screening stopped")
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "address of the HTTP API (:0 picks a free port)")
	cmd.Flags().StringVar(&httpImpl, "http-server", screen.FastHTTP, "HTTP server of the API: fasthttp (faster) or net/http (Go's own; same answers)")
	cmd.Flags().StringVar(&sipAddr, "sip", "", "also serve the SIP redirect interface on this address, UDP and TCP (:0 picks a free port; docs/api/sip.md)")
	cmd.Flags().StringSliceVar(&intl, "international-peer", nil, "SIP: source address ranges (CIDR) of international peers, whose calls are international ingress")
	cmd.Flags().DurationVar(&watch, "watch", 2*time.Second, "how often to look for changed list files (0: only on SIGHUP)")
	return cmd
}

func logDNO(logger *slog.Logger, e *screen.Engine) {
	logger.Info("screening", "dno_version", e.DNO().Version(), "dno_entries", e.DNO().Len(),
		"egress_version", e.Egress().Version(), "egress_entries", e.Egress().Len())
}

// listWatcher reloads list files when they change or on SIGHUP.
type listWatcher struct {
	logger *slog.Logger
	lists  []*watchedList
}

// watchedList is one list file and what loads it.
type watchedList struct {
	name   string
	path   string // "": none
	load   func(io.Reader) error
	loaded fileStamp // of the file as last loaded (or tried)
	seen   fileStamp // at the last look
}

// fileStamp tells file versions apart.
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s, nil
}

// run reloads until ctx ends: every interval the lists whose files changed and then stayed the
// same for an interval, and every list on hup.
func (w *listWatcher) run(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	for _, l := range w.lists {
		if l.path != "" {
			l.loaded, _ = stamp(l.path)
			l.seen = l.loaded
		}
	}
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			w.logger.Info("SIGHUP: reloading the lists")
			for _, l := range w.lists {
				w.reload(l, true)
			}
		case <-tick:
			for _, l := range w.lists {
				w.reload(l, false)
			}
		}
	}
}

// reload loads l again if forced, or if its file changed since it was loaded and not since the
// last look.
func (w *listWatcher) reload(l *watchedList, force bool) {
	if l.path == "" {
		return
	}
	s, err := stamp(l.path)
	if err != nil {
		if force || s != l.seen {
			w.logger.Error(l.name+" list not reloaded: the list in use stays", "path", l.path, "err", err)
		}
		l.seen = s
		return
	}
	stable := s == l.seen
	l.seen = s
	if !force && (s == l.loaded || !stable) {
		return
	}
	l.loaded = s
	fh, err := os.Open(l.path)
	if err != nil {
		w.logger.Error(l.name+" list not reloaded: the list in use stays", "path", l.path, "err", err)
		return
	}
	defer fh.Close()
	if err := l.load(fh); err != nil {
		w.logger.Error(l.name+" list not reloaded: the list in use stays", "path", l.path, "err", unspoof.ErrorMessage(err))
	}
}

func newScreenCheckCmd(g *globals) *cobra.Command {
	var (
		f      screenFlags
		req    unspoof.ScreenRequest
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "check --from NUMBER --to NUMBER [--ingress international] [--dno FILE] [--egress FILE]",
		Short: "Screen one call and print the verdict",
		Long: `check runs the screening rules on one call, as serve would, and prints the verdict: the action,
each reason (with its rule and whether it is report-only), the numbers in E.164, the
verification status. Velocity needs a stream of calls, so one check never trips it.`,
		Example: `  unspoof screen check --dno dno.csv --from "0300 593 4275" --to 07400123456
  unspoof screen check --from +442071234567 --to +447400123456 --ingress international
  unspoof screen check --egress egress.csv --from +447400123456 --to +447400999888 --source-ip 192.0.2.65 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case req.From == "":
				return usageError{errors.New(`--from is required (use "anonymous" for a withheld number)`)}
			case req.To == "":
				return usageError{errors.New("--to is required")}
			case req.Ingress != "" && req.Ingress != unspoof.IngressDomestic && req.Ingress != unspoof.IngressInternational:
				return usageError{fmt.Errorf("--ingress must be domestic or international, not %q", req.Ingress)}
			}
			if req.SourceIP != "" {
				if _, err := netip.ParseAddr(req.SourceIP); err != nil {
					return usageError{fmt.Errorf("--source-ip %q is not an IP address", req.SourceIP)}
				}
			}
			verify, err := f.verifier(g)
			if err != nil {
				return err
			}
			e, err := f.engine(g, nil, verify)
			if err != nil {
				return err
			}
			v := e.Screen(cmd.Context(), &req)
			if asJSON {
				return printVerdictJSON(g.stdout, &req, v)
			}
			printVerdict(g.stdout, v)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&req.From, "from", "", "the presented number (digits, +E.164, or a sip:/tel: URI)")
	cmd.Flags().StringVar(&req.To, "to", "", "the called number")
	cmd.Flags().StringVar(&req.Ingress, "ingress", unspoof.IngressDomestic, "where the call came in: domestic or international")
	cmd.Flags().StringVar(&req.SourceIP, "source-ip", "", "the signalling source address")
	cmd.Flags().StringVar(&req.Trunk, "trunk", "", "the ingress trunk")
	cmd.Flags().StringArrayVar(&req.Identity, "identity", nil, "a SIP Identity header value (repeatable)")
	cmd.Flags().StringVar(&req.CallID, "call-id", "", "a reference, echoed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verdict as the HTTP API answers it")
	return cmd
}

func printVerdict(w io.Writer, v *unspoof.Verdict) {
	fmt.Fprintf(w, "%s\n", strings.ToUpper(v.Action))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range v.Reasons {
		mode := ""
		if r.ReportOnly {
			mode = "report-only: "
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", r.Code, r.Rule, mode, r.Detail)
	}
	tw.Flush()
	fmt.Fprintf(w, "from %s  to %s  verstat %s", cmp.Or(v.From, "-"), cmp.Or(v.To, "-"), v.Verstat)
	if v.Attest != "" {
		fmt.Fprintf(w, "  attest %s  spc %s", v.Attest, v.SPC)
	}
	if v.FailedOpen {
		fmt.Fprint(w, "  FAILED OPEN")
	}
	fmt.Fprintf(w, "  in %s\n", v.Latency.Round(time.Microsecond))
}

func printVerdictJSON(w io.Writer, r *unspoof.ScreenRequest, v *unspoof.Verdict) error {
	out := screen.VerdictJSON{CallID: r.CallID, Action: v.Action, Reasons: []screen.ReasonJSON{}, Verstat: v.Verstat,
		Attest: v.Attest, OrigID: v.OrigID, SPC: v.SPC, From: v.From, To: v.To, FailedOpen: v.FailedOpen,
		LatencyUS: v.Latency.Microseconds()}
	for _, r := range v.Reasons {
		out.Reasons = append(out.Reasons, screen.ReasonJSON{Code: r.Code, Rule: r.Rule, Detail: r.Detail, ReportOnly: r.ReportOnly})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func newScreenExportDNOCmd(g *globals) *cobra.Command {
	var out, version, prefix string
	cmd := &cobra.Command{
		Use:   "export-dno [--out FILE] [--prefix +44] [--list-version V]",
		Short: "Write the impersonated organisations' numbers as a Do-Not-Originate list",
		Long: `export-dno writes every number of an organisation whose number the spoofing service's users
displayed (the orgs evidence) as a DNO list that "screen serve --dno" reads. Review it before
use: a DNO list must hold only numbers that never call out (inbound-only lines); run the dno
rule report-only first (--report-only dno) to see what it would block. The list's version is
--list-version, or the time of the export.`,
		Example: `  unspoof screen export-dno --out dno.csv
  unspoof screen export-dno --prefix +44 --list-version case-2026-11 --out dno-uk.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if prefix != "" && !strings.HasPrefix(prefix, "+") {
				return usageError{fmt.Errorf("--prefix %q: an E.164 prefix starts with +", prefix)}
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			orgs, err := s.OrgsByNumber(ctx)
			if err != nil {
				return err
			}
			var entries []screen.DNOEntry
			for num, o := range orgs {
				if strings.HasPrefix(num, prefix) {
					entries = append(entries, screen.DNOEntry{Number: num, Type: screen.DNONumber, Org: o.Name,
						Source: "evidence: organisation " + o.ExternalID})
				}
			}
			slices.SortFunc(entries, func(a, b screen.DNOEntry) int { return strings.Compare(a.Number, b.Number) })
			version = cmp.Or(version, "evidence-"+time.Now().UTC().Format("20060102T150405Z"))
			return g.export(out, "DNO numbers", len(entries), func(w io.Writer) error { return screen.WriteDNO(w, version, entries) })
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.Flags().StringVar(&prefix, "prefix", "", "only numbers starting with this E.164 prefix (+44)")
	cmd.Flags().StringVar(&version, "list-version", "", "the list's version (default: evidence-TIME)")
	return cmd
}

func newScreenExportEgressCmd(g *globals) *cobra.Command {
	var (
		out, version string
		files        []string
		maps         []string
		mapping      string
	)
	cmd := &cobra.Command{
		Use:   "export-egress [--out FILE] [--accounts FILE]…",
		Short: "Write the spoofing service's users' IP addresses as an egress list",
		Long: `export-egress writes every IP address the evidence holds for the spoofing service's accounts as
an egress list that "screen serve --egress" reads, each noted with its account. The addresses
are read from the accounts files ingested into the store, at the paths recorded at ingest (or
given with --accounts); each file must still be the one ingested: its SHA-256 is checked against
the store's record. If they were ingested with --map or --mapping, give the same again. The
export is recorded in the audit log (the addresses are personal data of the accounts' users).`,
		Example: `  unspoof screen export-egress --out egress.csv
  unspoof screen export-egress --accounts /evidence/case1/accounts.csv --out egress.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			m, err := mappingFlags(maps, mapping)
			if err != nil {
				return err
			}
			s, err := g.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			srcs, err := s.FindSources(ctx)
			if err != nil {
				return err
			}
			want := map[string]*unspoof.Source{} // SHA-256 → ingested accounts source
			var paths []string
			for _, src := range srcs {
				if src.Kind == unspoof.KindAccounts {
					want[src.SHA256] = src
					paths = append(paths, src.Name)
				}
			}
			if len(want) == 0 {
				return unspoof.Errorf(unspoof.EINVALID, "the store holds no accounts file: nothing to export")
			}
			if len(files) > 0 {
				paths = files
			}
			tmp, err := os.MkdirTemp("", "unspoof-egress")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			byIP := map[netip.Addr][]string{} // address → accounts
			var order []netip.Addr
			bad := 0
			for i, path := range paths {
				accounts, err := readAccounts(ctx, path, want, ingest.Config{Kind: unspoof.KindAccounts, Mapping: m, MaxBad: 1,
					Quarantine: filepath.Join(tmp, fmt.Sprintf("q%d.csv", i))})
				if err != nil {
					return err
				}
				for _, a := range accounts {
					for _, ip := range a.IPs {
						addr, err := netip.ParseAddr(strings.TrimSpace(ip))
						if err != nil {
							bad++
							continue
						}
						addr = addr.Unmap().WithZone("")
						if _, ok := byIP[addr]; !ok {
							order = append(order, addr)
						}
						byIP[addr] = append(byIP[addr], a.ExternalID)
					}
				}
			}
			if bad > 0 {
				fmt.Fprintf(g.stderr, "export-egress: %s IP values were not addresses and were left out\n", count(int64(bad)))
			}
			slices.SortFunc(order, netip.Addr.Compare)
			entries := make([]screen.EgressEntry, 0, len(order))
			for _, addr := range order {
				accts := byIP[addr]
				note := "account " + accts[0]
				if len(accts) > 1 {
					note = fmt.Sprintf("accounts %s and %d more", accts[0], len(accts)-1)
				}
				entries = append(entries, screen.EgressEntry{Kind: screen.EgressIP, Value: addr.String(), Note: note})
			}
			if err := g.audit(ctx, s, "screen.export-egress", "accounts", fmt.Sprintf("%d addresses to %s", len(entries),
				cmp.Or(out, "standard output"))); err != nil {
				return err
			}
			version = cmp.Or(version, "evidence-"+time.Now().UTC().Format("20060102T150405Z"))
			return g.export(out, "egress addresses", len(entries), func(w io.Writer) error { return screen.WriteEgress(w, version, entries) })
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.Flags().StringArrayVar(&files, "accounts", nil, "an ingested accounts file, where it is now (repeatable; default: the paths recorded at ingest)")
	cmd.Flags().StringArrayVar(&maps, "map", nil, "as at ingest: map a column to a field, COLUMN=FIELD (repeatable)")
	cmd.Flags().StringVar(&mapping, "mapping", "", "as at ingest: a mapping file of COLUMN=FIELD lines")
	cmd.Flags().StringVar(&version, "list-version", "", "the list's version (default: evidence-TIME)")
	return cmd
}

// mappingFlags reads --map and --mapping as ingest does.
func mappingFlags(maps []string, mapping string) (map[string]string, error) {
	m, err := ingest.ParseMapping(maps)
	if err != nil {
		return nil, usageError{err}
	}
	if mapping != "" {
		mm, err := ingest.LoadMapping(mapping)
		if err != nil {
			return nil, usageError{err}
		}
		for k, v := range mm {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
	}
	return m, nil
}

// readAccounts reads the accounts of the file at path with ingest's own reader, checking that
// the file is one of the ingested sources want (by SHA-256).
func readAccounts(ctx context.Context, path string, want map[string]*unspoof.Source, cfg ingest.Config) ([]unspoof.Account, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "accounts file %s: %v (give where it is now with --accounts)", path, err)
	}
	rec := &accountRecorder{want: want}
	if _, err := ingest.File(ctx, rec, path, cfg); err != nil {
		return nil, err
	}
	return rec.accounts, nil
}

// accountRecorder is an evidence store that keeps the accounts of one load in memory and
// refuses a file the real store did not ingest. Only what ingest.File calls works.
type accountRecorder struct {
	want     map[string]*unspoof.Source
	accounts []unspoof.Account
}

// Load runs fn with the recorder as the Loader, if src is a file the store ingested.
func (r *accountRecorder) Load(ctx context.Context, src *unspoof.Source, fn func(unspoof.Loader) error) error {
	if _, ok := r.want[src.SHA256]; !ok {
		return unspoof.Errorf(unspoof.EINVALID, "%s is not an accounts file the store ingested (its SHA-256 %.12s… is not recorded)", src.Name, src.SHA256)
	}
	return fn(r)
}

// FindSourceByDigest finds nothing: the recorder has ingested nothing.
func (r *accountRecorder) FindSourceByDigest(context.Context, unspoof.Kind, string) (*unspoof.Source, error) {
	return nil, unspoof.Errorf(unspoof.ENOTFOUND, "not recorded")
}

// FindSources returns no source.
func (r *accountRecorder) FindSources(context.Context) ([]*unspoof.Source, error) { return nil, nil }

// AccountIDs returns no account: every account is new to the recorder.
func (r *accountRecorder) AccountIDs(context.Context) (map[string]int64, error) {
	return map[string]int64{}, nil
}

// FindCalls is not supported.
func (r *accountRecorder) FindCalls(context.Context, unspoof.CallFilter) ([]*unspoof.Call, int, error) {
	return nil, 0, errors.ErrUnsupported
}

// Stats is not supported.
func (r *accountRecorder) Stats(context.Context) (*unspoof.Stats, error) {
	return nil, errors.ErrUnsupported
}

// Close does nothing.
func (r *accountRecorder) Close() error { return nil }

// AddAccount keeps a.
func (r *accountRecorder) AddAccount(ctx context.Context, a *unspoof.Account) error {
	r.accounts = append(r.accounts, *a)
	return nil
}

// AddPayment is not supported: only accounts are read.
func (r *accountRecorder) AddPayment(context.Context, *unspoof.Payment) error {
	return errors.ErrUnsupported
}

// AddCall is not supported.
func (r *accountRecorder) AddCall(context.Context, *unspoof.Call) error { return errors.ErrUnsupported }

// AddOrgNumber is not supported.
func (r *accountRecorder) AddOrgNumber(context.Context, *unspoof.Org, *unspoof.OrgNumber) error {
	return errors.ErrUnsupported
}

// AddComplaint is not supported.
func (r *accountRecorder) AddComplaint(context.Context, *unspoof.Complaint) error {
	return errors.ErrUnsupported
}
