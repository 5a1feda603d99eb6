package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/ingest"
)

func newIngestCmd(g *globals) *cobra.Command {
	var (
		kind, mapping, format, delim, tz, quarantine, by string
		maps                                             []string
		cfg                                              ingest.Config
		noProgress                                       bool
	)
	cmd := &cobra.Command{
		Use:   "ingest --kind KIND [flags] FILE...",
		Short: "Load evidence files (CSV or JSON Lines, optionally gzipped) into the store",
		Long: `ingest streams each FILE into the evidence store. Columns are matched to fields by header name
(case, spaces and underscores ignored) or by --map/--mapping. Numbers are normalised to E.164,
read in --region when they carry no international prefix.

Every file's SHA-256 is recorded; ingesting the same file again does nothing and says so. Each
row keeps its file and line. A bad row (wrong field count, unreadable time, empty or impossible
number, unknown account…) is written with its line, field and reason to FILE.quarantine.csv
(or --quarantine) and the good rows still load; above --max-bad nothing is loaded at all.

Fields per kind (required first):
` + fieldHelp(),
		Example: `  unspoof ingest --kind accounts case1/accounts.csv
  unspoof ingest --kind calls case1/calls.csv.gz
  unspoof ingest --kind calls --map dest=callee --map caller_id=cli --map ts=started_at export.jsonl
  unspoof ingest --kind complaints --mapping ftc-dnc --region US ftc-dnc-complaints.csv`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Kind = unspoof.Kind(kind)
			cfg.Format = format
			cfg.By = cmp.Or(by, currentUser())
			if mapping != "" {
				m, err := ingest.LoadMapping(mapping)
				if err != nil {
					return err
				}
				cfg.Mapping = m
			}
			extra, err := ingest.ParseMapping(maps)
			if err != nil {
				return err
			}
			if len(extra) > 0 && cfg.Mapping == nil {
				cfg.Mapping = map[string]string{}
			}
			for k, v := range extra {
				cfg.Mapping[k] = v
			}
			if delim != "" {
				d := []rune(strings.ReplaceAll(delim, `\t`, "\t"))
				if len(d) != 1 {
					return usageError{fmt.Errorf("--delimiter must be one character, got %q", delim)}
				}
				cfg.Delimiter = d[0]
			}
			if tz != "" {
				loc, err := time.LoadLocation(tz)
				if err != nil {
					return usageError{fmt.Errorf("--tz: %v", err)}
				}
				cfg.Location = loc
			}
			if cfg.MaxBad < 0 || cfg.MaxBad > 1 {
				return usageError{fmt.Errorf("--max-bad must be a fraction from 0 to 1, got %g", cfg.MaxBad)}
			}
			if cfg.MaxBad == 0 && cmd.Flags().Changed("max-bad") {
				cfg.MaxBad = 1e-12 // "0" means no bad row at all, not the default
			}
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer store.Close()
			for _, path := range args {
				c := cfg
				c.Quarantine = quarantinePath(quarantine, path, len(args))
				var bar *progressbar.ProgressBar
				if !noProgress && isTerminal(g.stderr) {
					bar = newBar(g.stderr, path)
					c.Progress = func(p ingest.Progress) {
						bar.ChangeMax64(p.Size)
						bar.Set64(p.Bytes)
						bar.Describe(fmt.Sprintf("%s %s rows %s/s", filepath.Base(path), count(p.Rows), count(perSecond(p.Rows, p.Elapsed))))
					}
				}
				res, err := ingest.File(cmd.Context(), store, path, c)
				if bar != nil {
					bar.Finish()
					fmt.Fprintln(g.stderr)
				}
				if res != nil {
					printIngest(g.stdout, path, res)
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "what the files hold: accounts, payments, calls, orgs or complaints (required)")
	f.StringArrayVar(&maps, "map", nil, "map a column to a field, COLUMN=FIELD (repeatable)")
	f.StringVar(&mapping, "mapping", "", "a mapping file of COLUMN=FIELD lines, or a known mapping: ftc-dnc")
	f.StringVar(&cfg.Region, "region", ingest.DefaultRegion, "region numbers without an international prefix are dialled in")
	f.StringVar(&format, "format", "", "csv or jsonl (default: detected)")
	f.StringVar(&delim, "delimiter", "", "CSV delimiter (default: detected from the header)")
	f.StringVar(&tz, "tz", "UTC", "time zone of times written without one")
	f.StringVar(&quarantine, "quarantine", "", "file (or, for several inputs, directory) for bad rows (default FILE.quarantine.csv)")
	f.Float64Var(&cfg.MaxBad, "max-bad", ingest.DefaultMaxBad, "abandon a file, loading nothing, when more than this share of its rows is bad")
	f.StringVar(&by, "by", "", "who is ingesting, recorded with each file (default: the login name)")
	f.BoolVar(&noProgress, "no-progress", false, "no progress bar")
	cmd.MarkFlagRequired("kind")
	return cmd
}

func fieldHelp() string {
	var b strings.Builder
	for _, k := range unspoof.Kinds {
		fmt.Fprintf(&b, "  %-11s %s\n", k, strings.Join(ingest.FieldNames(k), ", "))
	}
	return b.String()
}

// quarantinePath places bad rows of path: flag as given for one file, as a directory for several.
func quarantinePath(flag, path string, files int) string {
	if flag == "" {
		return ""
	}
	if st, err := os.Stat(flag); files > 1 || (err == nil && st.IsDir()) {
		return filepath.Join(flag, filepath.Base(path)+".quarantine.csv")
	}
	return flag
}

func printIngest(w io.Writer, path string, res *ingest.Result) {
	s := res.Source
	if res.Already {
		fmt.Fprintf(w, "%s: already ingested as source %d on %s (SHA-256 %s…); nothing to do\n",
			path, s.ID, s.IngestedAt.Format(time.DateTime), s.SHA256[:12])
		return
	}
	verb := "loaded"
	if res.Aborted {
		verb = "NOT loaded (too many bad rows)"
	}
	fmt.Fprintf(w, "%s: %s rows read, %s %s, %s quarantined", path, count(s.RowsRead), count(s.RowsLoaded), verb, count(s.RowsQuarantined))
	if s.QuarantinePath != "" {
		fmt.Fprintf(w, " → %s", s.QuarantinePath)
	}
	fmt.Fprintf(w, " in %s (%s rows/s)\n", res.Elapsed.Round(time.Millisecond), count(perSecond(s.RowsRead, res.Elapsed)))
	reasons := make([]string, 0, len(res.Reasons))
	for r := range res.Reasons {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return res.Reasons[reasons[i]] > res.Reasons[reasons[j]] })
	for i, r := range reasons {
		if i == 5 {
			fmt.Fprintf(w, "  … and %d other reasons\n", len(reasons)-5)
			break
		}
		fmt.Fprintf(w, "  %s × %s\n", count(res.Reasons[r]), truncate(r, 100))
	}
}

func newBar(w io.Writer, path string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(filepath.Base(path)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionFullWidth(),
	)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func perSecond(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

// english formats numbers for people: 10,000,000.
var english = message.NewPrinter(language.English)

// count formats n with thousands separators: 10,000,000.
func count(n int64) string { return english.Sprintf("%d", n) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
