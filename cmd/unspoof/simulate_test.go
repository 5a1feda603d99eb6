package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unspoof/unspoof/simulate"
)

// runSimulate runs the simulate command with args and returns what it printed.
func runSimulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newSimulateCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

func TestSimulateCmd(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "case")
	out, err := runSimulate(t, "--preset", "ispoof", "--scale", "0.01", "--seed", "4", "--out", dir, "--bad-rows", "0.005")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "simulate: ") ||
		!strings.Contains(lines[0], "bad rows") {
		t.Errorf("summary: %q", out)
	}
	for _, name := range []string{simulate.AccountsFile, simulate.PaymentsFile, simulate.CallsFile,
		simulate.OrgsFile, simulate.TruthFile, simulate.ManifestFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	out, err = runSimulate(t, "--check", dir)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"UK numbers reached (> 60 s)", "malformed rows", "impossible_callee", "24 of 24 figures within tolerance"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulateCmdUsage(t *testing.T) {
	t.Parallel()
	var usage usageError
	if _, err := runSimulate(t, "--scale", "0.01"); !errors.As(err, &usage) {
		t.Errorf("no --out: %v, want a usage error", err)
	}
	if _, err := runSimulate(t, "--scale", "0", "--out", t.TempDir()); !errors.As(err, &usage) {
		t.Errorf("--scale 0: %v, want a usage error", err)
	}
	if _, err := runSimulate(t, "--check", "a", "--out", "b"); err == nil {
		t.Error("--check with --out accepted")
	}
	if _, err := runSimulate(t, "--check", t.TempDir()); err == nil {
		t.Error("--check of an empty directory passed")
	}
}
