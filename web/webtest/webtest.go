// Package webtest drives a real browser through the web portal for a test: Debian's chromium,
// steered by the npm package playwright-core, with axe-core checking pages for accessibility.
// The runner is test/peers/browser/run.js; this package writes it a scenario, runs it, streams
// its step lines into the test log and fails the test at the first step that fails.
//
//	srv := httptest.NewServer(handler)
//	defer srv.Close()
//	got := webtest.RunBrowser(t, webtest.Scenario{
//		BaseURL:      srv.URL,
//		AxeEveryPage: true,
//		Steps: []webtest.Step{
//			{Goto: "/report", Viewport: []int{320, 640}, JavaScript: new(false)},
//			{Fill: &webtest.Field{Label: "Phone number that received the call", Value: "07911 123456"}},
//			{Click: "Continue"},
//			{ExpectURL: "/report/sent"},
//			{Capture: &webtest.Capture{Name: "ref", Selector: ".govuk-panel__body strong"}},
//			{Screenshot: "report-sent"},
//		},
//	})
//	ref := got["ref"]
//
// Screenshots are kept in $UNSPOOF_ARTIFACTS/<test name> when that is set, else in the test's
// temporary directory. Node.js, npm and chromium are required: when one is missing the test is
// skipped, or fails when the environment variable CI is set. The runner's npm packages are
// installed with `npm ci` on first use when test/peers/browser/node_modules is missing or stale.
//
// The package imports only the standard library.
package webtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/unspoof/unspoof/test/peers/npmpeer"
)

// Scenario is one browser session: steps run in order and the first failure ends it.
type Scenario struct {
	BaseURL string `json:"baseURL"` // relative Goto paths are resolved against it

	// AxeEveryPage runs axe-core on every page a step lands on; a violation fails that step.
	AxeEveryPage bool `json:"axeEveryPage,omitempty"`
	// StrictResources fails a step when a stylesheet, font, image or other sub-resource of the
	// page answers 4xx/5xx or fails to load, or when the page's CSP refuses something.
	StrictResources bool `json:"strictResources,omitempty"`
	// StepTimeout bounds each step's waiting for an element, a text or a URL; 0 means 15 s.
	// Page loads get at least 30 s.
	StepTimeout time.Duration `json:"-"`

	Steps []Step `json:"steps"`
}

// Step is one action or check. Set exactly one of the action fields; Viewport and JavaScript
// go with Goto, Exact with Fill, Select, Check and Click.
type Step struct {
	// Context opens a new, empty browser context (no cookies) with these settings.
	Context *Context `json:"context,omitempty"`

	// Goto loads a path (resolved against BaseURL) or a URL. Viewport, [width, height],
	// resizes the page first. JavaScript, when set and different from the current context's,
	// opens a new context with it (cookies are not carried over); the first context has
	// JavaScript on unless the first step says otherwise.
	Goto       string `json:"goto,omitempty"`
	Viewport   []int  `json:"viewport,omitempty"`
	JavaScript *bool  `json:"javascript,omitempty"`

	Fill   *Field `json:"fill,omitempty"`   // types into the control with that label
	Select *Field `json:"select,omitempty"` // chooses an option (by value or text) of a <select>
	Check  string `json:"check,omitempty"`  // ticks the checkbox or radio with that label
	Click  string `json:"click,omitempty"`  // clicks the button or link with that accessible name, and waits for the page it leads to

	ExpectText   string `json:"expectText,omitempty"`   // waits until the page's text contains it (whitespace folded)
	ExpectURL    string `json:"expectURL,omitempty"`    // a path (plus query, if it has one) or a whole URL
	ExpectStatus int    `json:"expectStatus,omitempty"` // the HTTP status of the last page navigated to

	Capture    *Capture `json:"capture,omitempty"`    // stores the text of the first element matching a CSS selector
	Axe        bool     `json:"axe,omitempty"`        // runs axe-core on the current page
	Screenshot string   `json:"screenshot,omitempty"` // saves the full page as NAME.png in the artifact directory

	// Exact: nil or true matches labels and names exactly (after trimming); false matches a
	// case-insensitive substring.
	Exact *bool `json:"exact,omitempty"`
}

// Context holds the settings of a new browser context. JavaScript nil means on.
type Context struct {
	JavaScript *bool `json:"javascript,omitempty"`
	Viewport   []int `json:"viewport,omitempty"` // [width, height]; nil: 1280×720
}

// Field is a form control found by its label, and what to put in it.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Capture names the text of an element to return from the run.
type Capture struct {
	Name     string `json:"name"`
	Selector string `json:"selector"`
}

// Result is what a run reported.
type Result struct {
	Steps    []StepResult      // one per step run, in order
	Captures map[string]string // by Capture.Name
	Dir      string            // screenshots, and the scenario as run.js read it
}

// StepResult is one step's output line.
type StepResult struct {
	Step       int         `json:"step"` // 1-based index into Scenario.Steps; 0: the browser did not start
	OK         bool        `json:"ok"`
	Action     string      `json:"action"`
	URL        string      `json:"url"`    // the page after the step
	Status     int         `json:"status"` // for goto, click and expectStatus
	Axe        string      `json:"axe"`    // "passed" when AxeEveryPage checked the page this step landed on
	Error      string      `json:"error"`
	Violations []Violation `json:"violations"` // axe's, when it failed the step
	Resources  []string    `json:"resources"`  // failed sub-resources, when StrictResources failed the step
	Screenshot string      `json:"screenshot"` // taken of the page when the step failed
	File       string      `json:"file"`       // written by a screenshot step
	Value      string      `json:"value"`      // read by a capture step
	MS         int64       `json:"ms"`
}

// Violation is one axe-core rule broken on a page.
type Violation struct {
	ID      string          `json:"id"` // the rule, e.g. "label", "color-contrast"
	Impact  string          `json:"impact"`
	Help    string          `json:"help"`
	HelpURL string          `json:"helpUrl"`
	Nodes   []ViolationNode `json:"nodes"` // at most 10
}

// ViolationNode is an element that breaks the rule.
type ViolationNode struct {
	Target  []string `json:"target"` // CSS selectors
	HTML    string   `json:"html"`
	Summary string   `json:"summary"`
}

// RunBrowser runs the scenario and returns its captures. It fails the test, with the failing
// step's error, axe violations and a screenshot path, when a step fails.
func RunBrowser(t testing.TB, s Scenario) (captures map[string]string) {
	t.Helper()
	res, err := Try(t, s)
	if err != nil {
		t.Fatalf("webtest: %v", err)
	}
	return res.Captures
}

// Try runs the scenario like RunBrowser but returns a failed step as an error instead of
// failing the test, for tests that expect a failure. The Result is complete either way.
// A missing browser, Node.js or npm still skips the test (or fails it under CI).
func Try(t testing.TB, s Scenario) (*Result, error) {
	t.Helper()
	dir, err := npmpeer.Dir("browser", "run.js")
	if err != nil {
		t.Fatalf("webtest: %v", err)
	}
	node := lookPath("node", "nodejs")
	if node == "" {
		unavailable(t, "node (Node.js) is not installed: apt-get install nodejs npm, or run scripts/test.sh")
	}
	browser := findChromium()
	if browser == "" {
		unavailable(t, "chromium is not installed: apt-get install chromium, or run scripts/test.sh")
	}
	if err := npmpeer.Ensure(dir); err != nil {
		unavailable(t, err.Error())
	}

	res := &Result{Captures: map[string]string{}, Dir: artifactDir(t)}
	scenarioPath := filepath.Join(res.Dir, "scenario.json")
	b, err := json.MarshalIndent(struct {
		Scenario
		OutDir    string `json:"outDir"`
		Chromium  string `json:"chromium"`
		TimeoutMS int64  `json:"timeoutMs,omitempty"`
	}{s, res.Dir, browser, s.StepTimeout.Milliseconds()}, "", "  ")
	if err != nil {
		t.Fatalf("webtest: %v", err)
	}
	if err := os.WriteFile(scenarioPath, b, 0o644); err != nil {
		t.Fatalf("webtest: %v", err)
	}

	ctx, cancel := runContext(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.js", scenarioPath)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // playwright closes chromium on SIGTERM
	cmd.WaitDelay = 15 * time.Second
	stderr := &npmpeer.Tail{Max: 32 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("webtest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("webtest: starting %s: %v", node, err)
	}
	sawEnd := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		line := sc.Bytes()
		t.Logf("browser: %s", line)
		var end struct {
			Captures map[string]string `json:"captures"`
		}
		if bytes.HasPrefix(line, []byte(`{"captures"`)) && json.Unmarshal(line, &end) == nil {
			sawEnd = true
			for k, v := range end.Captures {
				res.Captures[k] = v
			}
			continue
		}
		var sr StepResult
		if err := json.Unmarshal(line, &sr); err != nil {
			fmt.Fprintf(stderr, "[stdout, not JSON] %s\n", line)
			continue
		}
		res.Steps = append(res.Steps, sr)
	}
	waitErr := cmd.Wait()
	t.Logf("webtest: artifacts in %s", res.Dir)

	for _, sr := range res.Steps {
		if !sr.OK {
			return res, stepError(s, sr)
		}
	}
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("the browser run was stopped: %v (after %d steps)\nstderr:\n%s", ctx.Err(), len(res.Steps), stderr)
	case waitErr != nil:
		return res, fmt.Errorf("node run.js: %v\nstderr:\n%s", waitErr, stderr)
	case !sawEnd || len(res.Steps) != len(s.Steps):
		return res, fmt.Errorf("node run.js ended after %d of %d steps without a result\nstderr:\n%s", len(res.Steps), len(s.Steps), stderr)
	}
	return res, nil
}

// stepError describes a failed step for a test log.
func stepError(s Scenario, sr StepResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "browser step %d (%s) failed", sr.Step, sr.Action)
	if sr.Step >= 1 && sr.Step <= len(s.Steps) {
		js, _ := json.Marshal(s.Steps[sr.Step-1])
		fmt.Fprintf(&b, ": %s", js)
	}
	if sr.URL != "" {
		fmt.Fprintf(&b, "\n  page: %s", sr.URL)
	}
	fmt.Fprintf(&b, "\n  %s", strings.ReplaceAll(sr.Error, "\n", "\n  "))
	if sr.Screenshot != "" {
		fmt.Fprintf(&b, "\n  screenshot: %s", sr.Screenshot)
	}
	return errors.New(b.String())
}

// runContext ends the browser run a little before the test's own deadline, so that the
// failure is reported rather than the test binary panicking.
func runContext(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return context.WithDeadline(t.Context(), deadline.Add(-10*time.Second))
		}
	}
	return context.WithTimeout(t.Context(), 10*time.Minute)
}

var (
	artifactMu   sync.Mutex
	artifactUsed = map[string]int{}
	unsafeName   = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// artifactDir is $UNSPOOF_ARTIFACTS/<test name> (emptied first; "-2", "-3"… for a test's
// later runs) when that variable is set, else a new temporary directory of the test.
func artifactDir(t testing.TB) string {
	root := os.Getenv("UNSPOOF_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	name := unsafeName.ReplaceAllString(t.Name(), "_")
	artifactMu.Lock()
	artifactUsed[name]++
	if n := artifactUsed[name]; n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	artifactMu.Unlock()
	dir := filepath.Join(root, name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("webtest: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("webtest: %v", err)
	}
	return dir
}

// findChromium looks for $CHROMIUM, then Debian's chromium on the PATH.
func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	if p := lookPath("chromium", "chromium-browser"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

func lookPath(names ...string) string {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("webtest: %s", why)
	}
	t.Skipf("webtest: %s (set CI=1 to fail instead of skipping)", why)
}
