// Package server is apikey's HTTP verification endpoint: /v1/me for an API
// that asks whose key it was given, /v1/auth for a gateway's forward-auth,
// /healthz. Verifying never writes to the store: answers come from a cache
// that a watcher keeps right by following the audit trail, and last-used
// times are written in batches. docs/serve.md explains the mechanism.
package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/valyala/fasthttp"
)

// Defaults of Options.
const (
	DefaultPollInterval    = 250 * time.Millisecond
	DefaultFlushInterval   = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultCacheSize       = 1 << 17
	DefaultKeyHeader       = "X-Api-Key"
	DefaultCompanyHeader   = "X-Company"

	// MaxHeaderBytes bounds a request's line and header block together; a
	// larger one is answered 431 before any handler runs.
	MaxHeaderBytes = 16 << 10
	// MaxBodyBytes bounds a request's body, which no endpoint reads (a
	// gateway may forward one to /v1/auth); a larger one is answered 413.
	MaxBodyBytes = 64 << 10
)

// Store is what the server needs of the store: to look a secret up, to
// learn what changed, and to record last uses. *store.Store has it on every
// engine.
type Store interface {
	LookupSecret(ctx context.Context, h apikey.Hash) (store.Presented, bool, error)
	LastChange(ctx context.Context) (int64, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]apikey.Event, error)
	TouchKeys(ctx context.Context, used []store.KeyUse) error
	// Listen tells changed of each change at once where the store can
	// (PostgreSQL), and reports whether it can.
	Listen(ctx context.Context, changed func(), up func(bool)) bool
}

// Options configure a Server.
type Options struct {
	Store         Store
	Addr          string // host:port to listen on; port 0 picks a free one
	KeyHeader     string // header carrying the key (default X-Api-Key)
	CompanyHeader string // header carrying the company id (default X-Company)
	Log           io.Writer
	Now           func() time.Time // the clock keys are judged and rate-limited by (tests); default the system's
	// TrustedProxies are the peers whose X-Forwarded-For or X-Real-IP
	// gives the client's address (config serve.trusted_proxies).
	TrustedProxies []netip.Prefix

	// The log (nothing when Log is nil) is in LogFormat (LogText, the
	// default, or LogJSON), from LogLevel up (default info: every request).
	LogFormat string
	LogLevel  slog.Level

	// DisableMetrics turns GET /metrics off (404) and counts nothing.
	DisableMetrics bool

	// NoPreload keeps the server from loading every key into memory
	// (config serve.preload false): it answers from its cache, bounded
	// by CacheSize, and the store.
	NoPreload bool

	// StaleFor is how long past its last successful look at the store the
	// server keeps answering from its cache while looks fail (the store
	// cannot be read). It is never less than three poll intervals, which is
	// all that a zero StaleFor gives. docs/serve.md discusses the choice.
	StaleFor time.Duration

	// PollInterval is how often the store's audit trail is checked for
	// changes. While checks succeed, a change takes effect within three
	// intervals at worst (a check that takes longer fails); when none
	// succeeded for StaleFor (at least three intervals), the cache is
	// bypassed.
	PollInterval time.Duration
	// FlushInterval is how often last-used times are written.
	FlushInterval time.Duration
	// ShutdownTimeout bounds how long requests under way may take to finish.
	ShutdownTimeout time.Duration
	// CacheSize bounds the number of secrets kept in memory.
	CacheSize int
}

// Server answers verification requests for the keys of one store.
type Server struct {
	store         Store
	addr          string
	keyHeader     string
	companyHeader string
	now           func() time.Time // nil: the time a request came in
	poll          time.Duration
	flushEvery    time.Duration
	rest          func(context.Context, time.Duration) // pause, unless a test records the rests
	shutdown      time.Duration
	staleFor      time.Duration

	cache   *cache
	pending *usage
	log     *serverLog
	logger  *slog.Logger // the server's own lines
	metrics *metrics     // nil when off

	trustedProxies []netip.Prefix
	limiters       *limiters

	// seen is the sequence number of the last event the cache accounts
	// for; -1 before the first look at the store.
	seen atomic.Int64
	// storeDown is set while the store cannot be read; /healthz says so.
	storeDown atomic.Bool
	// lastLook is when the last successful look at the store began, on
	// the cache's clock; 0 (the server's start) before the first.
	lastLook atomic.Int64
	// reported is the health the log last told of (the watcher's alone).
	reported string
	// legacy is how many legacy secrets the store holds, legacyUnknown
	// until counted (legacy.go).
	legacy atomic.Int64
	// changed asks the watcher for a look at the store now, rather than at
	// its next tick: a notification said that something changed.
	changed chan struct{}

	// lister loads directories (loader.go): the store, nil when it cannot
	// list its secrets or preloading is off. reload asks the loader for a
	// directory, which it hands to the watcher through loaded; loading is
	// set from the ask until the watcher took it in.
	lister  secretLister
	reload  chan struct{}
	loaded  chan *directory
	loading atomic.Bool

	mu    sync.Mutex
	ln    net.Listener
	conns connections

	// inHandler, when set, runs at the start of every request (tests).
	inHandler func(*fasthttp.RequestCtx)
}

// New returns a server; Run (or Listen, then Run) starts it. Handler alone
// also serves correctly, without the cache, since only Run watches the store.
func New(o Options) *Server {
	s := &Server{
		store:         o.Store,
		addr:          o.Addr,
		keyHeader:     textproto.CanonicalMIMEHeaderKey(orDefault(o.KeyHeader, DefaultKeyHeader)),
		companyHeader: textproto.CanonicalMIMEHeaderKey(orDefault(o.CompanyHeader, DefaultCompanyHeader)),
		now:           o.Now,
		poll:          o.PollInterval,
		flushEvery:    o.FlushInterval,
		rest:          pause,
		shutdown:      o.ShutdownTimeout,
		pending:       &usage{},
		staleFor:      o.StaleFor,
		changed:       make(chan struct{}, 1),
		log:           newServerLog(o.Log, o.LogFormat, o.LogLevel),
		reported:      healthOK,
	}
	s.logger = s.log.logger
	s.seen.Store(-1)
	s.legacy.Store(legacyUnknown)
	if s.poll <= 0 {
		s.poll = DefaultPollInterval
	}
	if s.flushEvery <= 0 {
		s.flushEvery = DefaultFlushInterval
	}
	if s.shutdown <= 0 {
		s.shutdown = DefaultShutdownTimeout
	}
	size := o.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	s.cache = newCache(size, max(size/8, 1024), s.pending)
	if !o.DisableMetrics {
		s.metrics = newMetrics(s)
	}
	if lister, ok := o.Store.(secretLister); ok && !o.NoPreload {
		s.lister = lister
		s.reload, s.loaded = make(chan struct{}, 1), make(chan *directory, 1)
	}
	s.trustedProxies = o.TrustedProxies
	s.limiters = newLimiters(size)
	return s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Listen binds the server's address, so that Addr can tell a port picked by
// the system before Run serves on it.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return apikey.Runtimef("cannot listen on %s: %v", s.addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on, once Listen succeeded.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return s.addr
	}
	return s.ln.Addr().String()
}

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting, lets requests under way finish (for at most ShutdownTimeout),
// and writes the last-used times still pending.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	// A first look at the store before serving, so that the cache works
	// from the first request and a store that cannot be read is reported;
	// then the keys are loaded, also before serving (loader.go).
	s.watchOnce(ctx)
	s.loadBeforeServing(ctx)
	hs := s.httpServer()
	bg, stopBG := context.WithCancel(context.Background())
	s.store.Listen(bg, s.notified, s.listening)
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(bg) })
	wg.Go(func() { s.flushLoop(bg) })
	wg.Go(func() { s.log.flushLoop(bg) })
	if s.lister != nil {
		wg.Go(func() { s.loadLoop(bg) })
	}

	served := make(chan error, 1)
	go func() { served <- serveOn(hs, s.ln) }()
	var err error
	select {
	case err = <-served:
		err = apikey.Runtimef("serving on %s failed: %v", s.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
		if serr := hs.ShutdownWithContext(sctx); serr != nil {
			s.conns.closeAll()
			err = apikey.Runtimef("requests still under way after %s were cut off", s.shutdown)
		}
		cancel()
		<-served
	}
	stopBG()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ferr := s.flush(fctx); ferr != nil && err == nil {
		err = apikey.Runtimef("cannot write last-used times: %v", ferr)
	}
	s.log.flush()
	return err
}
