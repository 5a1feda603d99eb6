// Package npmpeer finds the test peers of test/peers and installs their npm packages: once per
// process, under a lock file, checking every version package.json pins. smpp/smsctest (the npm
// smpp SMSC) and web/webtest (playwright-core and axe-core) use it.
package npmpeer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Dir finds test/peers/NAME, holding file marker, by walking up from the working directory (a
// test's is its package's folder) to the module root that holds it.
func Dir(name, marker string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "test", "peers", name)
			if _, err := os.Stat(filepath.Join(p, marker)); err == nil {
				return p, nil
			}
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no test/peers/%s/%s beside a go.mod above %s", name, marker, wd)
		}
		d = up
	}
}

var (
	npmMu   sync.Mutex
	npmDone = map[string]error{}
)

// Ensure runs `npm ci` in dir when its node_modules is missing or does not hold the versions
// package.json pins: once per process, and under a lock file so that test binaries running in
// parallel do not install over each other.
func Ensure(dir string) error {
	npmMu.Lock()
	defer npmMu.Unlock()
	if err, ok := npmDone[dir]; ok {
		return err
	}
	err := installModules(dir)
	npmDone[dir] = err
	return err
}

const lockName = ".npm-ci.lock"

func installModules(dir string) error {
	lock := filepath.Join(dir, lockName)
	if modulesOK(dir) {
		if _, err := os.Stat(lock); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	release, err := acquire(lock)
	if err != nil {
		return err
	}
	defer release()
	if modulesOK(dir) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is not installed and %s/node_modules is missing: apt-get install npm, or run scripts/test.sh", dir)
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if !modulesOK(dir) {
		return fmt.Errorf("npm ci in %s left node_modules without the pinned packages", dir)
	}
	return nil
}

// modulesOK says whether node_modules holds a finished install (npm writes
// node_modules/.package-lock.json last) of every version package.json pins.
func modulesOK(dir string) bool {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if readJSON(filepath.Join(dir, "package.json"), &pkg) != nil || len(pkg.Dependencies) == 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		return false
	}
	for name, want := range pkg.Dependencies {
		var inst struct {
			Version string `json:"version"`
		}
		if readJSON(filepath.Join(dir, "node_modules", name, "package.json"), &inst) != nil || inst.Version != want {
			return false
		}
	}
	return true
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// acquire takes a lock file (created exclusively), waiting for another holder; a lock older
// than ten minutes is taken to be left by a killed process and removed.
func acquire(path string) (func(), error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > 10*time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: still held after 10 minutes", path)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Tail keeps the last Max bytes written to it: a peer's stderr, shown when a test fails.
type Tail struct {
	Max int
	mu  sync.Mutex
	buf []byte
	cut bool
}

func (w *Tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.Max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.Max:]...)
		w.cut = true
	}
	return len(p), nil
}

// String returns what was kept, saying so when the start was cut.
func (w *Tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		return "…" + string(w.buf)
	}
	return string(w.buf)
}
