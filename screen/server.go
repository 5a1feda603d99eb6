package screen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/unspoof/unspoof"
)

// MaxRequestBytes is the largest request body POST /v1/screen reads: room for several Identity
// headers.
const MaxRequestBytes = 64 << 10

// Server serves a Screener over HTTP/JSON (docs/api/screen.openapi.json):
//
//	POST /v1/screen  a call (ScreenRequestJSON) in, its verdict (VerdictJSON) out
//	GET  /healthz    200 and the lists in use, as soon as the server answers
//	GET  /metrics    Prometheus metrics of Gatherer
//
// Set the fields, then Open; Close stops it.
type Server struct {
	Addr     string              // where to listen, e.g. "127.0.0.1:8080"; ":0" picks a free port
	Screener unspoof.Screener    // what decides; an *Engine screens without allocating verdicts
	Gatherer prometheus.Gatherer // served at /metrics; nil: no /metrics
	Logger   *slog.Logger        // nil: discard

	ln   net.Listener
	srv  *http.Server
	done chan error
}

// Open listens on s.Addr and serves in the background: once it returns, requests are answered.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	s.done = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return nil
}

// URL is the server's base URL ("http://127.0.0.1:41233"), once open.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server: it stops listening and waits up to ctx's end for requests being
// answered.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if e := <-s.done; err == nil {
		err = e
	}
	return err
}

// Handler returns the server's routes, for tests or to mount them elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.registerRoutes(mux)
	return mux
}

func (s *Server) registerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/screen", s.handleScreen)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	if s.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	}
	// Everything else, in the one error format.
	for path, allow := range map[string]string{"/v1/screen": "POST", "/healthz": "GET, HEAD", "/metrics": "GET, HEAD"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if path == "/metrics" && s.Gatherer == nil {
				writeError(w, r, unspoof.Errorf(unspoof.ENOTFOUND, "no metrics here"))
				return
			}
			w.Header().Set("Allow", allow)
			writeError(w, r, errMethod)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, unspoof.Errorf(unspoof.ENOTFOUND, "no such path: %s (see docs/api/screen.openapi.json)", r.URL.Path))
	})
}

// ScreenRequestJSON is the body of POST /v1/screen: unspoof.ScreenRequest in JSON.
type ScreenRequestJSON struct {
	From     string   `json:"from"`      // required: the presented number, as signalled (digits, +E.164, sip: or tel: URI); "anonymous" if withheld
	To       string   `json:"to"`        // required: the called number
	Identity []string `json:"identity"`  // SIP Identity header values, in order
	Ingress  string   `json:"ingress"`   // "domestic" (default) or "international"
	SourceIP string   `json:"source_ip"` // the signalling source address
	Trunk    string   `json:"trunk"`     // the ingress trunk or peer
	CallID   string   `json:"call_id"`   // echoed in the answer
}

// ReasonJSON is one reason of a VerdictJSON: unspoof.Reason.
type ReasonJSON struct {
	Code       string `json:"code"`        // stable machine code ("dno")
	Rule       string `json:"rule"`        // the rule that found it ("dno"; "screen" for the deadline)
	Detail     string `json:"detail"`      // for people; never the number
	ReportOnly bool   `json:"report_only"` // recorded, not acted on
}

// VerdictJSON is the answer of POST /v1/screen: unspoof.Verdict in JSON. The server writes it
// without reflection (appendVerdict); this type documents and decodes it.
type VerdictJSON struct {
	CallID     string       `json:"call_id"`     // the request's call_id
	Action     string       `json:"action"`      // allow, flag or block
	Reasons    []ReasonJSON `json:"reasons"`     // in rule order; never null
	Verstat    string       `json:"verstat"`     // TN-Validation-Passed, TN-Validation-Failed or No-TN-Validation
	Attest     string       `json:"attest"`      // "A", "B", "C" or ""
	OrigID     string       `json:"origid"`      // the verified PASSporT's origid
	SPC        string       `json:"spc"`         // service provider code of its certificate
	From       string       `json:"from"`        // the presented number in E.164; "" if none
	To         string       `json:"to"`          // the called number in E.164; "" if none
	FailedOpen bool         `json:"failed_open"` // allowed because the deadline passed
	LatencyUS  int64        `json:"latency_us"`  // the engine's time, µs
}

// call is the memory of one POST /v1/screen, reused through callPool.
type call struct {
	limit io.LimitedReader
	body  bytes.Buffer
	in    ScreenRequestJSON
	req   unspoof.ScreenRequest
	v     unspoof.Verdict
	out   []byte
}

var callPool = sync.Pool{New: func() any { return &call{out: make([]byte, 0, 1024)} }}

// verdictInto is what an *Engine offers beyond unspoof.Screener.
type verdictInto interface {
	ScreenInto(ctx context.Context, r *unspoof.ScreenRequest, v *unspoof.Verdict)
}

func (s *Server) handleScreen(w http.ResponseWriter, r *http.Request) {
	c := callPool.Get().(*call)
	defer func() {
		if c.body.Cap() <= MaxRequestBytes && cap(c.out) <= 1<<16 {
			c.body.Reset()
			clear(c.in.Identity[:cap(c.in.Identity)]) // let the strings go
			c.in = ScreenRequestJSON{Identity: c.in.Identity[:0]}
			c.out = c.out[:0]
			callPool.Put(c)
		}
	}()
	if err := readRequest(w, r, c); err != nil {
		writeError(w, r, err)
		return
	}
	c.req = unspoof.ScreenRequest{From: c.in.From, To: c.in.To, Identity: c.in.Identity, Ingress: c.in.Ingress,
		SourceIP: c.in.SourceIP, Trunk: c.in.Trunk, CallID: c.in.CallID}
	v := &c.v
	if si, ok := s.Screener.(verdictInto); ok {
		si.ScreenInto(r.Context(), &c.req, v)
	} else {
		v = s.Screener.Screen(r.Context(), &c.req)
	}
	c.out = appendVerdict(c.out, c.in.CallID, v)
	w.Header()["Content-Type"] = jsonContentType // net/http adds Content-Length: the answer is small
	w.Write(c.out)
}

var jsonContentType = []string{"application/json"}

// readRequest reads and checks a POST /v1/screen body into c.in.
func readRequest(w http.ResponseWriter, r *http.Request, c *call) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return errUnsupported
	}
	if r.ContentLength > MaxRequestBytes {
		return errTooLarge
	}
	c.limit = io.LimitedReader{R: r.Body, N: MaxRequestBytes + 1}
	_, err := c.body.ReadFrom(&c.limit)
	c.limit.R = nil
	if err != nil {
		return unspoof.Errorf(unspoof.EINVALID, "reading the request: %v", err)
	}
	if c.body.Len() > MaxRequestBytes {
		return errTooLarge
	}
	if err := decodeRequest(c.body.Bytes(), &c.in); errors.Is(err, errMoreThanOne) {
		return unspoof.Errorf(unspoof.EINVALID, "the request has more than one JSON value")
	} else if err != nil {
		return unspoof.Errorf(unspoof.EINVALID, "the request is not a screening request in JSON: %v", err)
	}
	in := &c.in
	switch {
	case in.From == "":
		return unspoof.Errorf(unspoof.EINVALID, `"from" is required (use "anonymous" for a withheld number)`)
	case in.To == "":
		return unspoof.Errorf(unspoof.EINVALID, `"to" is required`)
	case in.Ingress != "" && in.Ingress != unspoof.IngressDomestic && in.Ingress != unspoof.IngressInternational:
		return unspoof.Errorf(unspoof.EINVALID, `"ingress" must be "domestic" or "international", not %q`, in.Ingress)
	case len(in.Identity) > 16:
		return unspoof.Errorf(unspoof.EINVALID, `"identity" has %d values; at most 16 are read`, len(in.Identity))
	}
	if in.SourceIP != "" {
		if _, err := netip.ParseAddr(in.SourceIP); err != nil {
			return unspoof.Errorf(unspoof.EINVALID, `"source_ip" %q is not an IP address`, in.SourceIP)
		}
	}
	for _, id := range in.Identity {
		if id == "" {
			return unspoof.Errorf(unspoof.EINVALID, `"identity" has an empty value`)
		}
	}
	return nil
}

func isJSON(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/json")
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	type list struct {
		Version string `json:"version"`
		Entries int    `json:"entries"`
	}
	health := struct {
		Status string `json:"status"`
		DNO    *list  `json:"dno,omitempty"`
		Egress *list  `json:"egress,omitempty"`
	}{Status: "ok"}
	if e, ok := s.Screener.(*Engine); ok {
		health.DNO = &list{e.DNO().Version(), e.DNO().Len()}
		health.Egress = &list{e.Egress().Version(), e.Egress().Len()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(health)
}

// Errors of the HTTP edge itself.
var (
	errMethod      = &unspoof.Error{Code: "method_not_allowed", Message: "method not allowed here (see the Allow header)"}
	errTooLarge    = &unspoof.Error{Code: "too_large", Message: "request body over 64 KiB"}
	errUnsupported = &unspoof.Error{Code: "unsupported_media_type", Message: "the request must be application/json"}
)

// ErrorJSON is the body of every error response.
type ErrorJSON struct {
	Error   string `json:"error"`   // a code: invalid, not_found, method_not_allowed, too_large, unsupported_media_type, internal
	Message string `json:"message"` // for people
}

// writeError is the one way the server answers with an error: the error's code chooses the
// status; the body is an ErrorJSON.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := unspoof.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case unspoof.EINVALID:
		status = http.StatusBadRequest
	case unspoof.ENOTFOUND:
		status = http.StatusNotFound
	case unspoof.ECONFLICT:
		status = http.StatusConflict
	case unspoof.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case errMethod.Code:
		status = http.StatusMethodNotAllowed
	case errTooLarge.Code:
		status = http.StatusRequestEntityTooLarge
		w.Header().Set("Connection", "close") // the rest of the body is left unread
	case errUnsupported.Code:
		status = http.StatusUnsupportedMediaType
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ErrorJSON{Error: code, Message: unspoof.ErrorMessage(err)})
}

// appendVerdict appends v as a VerdictJSON object, without reflection or allocation.
func appendVerdict(b []byte, callID string, v *unspoof.Verdict) []byte {
	b = append(b, `{"call_id":`...)
	b = appendString(b, callID)
	b = append(b, `,"action":`...)
	b = appendString(b, v.Action)
	b = append(b, `,"reasons":[`...)
	for i := range v.Reasons {
		r := &v.Reasons[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendString(b, r.Code)
		b = append(b, `,"rule":`...)
		b = appendString(b, r.Rule)
		b = append(b, `,"detail":`...)
		b = appendString(b, r.Detail)
		b = append(b, `,"report_only":`...)
		b = strconv.AppendBool(b, r.ReportOnly)
		b = append(b, '}')
	}
	b = append(b, `],"verstat":`...)
	b = appendString(b, v.Verstat)
	b = append(b, `,"attest":`...)
	b = appendString(b, v.Attest)
	b = append(b, `,"origid":`...)
	b = appendString(b, v.OrigID)
	b = append(b, `,"spc":`...)
	b = appendString(b, v.SPC)
	b = append(b, `,"from":`...)
	b = appendString(b, v.From)
	b = append(b, `,"to":`...)
	b = appendString(b, v.To)
	b = append(b, `,"failed_open":`...)
	b = strconv.AppendBool(b, v.FailedOpen)
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, v.Latency.Microseconds(), 10)
	return append(b, "}\n"...)
}

// appendString appends s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD, and <, >, & escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			case '\u2028':
				b = append(b, `\u2028`...)
			default:
				b = append(b, `\u2029`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
