package simulate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/unspoof/unspoof"
)

// Version identifies the generator's model: the same seed and scale give the same bytes for as
// long as it does not change.
const Version = "unspoof-simulate/2"

// DefaultPreset is the preset Run uses when Config.Preset is empty.
const DefaultPreset = "ispoof"

// MaxScale is the largest scale Run accepts (100 million calls with the ispoof preset).
const MaxScale = 10

// Names of the files Run writes in the output directory.
const (
	AccountsFile = "accounts.csv"
	PaymentsFile = "payments.csv"
	CallsFile    = "calls.csv" // calls.csv.gz with Config.Gzip
	OrgsFile     = "orgs.csv"
	TruthFile    = "truth.csv"
	ManifestFile = "manifest.json"
)

// Config says what to generate. Zero fields take defaults: preset ispoof, scale 1.
type Config struct {
	Preset  string  // "ispoof"
	Scale   float64 // 1 is the real size; everything countable scales linearly
	Seed    uint64  // the same seed and scale give the same bytes
	Out     string  // directory to write to (created if missing)
	Gzip    bool    // write calls.csv.gz instead of calls.csv
	BadRows float64 // extra malformed rows per good row, in [0, 0.5]

	// Progress, if set, is called from time to time while calls are written, with the calls
	// written so far and the number expected.
	Progress func(done, total int64)
}

// Manifest describes a generated dataset. It is written to manifest.json, last.
type Manifest struct {
	Preset      string     `json:"preset"`
	Seed        uint64     `json:"seed"`
	Scale       float64    `json:"scale"`
	Synthetic   bool       `json:"synthetic"` // always true: never alert these numbers for real
	Generator   string     `json:"generator"`
	Region      string     `json:"region"` // the default region to read numbers with
	PeriodStart time.Time  `json:"period_start"`
	PeriodEnd   time.Time  `json:"period_end"`
	BadRows     float64    `json:"bad_rows_fraction"`
	Files       []FileInfo `json:"files"`
	Figures     Figures    `json:"figures"` // computed while generating
}

// FileInfo describes one file of a dataset.
type FileInfo struct {
	Name        string           `json:"name"`
	Kind        string           `json:"kind"` // accounts, payments, calls, orgs, truth
	Rows        int64            `json:"rows"` // good data rows, header excluded
	BadRows     int64            `json:"bad_rows"`
	BadByReason map[string]int64 `json:"bad_by_reason,omitempty"`
	Bytes       int64            `json:"bytes"`
	SHA256      string           `json:"sha256"` // of the bytes as stored
}

// File returns the manifest's entry for the file of kind, or nil.
func (m *Manifest) File(kind string) *FileInfo {
	for i := range m.Files {
		if m.Files[i].Kind == kind {
			return &m.Files[i]
		}
	}
	return nil
}

// Run generates a dataset as cfg says and writes it to cfg.Out: the evidence files, the
// ground truth and the manifest, which it also returns. Calls are streamed: memory grows with
// the number pools and accounts, not with the calls.
func Run(ctx context.Context, cfg Config) (*Manifest, error) {
	p, err := lookupPreset(cfg.Preset)
	if err != nil {
		return nil, err
	}
	cfg.Preset = p.name
	cfg.Scale = cmp.Or(cfg.Scale, 1)
	switch {
	case math.IsNaN(cfg.Scale) || cfg.Scale < 0 || cfg.Scale > MaxScale:
		return nil, unspoof.Errorf(unspoof.EINVALID, "scale %v is not in (0, %d]", cfg.Scale, MaxScale)
	case cfg.Scale*p.calls < 1000:
		return nil, unspoof.Errorf(unspoof.EINVALID, "scale %v is too small (fewer than 1,000 calls)", cfg.Scale)
	case math.IsNaN(cfg.BadRows) || cfg.BadRows < 0 || cfg.BadRows > 0.5:
		return nil, unspoof.Errorf(unspoof.EINVALID, "bad-rows fraction %v is not in [0, 0.5]", cfg.BadRows)
	case cfg.Out == "":
		return nil, unspoof.Errorf(unspoof.EINVALID, "no output directory")
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	// A manifest, or a calls file of the other kind, left by an earlier run would describe or
	// sit among files it did not write.
	for _, name := range []string{ManifestFile, CallsFile, CallsFile + ".gz"} {
		if err := os.Remove(filepath.Join(cfg.Out, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	g := newGenerator(p, cfg)
	m, err := g.run(ctx)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	tmp := filepath.Join(cfg.Out, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(cfg.Out, ManifestFile)); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	return m, nil
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return &m, nil
}
