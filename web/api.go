package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/unspoof/unspoof"
)

// registerAPIRoutes serves the dashboard's data as JSON for other tools (docs/api/web.md), with
// the same sessions and roles: log in with POST /api/v1/login, then send the token as
// "Authorization: Bearer TOKEN".
func (s *Server) registerAPIRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/login", s.handleAPILogin)
	mux.HandleFunc("GET /api/v1/figures", s.staffOnly(s.handleAPIFigures, anyStaff...))
	mux.HandleFunc("GET /api/v1/campaigns", s.staffOnly(s.handleAPICampaigns, anyStaff...))
	mux.HandleFunc("GET /api/v1/reports", s.staffOnly(s.handleAPIReports, readers...))
	mux.HandleFunc("GET /api/v1/reports/{id}", s.staffOnly(s.handleAPIReport, readers...))
	mux.HandleFunc("GET /api/v1/suspects", s.staffOnly(s.handleAPISuspects, readers...))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, errStatus(http.StatusNotFound, "no such API endpoint"))
	})
}

func (s *Server) handleAPILogin(w http.ResponseWriter, r *http.Request) {
	if !s.logins.allow(s.client(r), s.cfg.Now()) {
		s.Error(w, r, errStatus(http.StatusTooManyRequests, "too many attempts: wait a minute"))
		return
	}
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.Error(w, r, errStatus(http.StatusBadRequest, "send JSON: {\"username\": …, \"password\": …}"))
		return
	}
	token, st, err := s.login(r.Context(), in.Username, in.Password)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "role": st.Role, "expires_in": int(sessionLife.Seconds())})
}

func (s *Server) handleAPIFigures(w http.ResponseWriter, r *http.Request) {
	f, ready, err := s.current(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := map[string]any{"victims": f.Victims, "alerted": f.Alerted, "delivered": f.Delivered, "reports": f.Reports,
		"reports_matched": f.ReportsMatched, "loss_total_gbp": float64(f.LossTotalMinor) / 100,
		"loss_average_gbp": float64(f.LossAvgMinor()) / 100, "loss_max_gbp": float64(f.LossMaxMinor) / 100,
		"suspects_identified": f.Suspects, "evidence_ready": ready}
	if ready {
		out["calls"], out["uk_numbers_called"], out["uk_calls_over_a_minute"] = f.Calls, f.UKNumbers, f.LongCalls
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAPICampaigns(w http.ResponseWriter, r *http.Request) {
	cs, err := s.cfg.Store.FindCampaigns(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, c := range cs {
		out = append(out, map[string]any{"id": c.ID, "name": c.Name, "state": c.State, "messages": c.Total(), "parts": c.Parts,
			"by_state": c.Counts})
	}
	writeJSON(w, http.StatusOK, out)
}

func reportJSON(r *unspoof.Report) map[string]any {
	m := map[string]any{"id": r.ID, "number": r.Number, "created_at": r.CreatedAt, "status": r.Status, "match": r.Match,
		"victim": r.VictimE164, "reference_given": r.ReferenceGiven, "phone_given": r.PhoneGiven, "phone": r.E164,
		"org_claimed": r.OrgClaimed, "lost": r.Lost, "loss_gbp": float64(r.LossMinor) / 100, "paid_by": r.PaidBy,
		"story": r.Story, "contact_by": r.ContactBy, "contact": r.Contact, "linked_calls": r.LinkedCalls}
	if !r.CalledOn.IsZero() {
		m["called_on"] = r.CalledOn.Format("2006-01-02")
	}
	var accts []map[string]any
	for _, a := range r.Accounts {
		accts = append(accts, map[string]any{"account": a.ExternalID, "calls": a.Calls, "loss_gbp": float64(a.LossMinor) / 100})
	}
	if accts != nil {
		m["accounts"] = accts
	}
	return m
}

func (s *Server) handleAPIReports(w http.ResponseWriter, r *http.Request) {
	f := unspoof.ReportFilter{Offset: (pageOf(r) - 1) * pageSize, Limit: pageSize}
	if st := r.URL.Query().Get("status"); st != "" {
		f.Status = &st
	}
	if !s.auditView(w, r, "api.reports.list", "reports", r.URL.RawQuery) {
		return
	}
	rs, n, err := s.cfg.Store.FindReports(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	items := []map[string]any{}
	for _, rep := range rs {
		items = append(items, reportJSON(rep))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": n, "page": pageOf(r), "reports": items})
}

func (s *Server) handleAPIReport(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.Error(w, r, errStatus(http.StatusNotFound, "no such report"))
		return
	}
	rep, err := s.cfg.Store.FindReportByID(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !s.auditView(w, r, "api.report.view", fmt.Sprintf("report %d", id), rep.Number) {
		return
	}
	writeJSON(w, http.StatusOK, reportJSON(rep))
}

func (s *Server) handleAPISuspects(w http.ResponseWriter, r *http.Request) {
	if !s.auditView(w, r, "api.suspects.list", "suspects", r.URL.RawQuery) {
		return
	}
	ss, n, err := s.cfg.Store.FindSuspects(r.Context(), unspoof.SuspectFilter{Offset: (pageOf(r) - 1) * pageSize, Limit: pageSize})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	items := []map[string]any{}
	for _, sp := range ss {
		items = append(items, map[string]any{"rank": sp.Rank, "account": sp.ExternalID, "country": sp.Country,
			"identified": sp.Identified, "victims": sp.Victims, "long_calls": sp.LongCalls, "orgs": sp.Orgs,
			"paid_gbp": float64(sp.PaidMinor) / 100, "linked_loss_gbp": float64(sp.LossMinor) / 100, "score": sp.Score})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": n, "page": pageOf(r), "suspects": items})
}
