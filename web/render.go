package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/unspoof/unspoof"
)

var english = message.NewPrinter(language.English)

var funcs = template.FuncMap{
	"count":  func(n any) string { return english.Sprintf("%d", n) },
	"pounds": pounds,
	"date":   date,
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04 MST")
	},
	"mask": func(e164 string) string {
		if len(e164) <= 7 {
			return "…"
		}
		return e164[:5] + "…" + e164[len(e164)-3:]
	},
	"has":   func(errs map[string]string, field string) bool { _, ok := errs[field]; return ok },
	"eq2":   func(a, b string) bool { return a == b },
	"lower": strings.ToLower,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"svg": func(s string) template.HTML { return template.HTML(s) }, // charts are built by charts.go from numbers only
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

// pounds formats pence as pounds: £1,250 or £1,250.50.
func pounds(pence int64) string {
	s := english.Sprintf("£%d", pence/100)
	if pence%100 != 0 {
		s += fmt.Sprintf(".%02d", pence%100)
	}
	return s
}

// date formats a day for people: 27 March 2022.
func date(t time.Time) string {
	if t.IsZero() {
		return "Not given"
	}
	return t.Format("2 January 2006")
}

// parseTemplates parses each page with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := path.Base(p)
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page name with data, inside the layout. data may be nil.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["CSRF"] = s.csrfToken(w, r)
	data["Portal"] = s.cfg.Portal
	data["Path"] = r.URL.Path
	if st, ok := r.Context().Value(staffKey{}).(*unspoof.Staff); ok {
		data["Staff"] = st
	}
	t := s.tmpl[name]
	if t == nil {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("render", "template", name, "err", err)
		http.Error(w, "Sorry, something went wrong.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}
