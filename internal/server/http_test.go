package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// testServer serves a Server's handler over real connections, with the
// limits Run gives it, but without Run's watcher and flushes: what
// httptest.NewServer does for a net/http handler.
type testServer struct {
	URL string
	hs  *fasthttp.Server
}

func newTestServer(t testing.TB, s *Server) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.httpServer()
	go serveOn(hs, ln)
	ts := &testServer{URL: "http://" + ln.Addr().String(), hs: hs}
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) Close() { ts.hs.Shutdown() }

// record answers r, a request as net/http would hand it to a handler, with
// s's handler, without a network, and returns the answer: r.RemoteAddr is
// the connection's peer, and a header given more than once is sent so.
func record(s *Server, r *http.Request) *httptest.ResponseRecorder {
	ctx := requestCtx(r)
	s.Handler()(ctx)
	w := httptest.NewRecorder()
	for k, v := range ctx.Response.Header.All() {
		w.Header().Add(string(k), string(v))
	}
	w.WriteHeader(ctx.Response.StatusCode())
	if !strings.EqualFold(r.Method, http.MethodHead) {
		w.Write(ctx.Response.Body())
	}
	return w
}

// requestCtx is r as fasthttp hands a request to a handler.
func requestCtx(r *http.Request) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	req.Header.SetHost(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	var peer net.Addr = &net.TCPAddr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = net.TCPAddrFromAddrPort(ap)
	}
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, peer, nil)
	return ctx
}

// serveAgain answers ctx's request once more, as for a new request on the
// same connection.
func serveAgain(s *Server, ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	s.serve(ctx)
}
