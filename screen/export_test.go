package screen

import (
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Internals the external tests reach.
var (
	AppendVerdict = appendVerdict
	DecodeRequest = decodeRequest
)

// FastHandler is the FastHTTP server's handler of s, without a listener.
func FastHandler(s *Server) fasthttp.RequestHandler {
	s.other = fasthttpadaptor.NewFastHTTPHandler(s.Handler())
	return s.serveFast
}
