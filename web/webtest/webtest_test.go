package webtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The pages below stand in for the portal: GOV.UK Frontend's vendored stylesheet (served the
// way the stylesheet expects: itself under /assets/govuk/, its fonts and images under
// /assets/fonts/ and /assets/images/), a strict CSP that allows only our own script file, and
// a form filled by label.

const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; form-action 'self'"

func page(title, body string) string {
	return `<!DOCTYPE html>
<html lang="en" class="govuk-template">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>` + title + ` – webtest</title>
  <link rel="stylesheet" href="/assets/govuk/govuk-frontend.min.css">
  <link rel="stylesheet" href="/assets/app.css">
</head>
<body class="govuk-template__body">
  <header class="govuk-header"><div class="govuk-width-container"><p class="govuk-body">webtest</p></div></header>
  <div class="govuk-width-container">
    <main class="govuk-main-wrapper" id="main-content">
` + body + `
    </main>
  </div>
  <footer class="govuk-footer"><div class="govuk-width-container"><p class="govuk-body">Footer</p></div></footer>
  <script src="/app.js"></script>
</body>
</html>`
}

const goodForm = `
      <h1 class="govuk-heading-l">Report a call</h1>
      <p class="govuk-body" id="js-state">JavaScript is off</p>
      <form method="post" action="/report" novalidate>
        <div class="govuk-form-group">
          <label class="govuk-label" for="phone">Phone number that received the call</label>
          <input class="govuk-input govuk-input--width-20" id="phone" name="phone" type="tel" autocomplete="tel">
        </div>
        <div class="govuk-form-group">
          <div class="govuk-checkboxes" data-module="govuk-checkboxes">
            <div class="govuk-checkboxes__item">
              <input class="govuk-checkboxes__input" id="consent" name="consent" type="checkbox" value="yes">
              <label class="govuk-label govuk-checkboxes__label" for="consent">I agree to be contacted</label>
            </div>
          </div>
        </div>
        <button type="submit" class="govuk-button">Send report</button>
      </form>`

// badForm has an input with no label: axe's rule "label".
const badForm = `
      <h1 class="govuk-heading-l">Report a call</h1>
      <form method="post" action="/report">
        <input class="govuk-input" id="nolabel" name="phone" type="text">
        <button type="submit" class="govuk-button">Send report</button>
      </form>`

type site struct {
	mu       sync.Mutex
	requests map[string]int // "200 /assets/fonts/…"
}

func newSite(t *testing.T) *httptest.Server {
	t.Helper()
	s := &site{requests: map[string]int{}}
	mux := http.NewServeMux()
	assets := http.FileServerFS(os.DirFS("../static/govuk/assets"))
	mux.Handle("GET /assets/govuk/", http.StripPrefix("/assets/govuk/", http.FileServerFS(os.DirFS("../static/govuk"))))
	mux.Handle("GET /assets/app.css", http.StripPrefix("/assets/", http.FileServerFS(os.DirFS("../static")))) // local fonts for GOV.UK's
	mux.Handle("GET /assets/fonts/", http.StripPrefix("/assets/", assets))
	mux.Handle("GET /assets/images/", http.StripPrefix("/assets/", assets))
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `var p = document.getElementById("js-state"); if (p) p.textContent = "JavaScript is on";`)
	})
	html200 := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		html200(w, 200, page("Report a call", goodForm))
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		html200(w, 200, page("Report a call", badForm))
	})
	// /narrow has text that only shows, in too light a grey, on a narrow screen.
	mux.HandleFunc("GET /narrow.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, `.narrow { display: none } @media (max-width: 400px) { .narrow { display: block; color: #ddd } }`)
	})
	mux.HandleFunc("GET /narrow", func(w http.ResponseWriter, r *http.Request) {
		html200(w, 200, strings.Replace(page("Narrow", `<h1 class="govuk-heading-l">Narrow</h1><p class="narrow">Faint</p>`),
			"</head>", `<link rel="stylesheet" href="/narrow.css"></head>`, 1))
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		html200(w, 200, page("Broken", `<h1 class="govuk-heading-l" style="color: red">Broken</h1>
      <link rel="stylesheet" href="/assets/govuk/missing.css">`))
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, r.PostFormValue("phone"))
		if digits == "" || r.PostFormValue("consent") != "yes" {
			http.Error(w, "missing phone or consent", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/report/sent?n="+digits, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /report/sent", func(w http.ResponseWriter, r *http.Request) {
		html200(w, 200, page("Report sent", `
      <div class="govuk-panel govuk-panel--confirmation">
        <h1 class="govuk-panel__title">Report sent</h1>
        <div class="govuk-panel__body">Your report number<br><strong>R`+html.EscapeString(r.FormValue("n"))+`</strong></div>
      </div>`))
	})
	mux.HandleFunc("GET /forbidden", func(w http.ResponseWriter, r *http.Request) {
		html200(w, http.StatusForbidden, page("Forbidden", `<h1 class="govuk-heading-l">You cannot see this page</h1>`))
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: 200}
		mux.ServeHTTP(rec, r)
		s.mu.Lock()
		s.requests[fmt.Sprintf("%d %s", rec.status, r.URL.Path)]++
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			s.mu.Lock()
			t.Logf("requests served: %v", s.requests)
			s.mu.Unlock()
		}
	})
	sites.Store(srv.URL, s)
	return srv
}

var sites sync.Map // URL → *site

func served(srv *httptest.Server, key string) int {
	v, _ := sites.Load(srv.URL)
	s := v.(*site)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// requestsOf returns a copy of what srv served: "status path" → times.
func requestsOf(srv *httptest.Server) map[string]int {
	v, _ := sites.Load(srv.URL)
	s := v.(*site)
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// TestGoodFlow files the form on a phone-sized screen with JavaScript off, follows the redirect,
// captures the report number, checks a 403 and then the same page with JavaScript on, with axe
// on every page and every stylesheet, font and image required to load.
func TestGoodFlow(t *testing.T) {
	srv := newSite(t)
	s := Scenario{
		BaseURL:         srv.URL,
		AxeEveryPage:    true,
		StrictResources: true,
		Steps: []Step{
			{Goto: "/", Viewport: []int{320, 640}, JavaScript: new(false)},
			{ExpectText: "JavaScript is off"},
			{Fill: &Field{Label: "Phone number that received the call", Value: "07911 123456"}},
			{Check: "I agree to be contacted"},
			{Click: "Send report"},
			{ExpectURL: "/report/sent"},
			{ExpectStatus: 200},
			{ExpectText: "Report sent"},
			{Capture: &Capture{Name: "report-number", Selector: ".govuk-panel__body strong"}},
			{Screenshot: "report-sent"},
			{Goto: "/"}, // still JavaScript off after axe ran on the previous pages
			{ExpectText: "JavaScript is off"},
			{Goto: "/forbidden"},
			{ExpectStatus: 403},
			{Context: &Context{Viewport: []int{1024, 768}}},
			{Goto: "/"},
			{ExpectText: "JavaScript is on"},
			{Axe: true},
			{Screenshot: "home-js-on"},
		},
	}
	res, err := Try(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Captures["report-number"]; got != "R07911123456" {
		t.Errorf("captured report number %q, want R07911123456", got)
	}
	for name, width := range map[string]uint32{"report-sent": 320, "home-js-on": 1024} {
		b, err := os.ReadFile(filepath.Join(res.Dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 24 {
			t.Fatalf("%s.png is not a PNG", name)
		}
		if w := binary.BigEndian.Uint32(b[16:20]); w != width {
			t.Errorf("%s.png is %d px wide, want %d", name, w, width)
		}
	}
	axed := 0
	for _, sr := range res.Steps {
		if sr.Axe == "passed" {
			axed++
		}
	}
	if axed != 5 { // automatically: /, /report/sent, / again, /forbidden, / with JavaScript on
		t.Errorf("axe ran by itself on %d pages, want 5", axed)
	}
	// The stylesheets loaded, and nothing asked for the GOV.UK-only fonts we do not ship.
	if served(srv, "200 /assets/govuk/govuk-frontend.min.css") == 0 || served(srv, "200 /assets/app.css") == 0 {
		t.Error("the stylesheets were never loaded")
	}
	for key, n := range requestsOf(srv) {
		if strings.Contains(key, "/assets/fonts/") {
			t.Errorf("the browser asked for %s %d times", key, n)
		}
	}
	// With JavaScript off the browser never fetches the script; with it on, it does.
	if n := served(srv, "200 /app.js"); n != 1 {
		t.Errorf("/app.js was fetched %d times, want 1 (by the JavaScript-on context only)", n)
	}
}

// TestFailures shows that a broken page fails the step that reached it, with the reason.
func TestFailures(t *testing.T) {
	srv := newSite(t)
	for _, tc := range []struct {
		name      string
		s         Scenario
		step      int
		rule      string // the axe rule expected, if any
		errSubstr []string
	}{{
		name: "axe-every-page-js-off",
		s: Scenario{AxeEveryPage: true, Steps: []Step{
			{Goto: "/bad", JavaScript: new(false)},
		}},
		step: 1, rule: "label", errSubstr: []string{"label (critical)", "#nolabel"},
	}, {
		// axe sees the page at the viewport the test chose, with JavaScript off too
		name: "axe-viewport-js-off",
		s: Scenario{AxeEveryPage: true, Steps: []Step{
			{Goto: "/narrow", Viewport: []int{1024, 768}, JavaScript: new(false)},
			{Goto: "/narrow", Viewport: []int{320, 640}},
		}},
		step: 2, rule: "color-contrast", errSubstr: []string{"color-contrast (serious)", ".narrow"},
	}, {
		name: "axe-step-js-on",
		s: Scenario{Steps: []Step{
			{Goto: "/"},
			{Axe: true},
			{Goto: "/bad"},
			{Axe: true},
		}},
		step: 4, rule: "label", errSubstr: []string{"label (critical)", "#nolabel"},
	}, {
		name: "text-missing",
		s: Scenario{StepTimeout: time.Second, Steps: []Step{
			{Goto: "/"},
			{ExpectText: "Not on the page"},
		}},
		step: 2, errSubstr: []string{`text not found: "Not on the page"`, "Report a call"},
	}, {
		name: "wrong-status",
		s: Scenario{Steps: []Step{
			{Goto: "/forbidden"},
			{ExpectStatus: 200},
		}},
		step: 2, errSubstr: []string{"status of the last navigation is 403, want 200"},
	}, {
		name: "strict-resources",
		s: Scenario{StrictResources: true, Steps: []Step{
			{Goto: "/"},
			{Goto: "/broken"},
		}},
		step: 2, errSubstr: []string{srv.URL + "/assets/govuk/missing.css", "CSP: Applying inline style violates"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.BaseURL = srv.URL
			res, err := Try(t, tc.s)
			if err == nil {
				t.Fatal("the scenario passed; want a failure")
			}
			t.Logf("error, as a test would report it:\n%v", err)
			for _, want := range append(tc.errSubstr, fmt.Sprintf("browser step %d", tc.step)) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q", want)
				}
			}
			last := res.Steps[len(res.Steps)-1]
			if last.OK || last.Step != tc.step || len(res.Steps) != tc.step {
				t.Fatalf("last step %+v; want step %d failed and no step after it", last, tc.step)
			}
			if tc.rule != "" {
				ids := []string{}
				for _, v := range last.Violations {
					ids = append(ids, v.ID)
				}
				if !slices.Contains(ids, tc.rule) {
					t.Errorf("violations %v, want %q among them", ids, tc.rule)
				}
			}
			if _, err := os.Stat(last.Screenshot); err != nil {
				t.Errorf("no screenshot of the failed step: %v", err)
			}
		})
	}
}
