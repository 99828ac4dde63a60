package server

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
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/sqlite"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is what one GET /metrics said, parsed by Prometheus' own parser of
// the text format.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value is the value of the series of name with the given labels (name,
// value, ...; an empty value also matches a label that is absent): a
// counter's or gauge's value, a histogram's count; 0 when there is no such
// series yet, as for a counter that never moved.
func (m scrape) value(name string, labels ...string) float64 {
	fam := m[name]
	if fam == nil {
		return 0
	}
	for _, metric := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range metric.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case metric.Counter != nil:
			return metric.Counter.GetValue()
		case metric.Gauge != nil:
			return metric.Gauge.GetValue()
		case metric.Histogram != nil:
			return float64(metric.Histogram.GetSampleCount())
		}
	}
	return 0
}

func TestMetricsCountWhatHappens(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	unknown, err := apikey.NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	s := f.server(Options{FlushInterval: 20 * time.Millisecond})
	base, _ := f.run(s)
	f.settle(s)
	before := scrapeMetrics(t, base)
	after := scrapeMetrics(t, base) // the first scrape, counted
	for _, name := range []string{"apikey_requests_total", "apikey_verify_duration_seconds", "apikey_cache_entries", "apikey_cache_lookups_total", "apikey_store_errors_total", "apikey_store_last_success_age_seconds", "apikey_last_used_flushes_total", "apikey_health", "apikey_stale_for_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if after[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for name, fam := range after {
		if !strings.HasPrefix(name, "apikey_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("/metrics has %s, which is not apikey's", name)
		}
		if strings.HasPrefix(name, "apikey_") && fam.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}

	for _, r := range []struct {
		method, path string
		header       map[string]string
		status       int
	}{
		{"GET", "/v1/me", map[string]string{"X-Api-Key": secret}, 200},         // a hit, in the keys loaded at start
		{"GET", "/v1/me", map[string]string{"X-Api-Key": secret}, 200},         // a hit
		{"POST", "/v1/auth", map[string]string{"X-Api-Key": unknown}, 401},     // a miss
		{"GET", "/v1/auth/x", map[string]string{"X-Api-Key": unknown}, 401},    // an unknown
		{"GET", "/v1/me", map[string]string{"X-Api-Key": tamper(secret)}, 401}, // no look
		{"GET", "/v1/me", nil, 401},
		{"POST", "/v1/me", nil, 405},
		{"GET", "/healthz", nil, 200},
		{"GET", "/nowhere/" + secret, nil, 404},
	} {
		if a := request(t, r.method, base+r.path, r.header); a.status != r.status {
			t.Fatalf("%s %s: %d %s", r.method, r.path, a.status, a.body)
		}
	}
	after = scrapeMetrics(t, base)
	delta := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"endpoint", "/v1/me", "status", "200", "reason", ""}, 2},
		{[]string{"endpoint", "/v1/auth", "status", "401", "reason", "invalid"}, 2},
		{[]string{"endpoint", "/v1/me", "status", "401", "reason", "malformed"}, 1},
		{[]string{"endpoint", "/v1/me", "status", "401", "reason", "missing_key"}, 1},
		{[]string{"endpoint", "/v1/me", "status", "405", "reason", ""}, 1},
		{[]string{"endpoint", "/healthz", "status", "200", "reason", ""}, 1},
		{[]string{"endpoint", "other", "status", "404", "reason", ""}, 1},
		{[]string{"endpoint", "/metrics", "status", "200", "reason", ""}, 2}, // the first two scrapes
	} {
		if got := delta("apikey_requests_total", c.labels...); got != c.want {
			t.Errorf("apikey_requests_total%v moved by %v, want %v", c.labels, got, c.want)
		}
	}
	if got := delta("apikey_verify_duration_seconds"); got != 6 {
		t.Errorf("%v checks timed, want 6 (not the 405, health, 404 or scrape)", got)
	}
	for result, want := range map[string]float64{"hit": 2, "miss": 1, "unknown": 1} {
		if got := delta("apikey_cache_lookups_total", "result", result); got != want {
			t.Errorf("cache lookups %s moved by %v, want %v", result, got, want)
		}
	}
	for kind, want := range map[string]float64{"known": 0, "unknown": 1, "directory": 1} {
		if got := after.value("apikey_cache_entries", "kind", kind); got != want {
			t.Errorf("apikey_cache_entries{kind=%q} = %v, want %v", kind, got, want)
		}
	}
	if got := after.value("apikey_health", "status", "ok"); got != 1 {
		t.Errorf("apikey_health{status=ok} = %v", got)
	}
	if got := after.value("apikey_store_errors_total", "operation", "lookup") + after.value("apikey_store_errors_total", "operation", "watch"); got != 0 {
		t.Errorf("store errors: %v", got)
	}
	// The watcher looks four times a second: the last success is recent
	// (an hour is for a machine under any load).
	if age := after.value("apikey_store_last_success_age_seconds"); age < 0 || age > 3600 {
		t.Errorf("apikey_store_last_success_age_seconds = %v", age)
	}
	if got := after.value("apikey_stale_for_seconds"); got != s.trustFor().Seconds() {
		t.Errorf("apikey_stale_for_seconds = %v", got)
	}
	// The accepted uses are written by the next flush.
	eventually(t, func() string {
		if m := scrapeMetrics(t, base); m.value("apikey_last_used_flushes_total", "result", "ok") < 1 {
			return "no flush counted"
		}
		return ""
	})
}

func TestMetricsCanBeTurnedOff(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	base, _ := f.run(f.server(Options{DisableMetrics: true}))
	if a := request(t, "GET", base+"/metrics", nil); a.status != 404 || a.body != notFoundBody {
		t.Errorf("/metrics when off: %d %s", a.status, a.body)
	}
	if a := request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 200 {
		t.Errorf("/v1/me with metrics off: %d", a.status)
	}
	base2, _ := f.run(f.server(Options{}))
	if a := request(t, "POST", base2+"/metrics", nil); a.status != 405 || a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %d", a.status)
	}
}

// A store that fails while down is set, as one that went away would.
type switchable struct {
	Store
	down atomic.Bool
}

var errGone = errors.New("the store went away")

func (s *switchable) LookupSecret(ctx context.Context, h apikey.Hash) (store.Presented, bool, error) {
	if s.down.Load() {
		return store.Presented{}, false, errGone
	}
	return s.Store.LookupSecret(ctx, h)
}

func (s *switchable) LastChange(ctx context.Context) (int64, error) {
	if s.down.Load() {
		return 0, errGone
	}
	return s.Store.LastChange(ctx)
}

func (s *switchable) TouchKeys(ctx context.Context, used []store.KeyUse) error {
	if s.down.Load() {
		return errGone
	}
	return s.Store.TouchKeys(ctx, used)
}

// age makes the server's last successful look at the store d older, as if
// d had passed since: the clock of the cache is the system's monotonic one,
// which a test does not wait for.
func (s *Server) age(d time.Duration) {
	s.cache.freshUntil.Add(-int64(d))
	s.lastLook.Add(-int64(d))
}

// TestStaleForIsHowLongTheCacheOutlivesTheStore walks a server through an
// outage, look by look: serving from memory within stale_for (degraded), a
// miss answered 503, then nothing from memory once stale_for has passed
// (unavailable), then back.
func TestStaleForIsHowLongTheCacheOutlivesTheStore(t *testing.T) {
	f := newFixture(t)
	_, warm := f.key("Acme", "warm", nil)
	_, cold := f.key("Acme", "cold", nil)
	k, secret := f.key("Acme", "used", nil)
	unknown, _ := apikey.NewSecret("ak")
	st := &switchable{Store: f.st}
	s := New(Options{Store: st, Log: f.log, Now: f.clock.Now, StaleFor: time.Hour, PollInterval: time.Minute})
	if s.trustFor() != time.Hour {
		t.Fatalf("trustFor %v with StaleFor 1h", s.trustFor())
	}
	if z := New(Options{PollInterval: 100 * time.Millisecond}); z.trustFor() != 300*time.Millisecond {
		t.Fatalf("trustFor %v with StaleFor 0: want three poll intervals", z.trustFor())
	}
	srv := newTestServer(t, s)
	defer srv.Close()
	ask := func(secret string) reply {
		return request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	health := func() reply { return request(t, "GET", srv.URL+"/healthz", nil) }
	metric := func(name string, labels ...string) float64 {
		return scrapeMetrics(t, srv.URL).value(name, labels...)
	}
	s.watchOnce(context.Background())
	for _, sec := range []string{warm, secret} {
		if a := ask(sec); a.status != 200 || !s.cached(sec) {
			t.Fatalf("before: %d %s", a.status, a.body)
		}
	}

	st.down.Store(true)
	s.watchOnce(context.Background())
	if a := health(); a.status != 200 || a.body != degradedBody {
		t.Errorf("/healthz within stale_for: %d %s", a.status, a.body)
	}
	if metric("apikey_health", "status", "degraded") != 1 || metric("apikey_store_errors_total", "operation", "watch") != 1 {
		t.Errorf("metrics within stale_for: health degraded %v, watch errors %v", metric("apikey_health", "status", "degraded"), metric("apikey_store_errors_total", "operation", "watch"))
	}
	if a := ask(warm); a.status != 200 {
		t.Errorf("a cached key within stale_for: %d %s", a.status, a.body)
	}
	for _, sec := range []string{cold, unknown} {
		if a := ask(sec); a.status != 503 || a.body != unavailableBody {
			t.Errorf("a miss within stale_for: %d %s", a.status, a.body)
		}
	}
	if metric("apikey_store_errors_total", "operation", "lookup") != 2 {
		t.Errorf("lookup errors %v, want 2", metric("apikey_store_errors_total", "operation", "lookup"))
	}
	if a := ask(tamper(warm)); a.status != 401 {
		t.Errorf("a malformed key within stale_for: %d", a.status)
	}
	// A flush that fails is counted, and its uses are kept for the next.
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if a := ask(secret); a.status != 200 {
		t.Fatalf("%d", a.status)
	}
	if err := s.flush(context.Background()); !errors.Is(err, errGone) {
		t.Fatalf("flush with the store down: %v", err)
	}
	if metric("apikey_last_used_flushes_total", "result", "error") != 1 || metric("apikey_store_errors_total", "operation", "flush") != 1 {
		t.Error("a failed flush was not counted")
	}

	s.age(time.Hour)
	s.watchOnce(context.Background())
	if a := health(); a.status != 503 || a.body != unhealthyBody {
		t.Errorf("/healthz past stale_for: %d %s", a.status, a.body)
	}
	if metric("apikey_health", "status", "unavailable") != 1 || metric("apikey_health", "status", "degraded") != 0 {
		t.Error("apikey_health does not say unavailable")
	}
	if age := metric("apikey_store_last_success_age_seconds"); age < 3600 {
		t.Errorf("apikey_store_last_success_age_seconds = %v past stale_for", age)
	}
	if a := ask(warm); a.status != 503 {
		t.Errorf("a cached key past stale_for: %d %s", a.status, a.body)
	}

	st.down.Store(false)
	s.watchOnce(context.Background())
	if a := health(); a.status != 200 || a.body != healthyBody {
		t.Errorf("/healthz after: %d %s", a.status, a.body)
	}
	for _, sec := range []string{warm, cold} {
		if a := ask(sec); a.status != 200 {
			t.Errorf("after: %d %s", a.status, a.body)
		}
	}
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.admin.Key(context.Background(), k.ID, ""); got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock.Now()) {
		t.Errorf("the use made while the store was down: last_used_at %v", got.LastUsedAt)
	}
	s.log.flush()
	log := f.log.String()
	for _, want := range []string{
		`level=ERROR msg="cannot read the store; answering from memory until it can, for at most serve.stale_for after the last success" error="the store went away" stale_for=1h0m0s`,
		`level=ERROR msg="cannot read the store for longer than serve.stale_for; checks that need it are answered 503"`,
		`level=INFO msg="the store can be read again"`,
		`level=WARN msg=request method=GET path=/v1/me status=503 duration_ms=`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not hold %s:\n%s", want, log)
		}
	}
}

func TestLogJSON(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	s := f.server(Options{LogFormat: LogJSON})
	base, stop := f.run(s)
	request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	request(t, "POST", base+"/v1/auth", map[string]string{"X-Api-Key": secret, "X-Company": "nope"})
	request(t, "GET", base+"/a%0A\"b", nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	log := f.log.String()
	if strings.Contains(log, secret) {
		t.Fatalf("the log holds a secret:\n%s", log)
	}
	type line struct {
		Time       time.Time `json:"time"`
		Level      string    `json:"level"`
		Msg        string    `json:"msg"`
		Method     string    `json:"method"`
		Path       string    `json:"path"`
		Status     int       `json:"status"`
		Reason     string    `json:"reason"`
		Key        string    `json:"key"`
		DurationMS *float64  `json:"duration_ms"`
	}
	want := []line{
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/v1/me", Status: 200, Key: k.ID},
		{Level: "INFO", Msg: "request", Method: "POST", Path: "/v1/auth", Status: 401, Reason: "invalid", Key: k.ID},
		{Level: "INFO", Msg: "request", Method: "GET", Path: "/a\n\"b", Status: 404},
	}
	lines := requestLines(log)
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d requests:\n%s", len(lines), len(want), log)
	}
	for i, l := range lines {
		var got line
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d is not the documented JSON: %v\n%s", i, err, l)
		}
		if got.Time.IsZero() || got.Time.Location() != time.UTC || got.DurationMS == nil || *got.DurationMS < 0 {
			t.Errorf("line %d: time %v, duration_ms %v", i, got.Time, got.DurationMS)
		}
		got.Time, got.DurationMS = time.Time{}, nil
		if got != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got, want[i])
		}
	}
}

// TestLogLevels: warn leaves requests out but keeps a 5xx and the server's
// problems; debug adds what the watcher does.
func TestLogLevels(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	s := f.server(Options{LogLevel: slog.LevelWarn})
	srv := newTestServer(t, s)
	defer srv.Close()
	request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret})
	f.st.Close()
	s.watchOnce(context.Background())
	request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret})
	s.log.flush()
	lines := strings.Split(strings.TrimSuffix(f.log.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `level=ERROR msg="cannot read the store`) || !strings.Contains(lines[1], "level=WARN msg=request method=GET path=/v1/me status=503 duration_ms=") {
		t.Errorf("at warn:\n%s", f.log)
	}

	g := newFixture(t)
	g.key("Acme", "k", nil) // the company, made before the server looks
	s = g.server(Options{LogLevel: slog.LevelDebug})
	s.watchOnce(context.Background())
	k, _ := g.key("Acme", "k2", nil)
	if _, err := g.admin.SetStatus(context.Background(), []string{k.ID}, "", store.Disable, "test"); err != nil {
		t.Fatal(err)
	}
	s.watchOnce(context.Background())
	s.log.flush()
	if !strings.Contains(g.log.String(), "level=DEBUG msg=\"changes taken in\" events=2 keys=1 companies=0") {
		t.Errorf("at debug:\n%s", g.log)
	}
}

// A look at the store or a flush of last uses that the server's stopping
// interrupts is no outage: the health stays ok, no store error is counted,
// nothing is logged, and the uses are left for the last flush.
func TestStoppingIsNoOutage(t *testing.T) {
	f := newFixture(t)
	k, _ := f.key("Acme", "k", nil)
	s := f.server(Options{})
	srv := newTestServer(t, s)
	defer srv.Close()
	s.watchOnce(context.Background())
	stopping, stop := context.WithCancel(context.Background())
	stop()
	s.watchOnce(stopping)
	usedAt := f.clock.Now().Truncate(time.Second)
	s.pending.add(store.KeyUse{KeyID: k.ID, CreatedAt: k.CreatedAt, At: usedAt})
	if err := s.flushSome(stopping, flushSlack); err == nil {
		t.Fatal("a flush with the server stopping wrote")
	}
	s.log.flush()
	if s.health() != healthOK || strings.Contains(f.log.String(), "cannot") {
		t.Errorf("health %v after an interrupted look; log:\n%s", s.health(), f.log)
	}
	m := scrapeMetrics(t, srv.URL)
	if errs := m.value("apikey_store_errors_total", "operation", "watch") + m.value("apikey_store_errors_total", "operation", "flush"); errs != 0 {
		t.Errorf("%v store errors counted for an interrupted look and flush", errs)
	}
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.admin.Key(context.Background(), k.ID, ""); got.LastUsedAt == nil || !got.LastUsedAt.Equal(usedAt) {
		t.Errorf("last used %v after the last flush, want %v", got.LastUsedAt, usedAt)
	}
}

// The log's times are UTC whatever the machine's zone.
func TestLogTimesAreUTC(t *testing.T) {
	var buf bytes.Buffer
	l := newServerLog(&buf, LogText, slog.LevelInfo)
	zone := time.FixedZone("UTC+5", 5*3600)
	r := httptest.NewRequest("GET", "/healthz", nil)
	l.request(r.Method, r.URL.Path, outcome{status: 200}, time.Date(2030, 1, 2, 8, 4, 5, 6e6, zone), time.Millisecond)
	rec := slog.NewRecord(time.Date(2030, 1, 2, 8, 4, 5, 0, zone), slog.LevelWarn, "hello", 0)
	if err := l.logger.Handler().Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	l.flush()
	want := "time=2030-01-02T03:04:05.006Z level=INFO msg=request method=GET path=/healthz status=200 duration_ms=1\n" +
		"time=2030-01-02T03:04:05.000Z level=WARN msg=hello\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
}

// outageUnderLoad takes f's store away with down while clients check keys
// on a server with a stale_for of an hour, and brings it back with up. It
// checks every answer: a key the server knew keeps working from memory; a
// key it never saw and a secret nobody issued are 503 while the store is
// away, never 200 or 401; /healthz and /metrics say degraded; once stale_for
// has passed (aged, not waited for) everything that needs the store is 503;
// then all is back.
func outageUnderLoad(t *testing.T, f *fixture, down, up func()) {
	t.Helper()
	// Warm keys are in memory: loaded with the others at start. Cold ones
	// are made after, so that the server holds nothing of them.
	var warm, cold []string
	for i := range 4 {
		_, w := f.key("Acme", "warm"+string(rune('a'+i)), nil)
		warm = append(warm, w)
	}
	s := f.server(Options{PollInterval: 50 * time.Millisecond, StaleFor: time.Hour})
	base, _ := f.run(s)
	for i := range 4 {
		_, c := f.key("Acme", "cold"+string(rune('a'+i)), nil)
		cold = append(cold, c)
	}
	f.settle(s)
	ask := func(secret string) (reply, error) {
		return tryRequest("GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	for _, w := range warm {
		if a, err := ask(w); err != nil || a.status != 200 {
			t.Fatalf("before: %v %v", a, err)
		}
	}

	// Clients that ask for known keys and for secrets nobody issued (a new
	// one each time, so never from memory), before, during and after.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var aged atomic.Bool
	var checks, unavailable atomic.Int64
	wrong := make(chan string, 100)
	complain := func(msg string) {
		select {
		case wrong <- msg:
		default:
		}
	}
	done := make(chan struct{})
	const clients = 4
	for c := range clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ctx.Err() == nil; i++ {
				if i%2 == 0 {
					a, err := ask(warm[(c+i)%len(warm)])
					past := aged.Load() // set before the server is aged
					switch {
					case err != nil:
						complain(err.Error())
					case a.status == 503 && past:
						unavailable.Add(1)
					case a.status != 200:
						complain("a known key within stale_for: " + a.body)
					}
				} else {
					secret, _ := apikey.NewSecret("ak")
					a, err := ask(secret)
					switch {
					case err != nil:
						complain(err.Error())
					case a.status == 503:
						unavailable.Add(1)
					case a.status != 401 || a.body != refusal(apikey.ReasonInvalid):
						complain("a secret nobody issued: " + a.body)
					}
				}
				checks.Add(1)
			}
		}()
	}
	health := func(want reply) func() string {
		return func() string {
			if a := request(t, "GET", base+"/healthz", nil); a.status != want.status || a.body != want.body {
				return "/healthz says " + a.body
			}
			return ""
		}
	}

	down()
	eventually(t, health(reply{status: 200, body: degradedBody}))
	if m := scrapeMetrics(t, base); m.value("apikey_health", "status", "degraded") != 1 || m.value("apikey_store_errors_total", "operation", "watch") < 1 {
		t.Error("/metrics does not say degraded")
	}
	for _, c := range cold {
		if a, err := ask(c); err != nil || a.status != 503 || a.body != unavailableBody {
			t.Errorf("a key never seen, during the outage: %v %v", a, err)
		}
	}
	for _, w := range warm {
		if a, err := ask(w); err != nil || a.status != 200 {
			t.Errorf("a known key, during the outage: %v %v", a, err)
		}
	}
	aged.Store(true)
	s.age(time.Hour)
	eventually(t, health(reply{status: 503, body: unhealthyBody}))
	for _, w := range warm {
		if a, err := ask(w); err != nil || a.status != 503 {
			t.Errorf("a known key past stale_for: %v %v", a, err)
		}
	}
	if m := scrapeMetrics(t, base); m.value("apikey_health", "status", "unavailable") != 1 {
		t.Error("/metrics does not say unavailable")
	}
	eventually(t, func() string {
		s.log.flush()
		if !strings.Contains(f.log.String(), "cannot read the store for longer than serve.stale_for") {
			return "the log does not say that stale_for has passed"
		}
		return ""
	})

	up()
	eventually(t, health(reply{status: 200, body: healthyBody}))
	for _, sec := range append(warm, cold...) {
		if a, err := ask(sec); err != nil || a.status != 200 {
			t.Errorf("after the outage: %v %v", a, err)
		}
	}
	cancel()
	for range clients {
		<-done
	}
	close(wrong)
	for msg := range wrong {
		t.Error(msg)
	}
	if unavailable.Load() == 0 {
		t.Error("no check met the outage")
	}
	t.Logf("%d checks, %d answered 503", checks.Load(), unavailable.Load())
	s.log.flush()
	for _, want := range []string{"cannot read the store; answering from memory", "the store can be read again"} {
		if !strings.Contains(f.log.String(), want) {
			t.Errorf("the log does not say %q", want)
		}
	}
}

// TestSQLiteOutageUnderLoad takes the database away from a running server
// by renaming its directory. Tests run as root, which no chmod stops, and a
// rename or an unlink leaves the file to every connection already open on
// it, as Unix does: so the server's store keeps no idle connection here,
// and each look opens the file anew, as a server does once its connections
// are recycled, and finds it gone.
func TestSQLiteOutageUnderLoad(t *testing.T) {
	dir := t.TempDir()
	db := dir + "/store/apikey.db"
	f := newFixtureOn(t, db)
	lite, ok := f.st.Engine().(*sqlite.Engine)
	if !ok {
		t.Fatal("not SQLite")
	}
	lite.DB().SetMaxIdleConns(0)
	away := dir + "/away"
	outageUnderLoad(t, f,
		func() {
			if err := os.Rename(dir+"/store", away); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := os.Rename(away, dir+"/store"); err != nil {
				t.Fatal(err)
			}
		})
}

// Nothing runs the flush loop of a Handler alone: the queue of log records
// is flushed by the request that fills it, and stays bounded.
func TestLogQueueStaysBounded(t *testing.T) {
	var buf bytes.Buffer
	l := newServerLog(&buf, LogText, slog.LevelInfo)
	r := httptest.NewRequest("GET", "/healthz", nil)
	for range logMaxQueued {
		l.request(r.Method, r.URL.Path, outcome{status: 200}, time.Now(), time.Millisecond)
	}
	l.mu.Lock()
	queued := len(l.queue)
	l.mu.Unlock()
	if queued != 0 || strings.Count(buf.String(), "\n") != logMaxQueued {
		t.Fatalf("%d records queued, %d lines written", queued, strings.Count(buf.String(), "\n"))
	}
}

// A request the HTTP server cannot parse is answered 400 and leaves no line
// at info, lest a client fill the log; at debug the server's complaint is
// there, without what the request held.
func TestUnreadableRequestsAreLoggedAtDebug(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		f := newFixture(t)
		_, secret := f.key("Acme", "k", nil)
		s := f.server(Options{LogLevel: level})
		srv := newTestServer(t, s)
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\nno colon here\r\n\r\n", secret)
		// The server complains before it closes the connection: once the
		// answer is read to its end, the line is in the log's queue.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		answer, err := io.ReadAll(c)
		c.Close()
		if err != nil || !strings.HasPrefix(string(answer), "HTTP/1.1 400") {
			t.Fatalf("%v: %q %v", level, answer, err)
		}
		srv.Close()
		s.log.flush()
		logged := f.log.String()
		if strings.Contains(logged, secret) {
			t.Fatalf("%v: the log holds the secret:\n%s", level, logged)
		}
		complained := strings.Contains(logged, "level=DEBUG") && strings.Contains(logged, "error when serving connection")
		if level == slog.LevelInfo && logged != "" {
			t.Errorf("at info:\n%s", logged)
		}
		if level == slog.LevelDebug && !complained {
			t.Errorf("at debug, no complaint:\n%s", logged)
		}
	}
}
