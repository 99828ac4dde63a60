package server

// The HTTP layer under the handler: fasthttp, the limits of docs/serve.md
// ("Limits and timeouts"), the answers to requests that cannot be read, and
// how connections are closed and, at a shutdown that runs out of time, cut.

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	// How long reading a request (from its first byte, body included),
	// writing an answer, and waiting for a keep-alive connection's next
	// request may take.
	readTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
	idleTimeout  = 2 * time.Minute
)

// Bound sets on fs the limits of docs/serve.md ("Limits and timeouts") and
// how a request that breaks them, or that cannot be parsed, is answered: in
// JSON, as any other refusal, before any handler runs. bench/serve gives
// them to its shaped do-nothing server too.
func Bound(fs *fasthttp.Server) {
	fs.ReadBufferSize = MaxHeaderBytes
	fs.MaxRequestBodySize = MaxBodyBytes
	fs.ReadTimeout = readTimeout
	fs.WriteTimeout = writeTimeout
	fs.IdleTimeout = idleTimeout
	fs.ErrorHandler = badRequest
	fs.NoDefaultServerHeader = true
	// What a request that could not be parsed held may be a secret: the
	// server's complaints about it must not quote it.
	fs.SecureErrorLogMessage = true
	fs.CloseOnShutdown = true
}

// httpServer is the HTTP server that Run serves s's handler with, through
// serveOn.
func (s *Server) httpServer() *fasthttp.Server {
	hs := &fasthttp.Server{Handler: s.Handler(), Logger: s.log.connectionLog(), ConnState: s.conns.track}
	Bound(hs)
	return hs
}

// serveOn serves hs on ln until hs is shut down, closing connections as
// net/http does (lingering).
func serveOn(hs *fasthttp.Server, ln net.Listener) error { return hs.Serve(lingering{ln}) }

// lingerFor is how long a connection the server closes stays open for
// reading, as net/http's rstAvoidanceDelay.
const lingerFor = 500 * time.Millisecond

// lingering is a listener whose connections, when the server closes them,
// stop writing and take in what the client still sends for a moment before
// they close, as net/http's do. A socket closed with unread data is reset by
// the kernel, and the client may then lose the answer it was just sent: a
// 431 to a request whose header block it is still writing.
type lingering struct{ net.Listener }

func (l lingering) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &lingeringConn{TCPConn: tc}, nil
	}
	return c, err
}

type lingeringConn struct {
	*net.TCPConn
	once sync.Once
}

// Close returns at once; the socket closes when the client has closed its
// side or after lingerFor.
func (c *lingeringConn) Close() error {
	c.once.Do(func() {
		c.CloseWrite()
		c.SetReadDeadline(time.Now().Add(lingerFor))
		go func() {
			io.Copy(io.Discard, c.TCPConn)
			c.TCPConn.Close()
		}()
	})
	return nil
}

// badRequest answers a request that could not be read: its header block is
// too large (431), its body is (413), it took too long (408), or it is not
// HTTP (400).
func badRequest(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		answer(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, headerTooLargeBody)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		answer(ctx, fasthttp.StatusRequestEntityTooLarge, bodyTooLargeBody)
	case errors.As(err, &netErr) && netErr.Timeout():
		answer(ctx, fasthttp.StatusRequestTimeout, timeoutBody)
	default:
		answer(ctx, fasthttp.StatusBadRequest, badRequestBody)
	}
}

// connections are the server's open connections, so that those still
// under way when the graceful shutdown's time is up can be cut: fasthttp
// leaves them running.
type connections struct {
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

// track is the HTTP server's ConnState hook.
func (c *connections) track(conn net.Conn, state fasthttp.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case fasthttp.StateNew:
		if c.open == nil {
			c.open = map[net.Conn]struct{}{}
		}
		c.open[conn] = struct{}{}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(c.open, conn)
	}
}

func (c *connections) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.open {
		conn.Close()
	}
}
