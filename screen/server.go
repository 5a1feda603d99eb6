package screen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/unspoof/unspoof"
)

// MaxRequestBytes is the largest request body POST /v1/screen reads: room for several Identity
// headers.
const MaxRequestBytes = 64 << 10

// maxHeaderBytes is the most a request's line and headers may hold.
const maxHeaderBytes = 16 << 10

// maxReadBytes is the most of a body fasthttp reads before giving up on the request. Bodies
// between MaxRequestBytes and it are read whole and refused (413), so that a client still
// writing one sees the answer rather than a reset connection, as net/http reads up to 256 KiB
// of a body it refuses before closing.
const maxReadBytes = 256 << 10

// The HTTP servers a Server can run (Server.HTTP).
const (
	// FastHTTP is github.com/valyala/fasthttp, the default: on a 2-core machine it answers
	// about 1.5 times the verdicts a second of net/http (docs/performance.md). POST /v1/screen is
	// its own handler; the other routes are the net/http Handler, through fasthttpadaptor.
	FastHTTP = "fasthttp"
	// NetHTTP is the standard library's net/http: HTTP/1.1 as Go itself reads it, slower.
	NetHTTP = "net/http"
)

// Server serves a Screener over HTTP/JSON (docs/api/screen.openapi.json):
//
//	POST /v1/screen  a call (ScreenRequestJSON) in, its verdict (VerdictJSON) out
//	GET  /healthz    200 and the lists in use, as soon as the server answers
//	GET  /metrics    Prometheus metrics of Gatherer
//
// Either HTTP server answers the same. Set the fields, then Open; Close stops it.
type Server struct {
	Addr     string              // where to listen, e.g. "127.0.0.1:8080"; ":0" picks a free port
	Screener unspoof.Screener    // what decides; an *Engine screens without allocating verdicts
	Gatherer prometheus.Gatherer // served at /metrics; nil: no /metrics
	Logger   *slog.Logger        // nil: discard
	HTTP     string              // FastHTTP ("": the default) or NetHTTP

	ln    net.Listener
	srv   *http.Server     // NetHTTP
	fast  *fasthttp.Server // FastHTTP
	other fasthttp.RequestHandler
	done  chan error
}

// Timeouts of both servers.
const (
	readHeaderTimeout = 5 * time.Second  // net/http only: fasthttp has the one ReadTimeout
	readTimeout       = 10 * time.Second // the whole request, from its first byte
	writeTimeout      = 10 * time.Second
	idleTimeout       = 2 * time.Minute // between requests on a kept-alive connection
)

// Open listens on s.Addr and serves in the background: once it returns, requests are answered.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.HTTP != "" && s.HTTP != FastHTTP && s.HTTP != NetHTTP {
		return unspoof.Errorf(unspoof.EINVALID, "unknown HTTP server %q (%s or %s)", s.HTTP, FastHTTP, NetHTTP)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.done = make(chan error, 1)
	if s.HTTP == NetHTTP {
		s.srv = &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
		}
		go func() {
			err := s.srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			s.done <- err
		}()
		return nil
	}
	s.other = fasthttpadaptor.NewFastHTTPHandler(s.Handler())
	s.fast = &fasthttp.Server{
		Handler:               s.serveFast,
		ErrorHandler:          s.fastError,
		NoDefaultServerHeader: true,           // as net/http: no Server header
		ReadBufferSize:        maxHeaderBytes, // fasthttp reads a request's headers into it whole
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           idleTimeout,
		MaxRequestBodySize:    maxReadBytes, // verdict refuses what is over MaxRequestBytes
		CloseOnShutdown:       true,         // answers given while stopping say Connection: close
		Logger:                fastLogger{s.Logger},
	}
	go func() { s.done <- s.fast.Serve(ln) }()
	return nil
}

// URL is the server's base URL ("http://127.0.0.1:41233"), once open.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server: it stops listening, closes idle connections and waits up to ctx's end
// for requests being answered.
func (s *Server) Close(ctx context.Context) error {
	var err error
	switch {
	case s.srv != nil:
		err = s.srv.Shutdown(ctx)
	case s.fast != nil:
		err = s.fast.ShutdownWithContext(ctx)
	default:
		return nil
	}
	select {
	case e := <-s.done:
		if err == nil {
			err = e
		}
	case <-ctx.Done():
	}
	return err
}

// Handler returns the server's routes on net/http, for tests or to mount them elsewhere. The
// FastHTTP server serves POST /v1/screen itself and the rest through this handler.
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
				writeError(w, unspoof.Errorf(unspoof.ENOTFOUND, "no metrics here"))
				return
			}
			w.Header().Set("Allow", allow)
			writeError(w, errMethod)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, unspoof.Errorf(unspoof.ENOTFOUND, "no such path: %s (see docs/api/screen.openapi.json)", r.URL.Path))
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

// release puts c back in callPool, unless it grew too large to keep.
func (c *call) release() {
	if c.body.Cap() > MaxRequestBytes || cap(c.out) > 1<<16 {
		return
	}
	c.body.Reset()
	clear(c.in.Identity[:cap(c.in.Identity)]) // let the strings go
	c.in = ScreenRequestJSON{Identity: c.in.Identity[:0]}
	c.out = c.out[:0]
	callPool.Put(c)
}

// verdictInto is what an *Engine offers beyond unspoof.Screener.
type verdictInto interface {
	ScreenInto(ctx context.Context, r *unspoof.ScreenRequest, v *unspoof.Verdict)
}

// verdict reads body, a POST /v1/screen request, screens the call and leaves the answer, a
// VerdictJSON, in c.out. Both HTTP servers' handlers end here.
func (s *Server) verdict(ctx context.Context, c *call, body []byte) error {
	if len(body) > MaxRequestBytes {
		return errTooLarge
	}
	if err := readRequest(body, &c.in); err != nil {
		return err
	}
	c.req = unspoof.ScreenRequest{From: c.in.From, To: c.in.To, Identity: c.in.Identity, Ingress: c.in.Ingress,
		SourceIP: c.in.SourceIP, Trunk: c.in.Trunk, CallID: c.in.CallID}
	v := &c.v
	if si, ok := s.Screener.(verdictInto); ok {
		si.ScreenInto(ctx, &c.req, v)
	} else {
		v = s.Screener.Screen(ctx, &c.req)
	}
	c.out = appendVerdict(c.out[:0], c.in.CallID, v)
	return nil
}

// handleScreen is POST /v1/screen on net/http.
func (s *Server) handleScreen(w http.ResponseWriter, r *http.Request) {
	c := callPool.Get().(*call)
	defer c.release()
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		writeError(w, errUnsupported)
		return
	}
	if r.ContentLength > MaxRequestBytes {
		writeError(w, errTooLarge)
		return
	}
	c.limit = io.LimitedReader{R: r.Body, N: MaxRequestBytes + 1}
	_, err := c.body.ReadFrom(&c.limit)
	c.limit.R = nil
	if err == nil {
		err = s.verdict(r.Context(), c, c.body.Bytes())
	} else {
		err = unspoof.Errorf(unspoof.EINVALID, "reading the request: %v", err)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header()["Content-Type"] = jsonContentType // net/http adds Content-Length: the answer is small
	w.Write(c.out)
}

var jsonContentType = []string{"application/json"}

// serveFast is the FastHTTP server's handler: POST /v1/screen itself, the rest through the
// net/http Handler.
func (s *Server) serveFast(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() || string(ctx.Path()) != "/v1/screen" {
		s.other(ctx)
		return
	}
	c := callPool.Get().(*call)
	defer c.release()
	if ct := ctx.Request.Header.ContentType(); len(ct) != 0 && !isJSON(ct) {
		writeFastError(ctx, errUnsupported)
		return
	}
	// fasthttp has read the body whole, refusing one over maxReadBytes (fastError). The
	// engine gets a context of its own: a RequestCtx's Done is the server's stop, not the
	// client's leaving, and a deadline under it would cost a goroutine.
	if err := s.verdict(context.Background(), c, ctx.Request.Body()); err != nil {
		writeFastError(ctx, err)
		return
	}
	ctx.Response.Header.SetContentTypeBytes(jsonType)
	ctx.Response.SetBody(c.out)
}

var jsonType = []byte("application/json")

// fastError answers a request fasthttp could not read, in the one error format.
func (s *Server) fastError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		err = errTooLarge
	case errors.As(err, &small):
		err = errHeaderTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		err = errTimeout
	default:
		err = unspoof.Errorf(unspoof.EINVALID, "not an HTTP/1.1 request: %v", err)
	}
	writeFastError(ctx, err)
}

// fastLogger writes fasthttp's messages as warnings. Those about a request it could not read
// quote the request, which may hold phone numbers: at warning level the quote is cut and every
// number is masked (Mask); the message as fasthttp wrote it is logged at debug level.
type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if err, ok := args[len(args)-1].(error); ok && len(args) == 3 && strings.HasPrefix(format, "error when serving connection") {
		f.l.Warn("HTTP request not served", "remote", fmt.Sprint(args[1]), "err", redact(err.Error()))
	} else {
		f.l.Warn(redact(msg))
	}
	f.l.Debug(msg)
}

// numberLike is what redact masks: digits, maybe with spaces, dashes and brackets between them
// (not dots: IP addresses stay).
var numberLike = regexp.MustCompile(`\+?\d[\d \-()]*\d`)

// redact cuts a fasthttp error message before the request it quotes and masks every run of seven
// digits or more in what is left.
func redact(msg string) string {
	if i := strings.Index(msg, ": buffer size="); i >= 0 {
		msg = msg[:i]
	}
	return numberLike.ReplaceAllStringFunc(msg, func(n string) string {
		digits := 0
		for _, c := range n {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if digits < 7 {
			return n
		}
		return Mask(n)
	})
}

// readRequest decodes and checks a POST /v1/screen body into in.
func readRequest(body []byte, in *ScreenRequestJSON) error {
	if err := decodeRequest(body, in); errors.Is(err, errMoreThanOne) {
		return unspoof.Errorf(unspoof.EINVALID, "the request has more than one JSON value")
	} else if err != nil {
		return unspoof.Errorf(unspoof.EINVALID, "the request is not a screening request in JSON: %v", err)
	}
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

// isJSON reports whether the Content-Type ct is application/json, parameters aside.
func isJSON[T string | []byte](ct T) bool {
	const want = "application/json"
	for i := range len(ct) {
		if ct[i] == ';' {
			ct = ct[:i]
			break
		}
	}
	for len(ct) > 0 && isSpace(ct[0]) {
		ct = ct[1:]
	}
	for len(ct) > 0 && isSpace(ct[len(ct)-1]) {
		ct = ct[:len(ct)-1]
	}
	if len(ct) != len(want) {
		return false
	}
	for i := range len(want) {
		c := ct[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
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
	errMethod         = &unspoof.Error{Code: "method_not_allowed", Message: "method not allowed here (see the Allow header)"}
	errTooLarge       = &unspoof.Error{Code: "too_large", Message: "request body over 64 KiB"}
	errHeaderTooLarge = &unspoof.Error{Code: "too_large", Message: "request line and headers over 16 KiB"} // 431
	errUnsupported    = &unspoof.Error{Code: "unsupported_media_type", Message: "the request must be application/json"}
	errTimeout        = &unspoof.Error{Code: unspoof.EINVALID, Message: "the request did not arrive within 10 s"} // 408
)

// ErrorJSON is the body of every error response.
type ErrorJSON struct {
	Error   string `json:"error"`   // a code: invalid, not_found, method_not_allowed, too_large, unsupported_media_type, internal
	Message string `json:"message"` // for people
}

// errorStatus is the HTTP status of err: its code chooses, but for a few errors of the HTTP
// edge. closeConn is set when the connection cannot serve another request.
func errorStatus(err error) (status int, closeConn bool) {
	switch err {
	case errHeaderTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge, true
	case errTimeout:
		return http.StatusRequestTimeout, true
	}
	switch unspoof.ErrorCode(err) {
	case unspoof.EINVALID:
		return http.StatusBadRequest, false
	case unspoof.ENOTFOUND:
		return http.StatusNotFound, false
	case unspoof.ECONFLICT:
		return http.StatusConflict, false
	case unspoof.EUNAUTHORIZED:
		return http.StatusUnauthorized, false
	case errMethod.Code:
		return http.StatusMethodNotAllowed, false
	case errTooLarge.Code:
		return http.StatusRequestEntityTooLarge, true // the rest of the body is left unread
	case errUnsupported.Code:
		return http.StatusUnsupportedMediaType, false
	}
	return http.StatusInternalServerError, false
}

// writeError is the one way the net/http server answers with an error: errorStatus chooses the
// status; the body is an ErrorJSON.
func writeError(w http.ResponseWriter, err error) {
	status, closeConn := errorStatus(err)
	if closeConn {
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ErrorJSON{Error: unspoof.ErrorCode(err), Message: unspoof.ErrorMessage(err)})
}

// writeFastError is writeError on fasthttp.
func writeFastError(ctx *fasthttp.RequestCtx, err error) {
	status, closeConn := errorStatus(err)
	ctx.Response.Reset()
	if closeConn {
		ctx.SetConnectionClose()
	}
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(jsonType)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(ctx).Encode(ErrorJSON{Error: unspoof.ErrorCode(err), Message: unspoof.ErrorMessage(err)})
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
