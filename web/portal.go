package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/report"
)

func (s *Server) registerPortalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /report", s.handleReportForm)
	mux.HandleFunc("POST /report", s.handleReportContinue)
	mux.HandleFunc("POST /report/send", s.handleReportSend)
	mux.HandleFunc("GET /report/sent", s.handleReportSent)
	mux.HandleFunc("GET /opt-out", s.handleOptOutForm)
	mux.HandleFunc("POST /opt-out", s.handleOptOut)
	mux.HandleFunc("GET /assets/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		s.static.ServeHTTP(w, r)
	})
	for _, dir := range []string{"/assets/fonts/", "/assets/images/"} {
		mux.HandleFunc("GET "+dir, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=604800")
			s.govukAssets.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home.html", map[string]any{"Title": "You may have been called by fraudsters"})
}

type option struct{ Value, Label string }

var paidByOptions = []option{{"bank-transfer", "Bank transfer"}, {"card", "Debit or credit card"}, {"cash", "Cash"},
	{"crypto", "Cryptocurrency, such as bitcoin"}, {"gift-cards", "Gift cards or vouchers"}, {"other", "Another way"}}

// formFrom reads the report form's fields from a request.
func formFrom(r *http.Request) *report.Form {
	v := r.PostFormValue
	return &report.Form{Reference: v("reference"), Phone: v("phone"), Day: v("called-on-day"), Month: v("called-on-month"),
		Year: v("called-on-year"), Org: v("org"), Lost: v("lost"), Amount: v("amount"), PaidBy: v("paid-by"), Story: v("story"),
		ContactBy: v("contact-by"), Contact: v("contact"), Consent: v("consent")}
}

// field is a form field's name and value.
type field struct{ Name, Value string }

// hidden lists a form's fields as hidden inputs, for the check-your-answers page.
func hidden(f *report.Form) []field {
	return []field{{"reference", f.Reference}, {"phone", f.Phone}, {"called-on-day", f.Day}, {"called-on-month", f.Month},
		{"called-on-year", f.Year}, {"org", f.Org}, {"lost", f.Lost}, {"amount", f.Amount}, {"paid-by", f.PaidBy},
		{"story", f.Story}, {"contact-by", f.ContactBy}, {"contact", f.Contact}, {"consent", f.Consent}}
}

func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, f *report.Form, errs []report.FieldError) {
	m := map[string]string{}
	for _, e := range errs {
		if _, ok := m[e.Field]; !ok {
			m[e.Field] = e.Message
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "report.html", map[string]any{"Title": "Report a call", "Form": f, "Errors": m,
		"ErrorList": errs, "PaidBy": paidByOptions})
}

func (s *Server) handleReportForm(w http.ResponseWriter, r *http.Request) {
	s.renderForm(w, r, &report.Form{}, nil)
}

// postOK checks what every public POST must pass: the CSRF token, and a parseable body.
func (s *Server) postOK(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		s.Error(w, r, errStatus(http.StatusRequestEntityTooLarge, "What you sent is too long."))
		return false
	}
	if !checkCSRF(r) {
		s.Error(w, r, errStatus(http.StatusForbidden, "This form has expired. Go back, reload the page and try again."))
		return false
	}
	return true
}

// handleReportContinue checks the form: back to it with the errors, or on to check your answers.
// "Change your answers" on that page posts here too, with change=1.
func (s *Server) handleReportContinue(w http.ResponseWriter, r *http.Request) {
	if !s.postOK(w, r) {
		return
	}
	f := formFrom(r)
	if r.PostFormValue("change") != "" {
		s.renderForm(w, r, f, nil)
		return
	}
	rep, errs := report.Check(f, s.cfg.Now())
	if len(errs) > 0 {
		s.renderForm(w, r, f, errs)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "check.html", map[string]any{"Title": "Check your answers", "Answers": answers(f, rep),
		"Hidden": hidden(f)})
}

// answer is one check-your-answers row.
type answer struct{ Label, Value string }

// answers are the check-your-answers rows.
func answers(f *report.Form, r *unspoof.Report) []answer {
	or := func(s, none string) string {
		if strings.TrimSpace(s) == "" {
			return none
		}
		return s
	}
	lost := "No"
	if r.Lost {
		lost = "Yes, " + pounds(r.LossMinor)
		for _, o := range paidByOptions {
			if o.Value == r.PaidBy {
				lost += ", by " + strings.ToLower(o.Label)
			}
		}
	}
	contact := map[string]string{"phone": "By phone: ", "email": "By email: ", "none": "Do not contact me"}[r.ContactBy] + r.Contact
	return []answer{
		{"Reference", or(f.Reference, "Not given")},
		{"Phone number that received the call", f.Phone},
		{"Date of the call", date(r.CalledOn)},
		{"Who the caller said they were", or(r.OrgClaimed, "Not given")},
		{"Money lost", lost},
		{"What happened", or(r.Story, "Not given")},
		{"Contact", contact},
	}
}

func (s *Server) handleReportSend(w http.ResponseWriter, r *http.Request) {
	if !s.postOK(w, r) {
		return
	}
	if !s.limiter.allow(s.client(r), s.cfg.Now()) {
		w.Header().Set("Retry-After", "60")
		s.Error(w, r, errStatus(http.StatusTooManyRequests, "You have sent several reports in a short time. Wait a minute and try again."))
		return
	}
	f := formFrom(r)
	rep, errs := report.Check(f, s.cfg.Now())
	if len(errs) > 0 {
		s.renderForm(w, r, f, errs)
		return
	}
	rep.CreatedAt = s.cfg.Now().UTC()
	var err error
	for range 3 { // a clash of 40 random bits is rare; retry it
		rep.Number = report.NewNumber()
		if err = s.cfg.Store.CreateReport(r.Context(), rep); unspoof.ErrorCode(err) != unspoof.ECONFLICT {
			break
		}
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// Linking happens after the answer, in the background: the answer, and how long it takes,
	// are the same whether or not the reference or number is in the evidence.
	s.linker.Kick()
	http.Redirect(w, r, "/report/sent?n="+url.QueryEscape(rep.Number), http.StatusSeeOther)
}

func (s *Server) handleReportSent(w http.ResponseWriter, r *http.Request) {
	n := r.URL.Query().Get("n")
	if len(n) != 10 || !strings.HasPrefix(n, "R-") || strings.Trim(n[2:], report.NumberAlphabet) != "" {
		s.Error(w, r, errStatus(http.StatusNotFound, "Page not found."))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "sent.html", map[string]any{"Title": "Report sent", "Number": n})
}

func (s *Server) handleOptOutForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "optout.html", map[string]any{"Title": "Stop messages from us"})
}

// handleOptOut records an opt-out. The answer is the same whether or not the number is one we
// send to: it tells a stranger nothing.
func (s *Server) handleOptOut(w http.ResponseWriter, r *http.Request) {
	if !s.postOK(w, r) {
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("phone"))
	n, err := phonenum.Parse(raw, "GB")
	if raw == "" || err != nil || n.Possible != phonenum.IsPossible || len(raw) > 200 {
		s.render(w, r, http.StatusOK, "optout.html", map[string]any{"Title": "Stop messages from us", "Phone": raw,
			"ErrorList": []report.FieldError{{Field: "phone", Message: "Enter a mobile phone number, like 07700 900 982"}}})
		return
	}
	if !s.limiter.allow(s.client(r), s.cfg.Now()) {
		s.Error(w, r, errStatus(http.StatusTooManyRequests, "Wait a minute and try again."))
		return
	}
	now := s.cfg.Now()
	if _, err := s.cfg.Store.AddOptOut(r.Context(), &unspoof.OptOut{E164: n.E164, Source: "portal", At: now}); err != nil {
		s.Error(w, r, fmt.Errorf("opt-out: %w", err))
		return
	}
	// Kept beside the STOP replies by SMS, so that the audit log shows every opt-out.
	if err := s.cfg.Store.Audit(r.Context(), &unspoof.AuditEntry{At: now.UTC(), Actor: "portal", Action: "optout",
		Object: n.E164, Detail: "opt-out page"}); err != nil {
		s.Error(w, r, fmt.Errorf("opt-out: %w", err))
		return
	}
	s.render(w, r, http.StatusOK, "optout.html", map[string]any{"Title": "Messages stopped", "Done": true})
}
