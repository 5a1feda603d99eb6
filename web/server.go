// Package web serves the public portal where victims report, the staff dashboard, and the JSON
// API, from one HTTP server. Templates and assets are embedded. Every page works without
// JavaScript; every response carries a strict Content-Security-Policy.
package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/report"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is everything the server reads and writes: both storage engines are one.
type Store interface {
	unspoof.EvidenceStore
	unspoof.VictimStore
	unspoof.SuspectStore
	unspoof.CampaignStore
	unspoof.ReportStore
	unspoof.StaffStore
}

// Config configures a Server. Zero fields get defaults.
type Config struct {
	Addr   string // listen address, "127.0.0.1:8080"; ":0" picks a port
	Store  Store
	Logger *slog.Logger
	// Portal is the portal's public address, as the alert text names it ("met.police.uk/ispoof").
	Portal string
	// ReportsPerMinute is how many report submissions one client may make a minute (burst
	// ReportsBurst); 0 means DefaultReportsPerMinute, negative means no limit (load tests).
	ReportsPerMinute int
	ReportsBurst     int
	// TrustProxy takes the client address from X-Forwarded-For (set it only behind a proxy
	// that overwrites the header).
	TrustProxy bool
	// SecureCookies marks cookies Secure; set it when served over HTTPS (directly or behind a
	// proxy). Plain-HTTP loopback tests leave it off.
	SecureCookies bool
	// FiguresEvery is how often the evidence figures (a scan of every call) are recomputed.
	FiguresEvery time.Duration
	Now          func() time.Time
}

// Defaults of Config.
const (
	DefaultReportsPerMinute = 10
	DefaultReportsBurst     = 5
	DefaultFiguresEvery     = 10 * time.Minute
	maxBody                 = 64 << 10
)

// Server is the portal, dashboard and API.
type Server struct {
	cfg         Config
	log         *slog.Logger
	tmpl        map[string]*template.Template
	static      http.Handler
	govukAssets http.Handler
	srv         *http.Server
	ln          net.Listener
	linker      *report.Linker
	limiter     *clientLimiter // report submissions and opt-outs
	logins      *clientLimiter // login attempts, by client (accounts also lock: see login)
	figures     *figuresCache
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// New returns a Server for cfg; Open starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.FiguresEvery = cmp.Or(cfg.FiguresEvery, DefaultFiguresEvery)
	if cfg.ReportsPerMinute == 0 {
		cfg.ReportsPerMinute = DefaultReportsPerMinute
	}
	cfg.ReportsBurst = cmp.Or(cfg.ReportsBurst, DefaultReportsBurst)
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "web")}
	var err error
	if s.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(staticFS, "static")
	s.static = http.StripPrefix("/assets/", http.FileServerFS(sub))
	// GOV.UK Frontend's CSS names its fonts and images /assets/fonts/… and /assets/images/….
	govuk, _ := fs.Sub(staticFS, "static/govuk/assets")
	s.govukAssets = http.StripPrefix("/assets/", http.FileServerFS(govuk))
	s.linker = report.NewLinker(cfg.Store, cfg.Logger)
	s.limiter = newClientLimiter(cfg.ReportsPerMinute, cfg.ReportsBurst)
	s.logins = newClientLimiter(20, 10)
	s.figures = &figuresCache{store: cfg.Store, every: cfg.FiguresEvery, log: s.log}
	mux := http.NewServeMux()
	s.registerPortalRoutes(mux)
	s.registerStaffRoutes(mux)
	s.registerAPIRoutes(mux)
	s.srv = &http.Server{Handler: s.secure(mux), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	return s, nil
}

// Open listens (so that Addr() is known when it returns), then serves in the background, and
// starts linking reports and computing the figures.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", cmp.Or(s.cfg.Addr, "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	s.ln = ln
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { s.linker.Run(ctx, 2*time.Second, 30*time.Second) })
	s.wg.Go(func() { s.figures.run(ctx) })
	s.wg.Go(func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	})
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting requests in progress finish (up to ctx).
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return err
}

// LinkNow links every report waiting (tests and the CLI use it; the server does it anyway).
func (s *Server) LinkNow(ctx context.Context) (int, error) { return s.linker.LinkNew(ctx) }

// Error writes err as the one error response of the server: a page for browsers, JSON for the
// API. Internal errors are logged and not shown.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := map[string]int{unspoof.ENOTFOUND: http.StatusNotFound, unspoof.EINVALID: http.StatusBadRequest,
		unspoof.ECONFLICT: http.StatusConflict, unspoof.EUNAUTHORIZED: http.StatusUnauthorized}[unspoof.ErrorCode(err)]
	msg := unspoof.ErrorMessage(err)
	var he *httpError
	if errors.As(err, &he) {
		code, msg = he.code, he.msg
	}
	if code == 0 {
		code = http.StatusInternalServerError
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Sorry, something went wrong. Please try again later."
	}
	if isAPI(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, code, "error.html", map[string]any{"Title": http.StatusText(code), "Message": msg})
}

// httpError is an error with its own status and public message.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errStatus(code int, msg string) error { return &httpError{code, msg} }
