package siptest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Root returns the repository's root directory.
func Root() (string, error) {
	d, err := PeerDir("x")
	if err != nil {
		return "", err
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(d))), nil
}

// BuildUnspoof builds the real unspoof command (go build ./cmd/unspoof) into the test's temp
// directory and returns its path.
func BuildUnspoof(t testing.TB) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "unspoof")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/unspoof")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("siptest: go build ./cmd/unspoof: %v\n%s", err, out)
	}
	return path
}

// ScreenServe is a running `unspoof screen serve --sip`.
type ScreenServe struct {
	SIPAddr string // host:port of its SIP redirect server (UDP and TCP)
	p       *proc
}

// StartScreenServe runs `unspoof screen serve --http 127.0.0.1:0 --sip 127.0.0.1:0 ARGS…` with
// the binary at bin, and returns once it announced its SIP address on stderr ("screening SIP
// on ADDR …"). It is stopped when the test ends. The test fails when the command has no --sip
// flag.
func StartScreenServe(t testing.TB, bin string, args ...string) *ScreenServe {
	t.Helper()
	help, _ := exec.Command(bin, "screen", "serve", "--help").CombinedOutput()
	if !strings.Contains(string(help), "--sip") {
		t.Fatalf("siptest: unspoof screen serve has no --sip flag: the SIP front end is no longer wired into the command\n%s", help)
	}
	argv := append([]string{bin, "screen", "serve", "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"}, args...)
	p := start(t, "unspoof", t.TempDir(), argv...)
	s := &ScreenServe{p: p}
	p.waitFor(t, `"screening SIP on"`, 30*time.Second, func() bool {
		f, err := os.Open(p.outPath)
		if err != nil {
			return false
		}
		defer f.Close()
		s.SIPAddr = sipAddr(f)
		return s.SIPAddr != ""
	})
	return s
}

// sipAddr finds the address in the line "screening SIP on ADDR (…)".
func sipAddr(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "screening SIP on "); ok {
			addr, _, _ := strings.Cut(rest, " ")
			return addr
		}
	}
	return ""
}
