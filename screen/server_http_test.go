package screen_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
)

// conn is a raw HTTP/1.1 client connection to a server, to see what a client library hides:
// connection reuse, pipelining, closes.
type conn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, srv *screen.Server) *conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &conn{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *conn) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response to a request of method, with its body.
func (c *conn) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(b)
}

// closed reports whether the server has closed the connection (nothing more to read).
func (c *conn) closed() bool {
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

func screenPOST(body string) string {
	return fmt.Sprintf("POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

const callBody = `{"from":"+443005551234","to":"+447400999888","call_id":"k"}`

// TestServerHTTP: what HTTP clients notice, alike on both servers: keep-alive and pipelined
// requests on one connection, a chunked body over the limit, headers over the limit, a request
// that is not HTTP, HEAD, Content-Type parameters.
func TestServerHTTP(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			e, _ := setup(t, screen.Config{})
			srv := openServer(t, impl, e)

			// Keep-alive: requests one after the other, then three pipelined, on one connection.
			c := dial(t, srv)
			for i := range 3 {
				c.send(screenPOST(callBody))
				resp, body := c.read("POST")
				if resp.StatusCode != 200 || resp.Close || !strings.Contains(body, `"action":"block"`) {
					t.Fatalf("request %d on one connection: %s close=%v %s", i, resp.Status, resp.Close, body)
				}
			}
			c.send(screenPOST(callBody) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + screenPOST(`{"from":"+447400123456","to":"+447400999888"}`))
			for i, want := range []string{`"action":"block"`, `"status":"ok"`, `"action":"allow"`} {
				resp, body := c.read("POST")
				if resp.StatusCode != 200 || !strings.Contains(body, want) {
					t.Errorf("pipelined request %d: %s %s", i, resp.Status, body)
				}
			}

			// A chunked body over 64 KiB (no Content-Length to refuse it by): 413, and the
			// connection is closed, its rest unread.
			c = dial(t, srv)
			chunk := strings.Repeat("1", 16<<10)
			var req strings.Builder
			req.WriteString("POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
			req.WriteString(fmt.Sprintf("%x\r\n{\"from\":\"\r\n", len(`{"from":"`)))
			for range 5 {
				req.WriteString(fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk))
			}
			req.WriteString("0\r\n\r\n")
			c.send(req.String())
			resp, body := c.read("POST")
			var ej screen.ErrorJSON
			if json.Unmarshal([]byte(body), &ej); resp.StatusCode != 413 || ej.Error != "too_large" || !resp.Close {
				t.Errorf("chunked 80 KiB: %s close=%v %s", resp.Status, resp.Close, body)
			}
			if !c.closed() {
				t.Error("the connection stays open after 413")
			}

			// A client writing a body over 64 KiB (up to 256 KiB) sees the 413, not a connection
			// reset under its writes (a server closing at once failed ~1 % of these).
			big := `{"from":"` + strings.Repeat("1", 70<<10) + `","to":"1"}`
			for i := range 200 {
				resp, err := http.Post(srv.URL()+"/v1/screen", "application/json", strings.NewReader(big))
				if err != nil {
					t.Fatalf("70 KiB body, request %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 413 || !strings.Contains(string(body), "too_large") {
					t.Fatalf("70 KiB body: %s %s", resp.Status, body)
				}
			}

			// Headers over 16 KiB: 431 (net/http answers it in plain text).
			c = dial(t, srv)
			c.send("POST /v1/screen HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\nContent-Length: 2\r\n\r\n{}")
			if resp, body := c.read("POST"); resp.StatusCode != 431 {
				t.Errorf("40 KiB header: %s %s", resp.Status, body)
			}

			// Not HTTP: 400.
			c = dial(t, srv)
			c.send("HELLO\r\n\r\n")
			if resp, body := c.read("GET"); resp.StatusCode != 400 {
				t.Errorf("not HTTP: %s %s", resp.Status, body)
			}

			// Expect: 100-continue (curl sends it for bodies over 1 KiB): 100, then the verdict.
			c = dial(t, srv)
			c.send(fmt.Sprintf("POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(callBody)))
			if resp, body := c.read("POST"); resp.StatusCode != 100 {
				t.Errorf("Expect: 100-continue: %s %s", resp.Status, body)
			}
			c.send(callBody)
			if resp, body := c.read("POST"); resp.StatusCode != 200 || !strings.Contains(body, `"call_id":"k"`) {
				t.Errorf("after 100 Continue: %s %s", resp.Status, body)
			}

			// HEAD /healthz: the headers of GET, no body.
			c = dial(t, srv)
			c.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := c.read("HEAD"); resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("HEAD /healthz: %s %q %v", resp.Status, body, resp.Header)
			}

			// Content-Type is matched without case or parameters.
			for _, ct := range []string{"Application/JSON", " application/json ; charset=utf-8", "application/json;charset=UTF-8"} {
				if resp, body := post(t, srv.URL()+"/v1/screen", ct, callBody); resp.StatusCode != 200 {
					t.Errorf("Content-Type %q: %s %s", ct, resp.Status, body)
				}
			}
			for _, ct := range []string{"application/jsonx", "application/json-seq", "text/json", "application/x-www-form-urlencoded"} {
				if resp, body := post(t, srv.URL()+"/v1/screen", ct, callBody); resp.StatusCode != 415 {
					t.Errorf("Content-Type %q: %s %s", ct, resp.Status, body)
				}
			}
		})
	}
}

// gatedVerifier passes every call, once let through: calls wait on gate.
type gatedVerifier struct {
	gate    chan struct{}
	entered chan struct{} // one value per call waiting
}

func (g *gatedVerifier) VerifyCall(ctx context.Context, identity []string, from, to string) screen.IdentityResult {
	g.entered <- struct{}{}
	<-g.gate
	return passed
}

// TestServerClose: Close stops listening at once, closes idle kept-alive connections, and lets
// the requests being answered finish before it returns; none is dropped.
func TestServerClose(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			v := &gatedVerifier{gate: make(chan struct{}), entered: make(chan struct{}, 4)}
			e, _ := setup(t, screen.Config{Verifier: v})
			srv := &screen.Server{Addr: "127.0.0.1:0", HTTP: impl, Screener: e}
			if err := srv.Open(); err != nil {
				t.Fatal(err)
			}
			addr := strings.TrimPrefix(srv.URL(), "http://")

			// An idle kept-alive connection, and two signed calls in flight, held in the verifier.
			idle := dial(t, srv)
			idle.send(screenPOST(callBody))
			if resp, body := idle.read("POST"); resp.StatusCode != 200 {
				t.Fatalf("%s %s", resp.Status, body)
			}
			signed := `{"from":"+447400123456","to":"+447400999888","identity":["a.b.c;info=<https://x.example/c.pem>"],"call_id":"in-flight"}`
			type answer struct {
				status int
				body   string
				err    error
			}
			answers := make(chan answer, 2)
			for range 2 {
				go func() {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						answers <- answer{err: err}
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second))
					io.WriteString(c, screenPOST(signed))
					resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
					if err != nil {
						answers <- answer{err: err}
						return
					}
					b, err := io.ReadAll(resp.Body)
					answers <- answer{resp.StatusCode, string(b), err}
				}()
			}
			for range 2 {
				<-v.entered
			}

			closed := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				closed <- srv.Close(ctx)
			}()
			// New connections are refused, the idle one is closed, Close waits.
			deadline := time.Now().Add(5 * time.Second)
			for {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("still accepting connections after Close")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if !idle.closed() {
				t.Error("an idle kept-alive connection stays open after Close")
			}
			select {
			case err := <-closed:
				t.Fatalf("Close returned (%v) with requests in flight", err)
			case <-time.After(200 * time.Millisecond):
			}

			close(v.gate)
			for range 2 {
				a := <-answers
				if a.err != nil || a.status != 200 || !strings.Contains(a.body, `"verstat":"TN-Validation-Passed"`) {
					t.Errorf("in-flight request: %d %v %s", a.status, a.err, a.body)
				}
			}
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestServerLoad: under concurrent load on kept-alive connections, every request is answered
// right while the DNO list is replaced, and the metrics count every verdict.
func TestServerLoad(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			e, reg := setup(t, screen.Config{Modes: map[string]screen.Mode{screen.RuleVelocity: screen.ModeOff}})
			srv := &screen.Server{Addr: "127.0.0.1:0", HTTP: impl, Screener: e, Gatherer: reg}
			if err := srv.Open(); err != nil {
				t.Fatal(err)
			}
			defer srv.Close(context.Background())

			const clients, each = 8, 300
			var blocked, allowed, failed atomic.Int64
			var firstErr atomic.Value
			var wg sync.WaitGroup
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
			for range clients {
				wg.Go(func() {
					for range each {
						var v screen.VerdictJSON
						resp, err := client.Post(srv.URL()+"/v1/screen", "application/json", strings.NewReader(callBody))
						if err == nil {
							err = json.NewDecoder(resp.Body).Decode(&v)
							resp.Body.Close()
						}
						switch {
						case err != nil || resp.StatusCode != 200:
							failed.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprint(err))
						case v.Action == unspoof.ActionBlock:
							blocked.Add(1)
						case v.Action == unspoof.ActionAllow:
							allowed.Add(1)
						}
					}
				})
			}
			// Meanwhile, until the clients are done, the DNO list goes without +443005551234 and
			// back.
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			version := 0
			for loading := true; loading; version++ {
				list := "version,v%d\nnumber\n+448001112222\n"
				if version%2 == 1 {
					list = "version,v%d\nnumber\n+443005551234\n"
				}
				if _, err := e.LoadDNO(strings.NewReader(fmt.Sprintf(list, version))); err != nil {
					t.Fatal(err)
				}
				select {
				case <-done:
					loading = false
				case <-time.After(2 * time.Millisecond):
				}
			}
			client.CloseIdleConnections()
			if failed.Load() != 0 || blocked.Load() == 0 || allowed.Load() == 0 || blocked.Load()+allowed.Load() != clients*each {
				t.Errorf("%d failed (first: %v), %d blocked, %d allowed of %d, over %d list versions",
					failed.Load(), firstErr.Load(), blocked.Load(), allowed.Load(), clients*each, version)
			}
			resp, err := http.Get(srv.URL() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{
				fmt.Sprintf(`unspoof_screen_verdicts_total{action="block",reason="dno"} %d`, blocked.Load()),
				fmt.Sprintf(`unspoof_screen_verdicts_total{action="allow",reason="none"} %d`, allowed.Load()),
				fmt.Sprintf(`unspoof_screen_list_info{list="dno",version="v%d"} 1`, version-1),
			} {
				if !strings.Contains(string(b), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServerLogsNoNumbers: a request the server cannot read is answered 400 and logged (by
// fasthttp) without the phone numbers it holds, above debug level.
func TestServerLogsNoNumbers(t *testing.T) {
	t.Parallel()
	for _, impl := range httpServers {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			e, _ := setup(t, screen.Config{})
			srv := &screen.Server{Addr: "127.0.0.1:0", HTTP: impl, Screener: e, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if err := srv.Open(); err != nil {
				t.Fatal(err)
			}
			for _, raw := range []string{
				"POST /v1/screen HTTP/1.1\r\nHost: x\r\nBad header +44 7400 123456\r\nContent-Length: 2\r\n\r\n{}",
				"GARBAGE +447400123456\r\n\r\n",
				"POST /v1/screen HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{\"from\":\"07400123456\"}",
			} {
				c := dial(t, srv)
				c.send(raw)
				if resp, body := c.read("POST"); resp.StatusCode != 400 {
					t.Errorf("%q: %s %s", raw, resp.Status, body)
				}
			}
			srv.Close(context.Background())
			got := logs.String()
			if strings.Contains(strings.NewReplacer(" ", "", `\`, "", `"`, "").Replace(got), "7400123456") {
				t.Errorf("a number in full in the log:\n%s", got)
			}
			if impl == screen.FastHTTP && !strings.Contains(got, `level=WARN msg="HTTP request not served" remote=127.0.0.1:`) {
				t.Errorf("no warning of the requests not served:\n%s", got)
			}
			t.Logf("%s", got)
		})
	}
}
