package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/unspoof/unspoof"
)

var (
	anyStaff = []string{}
	readers  = []string{unspoof.RoleAnalyst, unspoof.RoleSupervisor, unspoof.RoleAdmin} // may see personal data
)

func (s *Server) registerStaffRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /staff/login", s.handleLoginForm)
	mux.HandleFunc("POST /staff/login", s.handleLogin)
	mux.HandleFunc("POST /staff/logout", s.staffOnly(s.handleLogout, anyStaff...))
	mux.HandleFunc("GET /staff", s.staffOnly(s.handleDashboard, anyStaff...))
	mux.HandleFunc("GET /staff/campaigns", s.staffOnly(s.handleCampaigns, anyStaff...))
	mux.HandleFunc("GET /staff/reports", s.staffOnly(s.handleReports, readers...))
	mux.HandleFunc("GET /staff/reports.csv", s.staffOnly(s.handleReportsCSV, readers...))
	mux.HandleFunc("GET /staff/reports/{id}", s.staffOnly(s.handleReport, readers...))
	mux.HandleFunc("POST /staff/reports/{id}/reviewed", s.staffOnly(s.handleReportReviewed, readers...))
	mux.HandleFunc("GET /staff/victims", s.staffOnly(s.handleVictims, readers...))
	mux.HandleFunc("GET /staff/suspects", s.staffOnly(s.handleSuspects, readers...))
	mux.HandleFunc("GET /staff/suspects/{account}", s.staffOnly(s.handleSuspect, readers...))
	mux.HandleFunc("GET /staff/audit", s.staffOnly(s.handleAudit, unspoof.RoleAdmin))
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "login.html", map[string]any{"Title": "Sign in"})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.postOK(w, r) {
		return
	}
	if !s.logins.allow(s.client(r), s.cfg.Now()) {
		s.Error(w, r, errStatus(http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again."))
		return
	}
	token, _, err := s.login(r.Context(), r.PostFormValue("username"), r.PostFormValue("password"))
	if unspoof.ErrorCode(err) == unspoof.EUNAUTHORIZED {
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, r, http.StatusUnauthorized, "login.html", map[string]any{"Title": "Sign in", "Error": unspoof.ErrorMessage(err),
			"Username": r.PostFormValue("username")})
		return
	} else if err != nil {
		s.Error(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionLife / time.Second)})
	http.Redirect(w, r, "/staff", http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Store.DeleteSession(r.Context(), tokenHash(sessionToken(r))); err != nil {
		s.Error(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/staff/login", http.StatusSeeOther)
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, ready, err := s.current(ctx)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	_, days, areas := s.figures.get()
	data := map[string]any{"Title": "Headline figures", "F": f, "Ready": ready}
	if !ready {
		data["Refresh"] = 5
	}
	if len(days) > 0 {
		labels, values := make([]string, len(days)), make([]float64, len(days))
		for i, d := range days {
			labels[i], values[i] = d.Day.Format("Jan"), float64(d.Calls)
		}
		data["CallsChart"] = barChart("Calls per day", labels, values, max(1, len(days)/6))
	}
	if len(areas) > 0 {
		top := areas[:min(len(areas), 12)]
		data["Areas"] = top
		labels, values := make([]string, len(top)), make([]float64, len(top))
		for i, a := range top {
			labels[i], values[i] = a.Area, float64(a.Victims)
			if r := []rune(a.Area); len(r) > 9 { // the table below names them in full
				labels[i] = string(r[:8]) + "…"
			}
		}
		data["AreasChart"] = barChart("Victims by UK area", labels, values, 1)
	}
	// Reports per hour over the last 48 hours, and losses by size: aggregated by the store.
	now := s.cfg.Now().UTC().Truncate(time.Hour)
	edges := []int64{100_00, 1_000_00, 10_000_00, 100_000_00}
	perHour, loss, err := s.cfg.Store.ReportSeries(ctx, now.Add(-47*time.Hour), edges)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if f.Reports > 0 {
		values, labels := make([]float64, 48), make([]string, 48)
		for i := range labels {
			h := now.Add(time.Duration(i-47) * time.Hour)
			labels[i], values[i] = h.Format("15h"), float64(perHour[h])
		}
		lossValues := make([]float64, len(loss))
		for i, n := range loss {
			lossValues[i] = float64(n)
		}
		data["ReportsChart"] = barChart("Reports per hour, last 48 hours", labels, values, 8)
		data["LossChart"] = barChart("Reported losses", []string{"up to £100", "£100 to £1,000", "£1,000 to £10,000",
			"£10,000 to £100,000", "over £100,000"}, lossValues, 1)
	}
	s.render(w, r, http.StatusOK, "dashboard.html", data)
}

func (s *Server) handleCampaigns(w http.ResponseWriter, r *http.Request) {
	cs, err := s.cfg.Store.FindCampaigns(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	type reason struct {
		unspoof.ReasonCount
		Meaning string
	}
	type row struct {
		*unspoof.Campaign
		Done, Percent int64
		Reasons       []reason
	}
	var rows []row
	running := false
	for _, c := range cs {
		done := c.Total() - c.Counts[unspoof.MessagePending] - c.Counts[unspoof.MessageSubmitting]
		pct := int64(0)
		if c.Total() > 0 {
			pct = done * 100 / c.Total()
		}
		rcs, err := s.cfg.Store.MessageReasons(r.Context(), c.ID)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		var reasons []reason
		for _, rc := range rcs {
			reasons = append(reasons, reason{rc, unspoof.ReasonMeaning(rc.Reason)})
		}
		rows = append(rows, row{c, done, pct, reasons})
		running = running || c.State == unspoof.CampaignRunning
	}
	data := map[string]any{"Title": "Campaigns", "Campaigns": rows, "States": unspoof.MessageStates}
	if running {
		data["Refresh"] = 5 // a live figure without script
	}
	s.render(w, r, http.StatusOK, "campaigns.html", data)
}

func pageOf(r *http.Request) int {
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	return max(p, 1)
}

const pageSize = 50

func (s *Server) handleReports(w http.ResponseWriter, r *http.Request) {
	f := unspoof.ReportFilter{Offset: (pageOf(r) - 1) * pageSize, Limit: pageSize}
	status := r.URL.Query().Get("status")
	if status != "" {
		f.Status = &status
	}
	if !s.auditView(w, r, "reports.list", "reports", "status="+status) {
		return
	}
	rs, n, err := s.cfg.Store.FindReports(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "reports.html", map[string]any{"Title": "Reports", "Reports": rs, "Total": n, "Status": status,
		"Next": pageOf(r) + 1, "More": f.Offset+len(rs) < n})
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.Error(w, r, errStatus(http.StatusNotFound, "No such report."))
		return
	}
	rep, err := s.cfg.Store.FindReportByID(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !s.auditView(w, r, "report.view", fmt.Sprintf("report %d", id), rep.Number) {
		return
	}
	var calls []*unspoof.Call
	if rep.VictimE164 != "" {
		calls, _, err = s.cfg.Store.FindCalls(r.Context(), unspoof.CallFilter{CalleeE164: &rep.VictimE164, Limit: 200})
		if err != nil {
			s.Error(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "report_detail.html", map[string]any{"Title": "Report " + rep.Number, "R": rep, "Calls": calls})
}

func (s *Server) handleReportReviewed(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.Error(w, r, errStatus(http.StatusNotFound, "No such report."))
		return
	}
	if err := s.cfg.Store.SetReportStatus(r.Context(), id, unspoof.ReportReviewed); err != nil {
		s.Error(w, r, err)
		return
	}
	s.audit(r.Context(), staffOf(r).Username, "report.reviewed", fmt.Sprintf("report %d", id), "")
	http.Redirect(w, r, fmt.Sprintf("/staff/reports/%d", id), http.StatusSeeOther)
}

// handleReportsCSV exports every report: audited before a byte is written.
func (s *Server) handleReportsCSV(w http.ResponseWriter, r *http.Request) {
	rs, n, err := s.cfg.Store.FindReports(r.Context(), unspoof.ReportFilter{})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !s.auditView(w, r, "reports.export", "reports", fmt.Sprintf("%d reports as CSV", n)) {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="reports.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"number", "created_at", "status", "match", "victim", "reference", "phone", "called_on", "org_claimed",
		"lost", "loss_gbp", "paid_by", "contact_by", "contact", "linked_calls", "story"})
	for _, rep := range rs {
		called := ""
		if !rep.CalledOn.IsZero() {
			called = rep.CalledOn.Format(time.DateOnly)
		}
		cw.Write([]string{rep.Number, rep.CreatedAt.Format(time.RFC3339), rep.Status, rep.Match, rep.VictimE164, rep.ReferenceGiven,
			CSVSafe(rep.PhoneGiven), called, CSVSafe(rep.OrgClaimed), strconv.FormatBool(rep.Lost),
			fmt.Sprintf("%d.%02d", rep.LossMinor/100, rep.LossMinor%100), rep.PaidBy, rep.ContactBy, CSVSafe(rep.Contact),
			strconv.Itoa(rep.LinkedCalls), CSVSafe(rep.Story)})
	}
	cw.Flush()
}

// CSVSafe defuses text a spreadsheet would run as a formula (CSV injection) by putting a quote
// before a leading =, +, -, @, tab or carriage return. Every CSV export of text people typed uses it.
func CSVSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func (s *Server) handleVictims(w http.ResponseWriter, r *http.Request) {
	if !s.auditView(w, r, "victims.list", "victims", fmt.Sprintf("page %d", pageOf(r))) {
		return
	}
	vs, n, err := s.cfg.Store.FindVictims(r.Context(), unspoof.VictimFilter{Offset: (pageOf(r) - 1) * pageSize, Limit: pageSize})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "victims.html", map[string]any{"Title": "Victims", "Victims": vs, "Total": n, "Next": pageOf(r) + 1,
		"More": (pageOf(r)-1)*pageSize+len(vs) < n})
}

func (s *Server) handleSuspects(w http.ResponseWriter, r *http.Request) {
	if !s.auditView(w, r, "suspects.list", "suspects", fmt.Sprintf("page %d", pageOf(r))) {
		return
	}
	ss, n, err := s.cfg.Store.FindSuspects(r.Context(), unspoof.SuspectFilter{Offset: (pageOf(r) - 1) * pageSize, Limit: pageSize})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "suspects.html", map[string]any{"Title": "Suspects", "Suspects": ss, "Total": n, "Next": pageOf(r) + 1,
		"More": (pageOf(r)-1)*pageSize+len(ss) < n})
}

func (s *Server) handleSuspect(w http.ResponseWriter, r *http.Request) {
	ext := r.PathValue("account")
	sp, err := s.cfg.Store.FindSuspectByAccount(r.Context(), ext)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !s.auditView(w, r, "suspect.view", "account "+ext, "") {
		return
	}
	pays, err := s.cfg.Store.FindPayments(r.Context(), sp.AccountID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	calls, total, err := s.cfg.Store.FindCalls(r.Context(), unspoof.CallFilter{AccountID: &sp.AccountID, Limit: 100})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "suspect.html", map[string]any{"Title": "Account " + ext, "S": sp, "Payments": pays,
		"Calls": calls, "CallsTotal": total})
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	es, err := s.cfg.Store.FindAudit(r.Context(), 500)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "audit.html", map[string]any{"Title": "Audit log", "Entries": es})
}
