package server

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// metrics are what GET /metrics tells, in a registry of the server's own
// (tests run many servers in one process). What a request changes is a few
// atomic additions; what can be read off the server's state (cache size,
// cache lookups, the store's health) is read when /metrics is asked. A nil
// *metrics (serve.metrics off) records nothing.
type metrics struct {
	registry *prometheus.Registry
	handler  fasthttp.RequestHandler

	requests *prometheus.CounterVec
	// counters caches the counter of each combination of labels seen, so
	// that a request finds its counter without a lock or an allocation.
	counters atomic.Pointer[map[requestLabels]prometheus.Counter]
	mu       sync.Mutex // held to add to counters

	verifyDuration prometheus.Histogram
	storeErrors    [storeOps]prometheus.Counter
	flushes        [2]prometheus.Counter // failed, written
}

type requestLabels struct {
	endpoint string
	status   int
	reason   apikey.Reason
}

// What the server asks of the store, as the label of store errors.
type storeOp int

const (
	opLookup storeOp = iota // a request's look-up of a secret
	opWatch                 // the watcher's look for changes
	opFlush                 // writing last-used times
	storeOps
)

var storeOpNames = [storeOps]string{"lookup", "watch", "flush"}

// Endpoints, as the label of requests. Any other path is "other", so that
// a client cannot grow the number of series.
const (
	endpointMe      = "/v1/me"
	endpointAuth    = "/v1/auth"
	endpointHealth  = "/healthz"
	endpointMetrics = "/metrics"
	endpointOther   = "other"
)

// verifyBuckets span a check answered from memory (microseconds) to one
// that waited for a slow store (a second).
var verifyBuckets = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

func newMetrics(s *Server) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apikey_requests_total",
		Help: "HTTP requests answered, by endpoint (other for any unknown path), status and reason of a refusal.",
	}, []string{"endpoint", "status", "reason"})
	m.counters.Store(&map[requestLabels]prometheus.Counter{})
	m.verifyDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "apikey_verify_duration_seconds",
		Help:    "Time to answer a check of a key on /v1/me or /v1/auth, from the request's arrival to its answer.",
		Buckets: verifyBuckets,
	})
	storeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apikey_store_errors_total",
		Help: "Failed reads and writes of the store, by operation: lookup (a request's), watch (the look for changes), flush (last-used times).",
	}, []string{"operation"})
	for op, name := range storeOpNames {
		m.storeErrors[op] = storeErrors.WithLabelValues(name)
	}
	flushes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apikey_last_used_flushes_total",
		Help: "Writes of last-used times to the store, by result (ok or error); a flush with nothing to write is not counted.",
	}, []string{"result"})
	m.flushes[0], m.flushes[1] = flushes.WithLabelValues("error"), flushes.WithLabelValues("ok")
	m.registry.MustRegister(
		m.requests, m.verifyDuration, storeErrors, flushes, stateCollector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:            s.log.errorLog(),
		MaxRequestsInFlight: 4,
	}))
	return m
}

// request counts a request to path (/v1/auth/... made /v1/auth) and its
// store error, and times a check of a key.
func (m *metrics) request(path string, o outcome, d time.Duration) {
	if m == nil {
		return
	}
	endpoint, check := endpointOther, false
	switch path {
	case endpointMe, endpointAuth:
		// A method /v1/me does not take is no check.
		endpoint, check = path, o.status != http.StatusMethodNotAllowed
	case endpointHealth, endpointMetrics:
		endpoint = path
	}
	if o.err != nil {
		m.storeErrors[opLookup].Inc()
	}
	l := requestLabels{endpoint, o.status, o.reason}
	c, ok := (*m.counters.Load())[l]
	if !ok {
		c = m.addCounter(l)
	}
	c.Inc()
	if check {
		m.verifyDuration.Observe(d.Seconds())
	}
}

// addCounter makes the counter of labels that no request had before: a
// handful of combinations, each made once.
func (m *metrics) addCounter(l requestLabels) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.counters.Load()
	if c, ok := old[l]; ok {
		return c
	}
	c := m.requests.WithLabelValues(l.endpoint, strconv.Itoa(l.status), string(l.reason))
	counters := make(map[requestLabels]prometheus.Counter, len(old)+1)
	for k, v := range old {
		counters[k] = v
	}
	counters[l] = c
	m.counters.Store(&counters)
	return c
}

func (m *metrics) storeError(op storeOp) {
	if m != nil {
		m.storeErrors[op].Inc()
	}
}

func (m *metrics) flushed(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.flushes[1].Inc()
	} else {
		m.flushes[0].Inc()
	}
}

// stateCollector reads the server's state when /metrics is asked.
type stateCollector struct{ s *Server }

var (
	cacheEntriesDesc = prometheus.NewDesc("apikey_cache_entries",
		"Held in memory: known (cached answers about secrets), unknown (secrets the store does not know) and directory (keys loaded at once from the store, and not changed since).",
		[]string{"kind"}, nil)
	cacheLookupsDesc = prometheus.NewDesc("apikey_cache_lookups_total",
		"Looks at the cache for a well-formed secret, by result: hit (a key), unknown (a secret known to be no key's), miss (asked the store; also every look while the cache is not trusted).",
		[]string{"result"}, nil)
	storeAgeDesc = prometheus.NewDesc("apikey_store_last_success_age_seconds",
		"Seconds since the last successful look at the store began (since the server started, before the first).",
		nil, nil)
	healthDesc = prometheus.NewDesc("apikey_health",
		"1 for the server's state, as /healthz says it: ok, degraded (the store cannot be read; answering from memory within serve.stale_for) or unavailable (checks that need the store are answered 503).",
		[]string{"status"}, nil)
	staleForDesc = prometheus.NewDesc("apikey_stale_for_seconds",
		"How long past its last successful look at the store the server answers from memory (serve.stale_for, at least three poll intervals).",
		nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheEntriesDesc, cacheLookupsDesc, storeAgeDesc, healthDesc, staleForDesc} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	known, unknown, dir := s.cache.size()
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(known), "known")
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(unknown), "unknown")
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(dir), "directory")
	hits, misses, unknowns := s.cache.lookups()
	ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(hits), "hit")
	ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(misses), "miss")
	ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(unknowns), "unknown")
	ch <- prometheus.MustNewConstMetric(storeAgeDesc, prometheus.GaugeValue, s.sinceLastLook().Seconds())
	h := s.health()
	for _, status := range []string{healthOK, healthDegraded, healthUnavailable} {
		v := 0.0
		if status == h {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(healthDesc, prometheus.GaugeValue, v, status)
	}
	ch <- prometheus.MustNewConstMetric(staleForDesc, prometheus.GaugeValue, s.trustFor().Seconds())
}
