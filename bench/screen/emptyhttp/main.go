// Command emptyhttp is bench/screen/run.sh's baseline: an HTTP server whose every answer is the
// same verdict, written without reading the request or screening anything. What it sustains is
// the ceiling of an HTTP server (net/http or fasthttp, with the timeouts and limits unspoof
// screen serve gives them: screen.Server.Open) on the machine, whatever the handler does.
//
// Usage: emptyhttp -server fasthttp|net/http -addr 127.0.0.1:0
//
// It prints "emptyhttp on http://ADDR" on standard error once it answers, and serves until
// killed.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/valyala/fasthttp"
)

// verdict is an answer of POST /v1/screen as unspoof gives it, so that the bytes written match.
const verdict = `{"call_id":"bench-12345","action":"allow","reasons":[],"verstat":"No-TN-Validation","attest":"","origid":"","spc":"","from":"+447400112345","to":"+447400912345","failed_open":false,"latency_us":1}` + "\n"

func main() {
	server := flag.String("server", "fasthttp", "fasthttp or net/http")
	addr := flag.String("addr", "127.0.0.1:0", "where to listen")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emptyhttp:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "emptyhttp on http://%s (%s)\n", ln.Addr(), *server)
	body := []byte(verdict)
	switch *server {
	case "fasthttp":
		s := &fasthttp.Server{NoDefaultServerHeader: true, ReadBufferSize: 16 << 10, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxRequestBodySize: 256 << 10, CloseOnShutdown: true,
			Handler: func(ctx *fasthttp.RequestCtx) {
				ctx.Response.Header.SetContentType("application/json")
				ctx.Response.SetBody(body)
			}}
		err = s.Serve(ln)
	case "net/http":
		s := &http.Server{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) // net/http would read the rest itself
				w.Header()["Content-Type"] = []string{"application/json"}
				w.Write(body)
			})}
		err = s.Serve(ln)
	default:
		err = fmt.Errorf("-server %q: fasthttp or net/http", *server)
	}
	fmt.Fprintln(os.Stderr, "emptyhttp:", err)
	os.Exit(1)
}
