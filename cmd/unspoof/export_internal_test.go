package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestExportLeavesNoHalfFile: an export that fails part way leaves no file at --out (nor a
// temporary one beside it); one that succeeds leaves exactly what was written.
func TestExportLeavesNoHalfFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "victims.csv")
	var stderr bytes.Buffer
	g := &globals{stdout: io.Discard, stderr: &stderr}
	boom := errors.New("store went away")
	err := g.export(out, "victims", 2, func(w io.Writer) error {
		io.WriteString(w, "e164,code\n+447400123456,K7QM\n")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("export error = %v, want the writer's", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed export left %v", ents)
	}
	if err := g.export(out, "victims", 1, func(w io.Writer) error { _, err := io.WriteString(w, "ok\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "ok\n" {
		t.Fatalf("export wrote %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("after a good export the folder holds %v", ents)
	}
	if stderr.String() != "victims export: 1 victims → "+out+"\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
}
