package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
)

// clock is a settable clock shared by a store and a server, so that expiry
// and grace can be crossed without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// syncBuffer is a log destination that tests may read while a server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

type fixture struct {
	t     *testing.T
	path  string
	st    *store.Store // the server's handle
	admin *store.Store // a second handle, as another apikey process would have
	clock *clock
	log   *syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, filepath.Join(t.TempDir(), "apikey.db"))
}

// newFixtureOn is newFixture on the store that db names (a PostgreSQL URL).
func newFixtureOn(t *testing.T, db string) *fixture {
	t.Helper()
	f := &fixture{t: t, path: db, clock: newClock(), log: &syncBuffer{}}
	var err error
	if f.st, err = store.Open(context.Background(), f.path, store.WithClock(f.clock.Now)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	if f.admin, err = store.Open(context.Background(), f.path, store.WithClock(f.clock.Now)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.admin.Close() })
	return f
}

// key creates a key of company (made when missing) and returns it with its
// secret.
func (f *fixture) key(company, name string, edit func(*store.NewKey)) (apikey.Key, string) {
	f.t.Helper()
	id := uuid.NewString()
	secret, m, err := apikey.MintSecret("ak", id, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	n := store.NewKey{ID: id, Company: company, CreateCompany: true, Name: name, Status: apikey.StatusActive, Secret: m, Actor: "test"}
	if edit != nil {
		edit(&n)
	}
	k, err := f.admin.CreateKey(context.Background(), n)
	if err != nil {
		f.t.Fatal(err)
	}
	return k, secret
}

func (f *fixture) server(o Options) *Server {
	o.Store = f.st
	o.Now = f.clock.Now
	o.Log = f.log
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	return New(o)
}

// run starts s and returns its base URL; the server stops when the test
// ends, or earlier through the returned stop function, which returns Run's
// error.
func (f *fixture) run(s *Server) (base string, stop func() error) {
	f.t.Helper()
	if err := s.Listen(); err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	f.t.Cleanup(func() { stop() })
	f.loaded(s)
	return "http://" + s.Addr(), stop
}

// loaded waits until s has loaded the store's keys into memory (its
// directory), so that a test knows which keys it holds: those made before.
func (f *fixture) loaded(s *Server) {
	f.t.Helper()
	eventually(f.t, func() string {
		if s.cache.directory() == nil {
			return "the server has not loaded the keys"
		}
		return ""
	})
}

// requestLines are the lines of a server's log but the one that says it
// loaded the keys.
func requestLines(log string) []string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSuffix(log, "\n"), "\n") {
		if !strings.Contains(l, "keys loaded into memory") {
			lines = append(lines, l)
		}
	}
	return lines
}

type reply struct {
	status int
	header http.Header
	body   string
}

func request(t *testing.T, method, url string, header map[string]string) reply {
	t.Helper()
	a, err := tryRequest(method, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tryRequest(method, url string, header map[string]string) (reply, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}, err
}

func refusal(reason apikey.Reason) string {
	return `{"error":"unauthorized","reason":"` + string(reason) + `"}` + "\n"
}

// eventually polls check until it returns "" and fails the test with its
// last complaint after a generous deadline. Tests never assert on how fast.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tamper changes the last character of a secret, which breaks its checksum.
func tamper(secret string) string {
	last := secret[len(secret)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return secret[:len(secret)-1] + string(repl)
}

func TestMeAnswersTheKeyAndItsCompany(t *testing.T) {
	f := newFixture(t)
	exp := f.clock.Now().Add(48 * time.Hour)
	k, secret := f.key("Acme", "billing sync", func(n *store.NewKey) {
		n.Scopes = []string{"read", "write"}
		n.Metadata = map[string]string{"env": "prod"}
		n.ExpiresAt = &exp
	})
	if _, err := f.admin.UpdateCompany(context.Background(), k.Company.ID, store.CompanyUpdate{Ref: ptr("273-542-26244")}, "test"); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, f.server(Options{}))
	defer srv.Close()

	want := `{"id":"` + k.ID + `","name":"billing sync","company":{"id":"` + k.Company.ID + `","name":"Acme","ref":"273-542-26244"},"scopes":["read","write"],"metadata":{"env":"prod"},"expires_at":"2030-01-04T03:04:05Z"}` + "\n"
	for _, h := range []map[string]string{
		{"X-Api-Key": secret},
		{"Authorization": "Bearer " + secret},
		{"Authorization": "bearer " + secret},
		{"X-Api-Key": secret, "X-Company": k.Company.ID},
		{"X-Api-Key": secret, "X-Company": strings.ToUpper(k.Company.ID)},
	} {
		a := request(t, "GET", srv.URL+"/v1/me", h)
		if a.status != 200 || a.body != want {
			t.Errorf("%v: got %d %s, want 200 %s", h, a.status, a.body, want)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
	}
	if a := request(t, "HEAD", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 200 {
		t.Errorf("HEAD /v1/me: %d", a.status)
	}
	if a := request(t, "POST", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 405 || a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /v1/me: %d, Allow %q", a.status, a.header.Get("Allow"))
	}
}

// settle waits until the server has taken in every change made so far.
func (f *fixture) settle(s *Server) {
	f.t.Helper()
	seq, err := f.admin.LastChange(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	eventually(f.t, func() string {
		if s.seen.Load() < seq {
			return "the server has not seen the latest change"
		}
		return ""
	})
}

func (s *Server) cached(secret string) bool {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	return s.cache.keys[apikey.HashSecret(secret)] != nil
}

func (s *Server) cachedUnknown(secret string) bool {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	_, ok := s.cache.unknown[apikey.HashSecret(secret)]
	return ok
}

func ptr[T any](v T) *T { return &v }

func TestRefusalsGiveTheirReason(t *testing.T) {
	f := newFixture(t)
	good, goodSecret := f.key("Acme", "good", nil)
	_, inactive := f.key("Acme", "off", func(n *store.NewKey) { n.Status = apikey.StatusInactive })
	exp := f.clock.Now().Add(time.Hour)
	_, expiring := f.key("Acme", "expiring", func(n *store.NewKey) { n.ExpiresAt = &exp })
	other, otherSecret := f.key("Globex", "theirs", nil)
	unknown, err := apikey.NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(exp) // expiring expires at this very instant
	srv := newTestServer(t, f.server(Options{}))
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		header map[string]string
		want   apikey.Reason
	}{
		{"no key", nil, apikey.ReasonMissingKey},
		{"empty key header", map[string]string{"X-Api-Key": ""}, apikey.ReasonMissingKey},
		{"basic auth is no key", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, apikey.ReasonMissingKey},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, apikey.ReasonMissingKey},
		{"garbage", map[string]string{"X-Api-Key": "hello"}, apikey.ReasonMalformed},
		{"bad checksum", map[string]string{"X-Api-Key": tamper(goodSecret)}, apikey.ReasonMalformed},
		{"bad checksum bearer", map[string]string{"Authorization": "Bearer " + tamper(goodSecret)}, apikey.ReasonMalformed},
		{"too long", map[string]string{"X-Api-Key": goodSecret + goodSecret}, apikey.ReasonMalformed},
		{"unknown", map[string]string{"X-Api-Key": unknown}, apikey.ReasonInvalid},
		{"inactive", map[string]string{"X-Api-Key": inactive}, apikey.ReasonInactive},
		{"expired", map[string]string{"X-Api-Key": expiring}, apikey.ReasonExpired},
		{"other company's key", map[string]string{"X-Api-Key": otherSecret, "X-Company": good.Company.ID}, apikey.ReasonInvalid},
		{"company by name is not accepted", map[string]string{"X-Api-Key": goodSecret, "X-Company": "Acme"}, apikey.ReasonInvalid},
		{"inactive of other company", map[string]string{"X-Api-Key": inactive, "X-Company": other.Company.ID}, apikey.ReasonInvalid},
	} {
		for _, path := range []string{"/v1/me", "/v1/auth"} {
			a := request(t, "GET", srv.URL+path, tc.header)
			if a.status != 401 || a.body != refusal(tc.want) {
				t.Errorf("%s %s: got %d %s, want 401 %s", tc.name, path, a.status, a.body, refusal(tc.want))
			}
			if a.header.Get("Www-Authenticate") == "" {
				t.Errorf("%s %s: no WWW-Authenticate", tc.name, path)
			}
			if a.header.Get("X-Apikey-Id") != "" || a.header.Get("X-Company-Id") != "" {
				t.Errorf("%s %s: a refusal names a key", tc.name, path)
			}
		}
	}
}

// Another company's key must be indistinguishable from an unknown one: same
// status, same headers, same body, byte for byte.
func TestOtherCompanysKeyLooksUnknown(t *testing.T) {
	f := newFixture(t)
	mine, _ := f.key("Acme", "mine", nil)
	_, theirs := f.key("Globex", "theirs", nil)
	unknown, _ := apikey.NewSecret("ak")
	s := f.server(Options{})
	base, _ := f.run(s)
	for _, path := range []string{"/v1/me", "/v1/auth"} {
		// Twice each, so that the second answer comes from the cache.
		for range 2 {
			a := request(t, "GET", base+path, map[string]string{"X-Api-Key": theirs, "X-Company": mine.Company.ID})
			b := request(t, "GET", base+path, map[string]string{"X-Api-Key": unknown, "X-Company": mine.Company.ID})
			a.header.Del("Date")
			b.header.Del("Date")
			if a.status != b.status || a.body != b.body || !equalHeaders(a.header, b.header) {
				t.Errorf("%s: other company's key %d %v %q, unknown key %d %v %q", path, a.status, a.header, a.body, b.status, b.header, b.body)
			}
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

func TestForwardAuthTakesAnyMethod(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "Facturación 100%", nil)
	srv := newTestServer(t, f.server(Options{}))
	defer srv.Close()
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"} {
		a := request(t, m, srv.URL+"/v1/auth", map[string]string{"X-Api-Key": secret})
		if a.status != 200 {
			t.Fatalf("%s /v1/auth: %d %s", m, a.status, a.body)
		}
		if got := a.header.Get("X-Apikey-Id"); got != k.ID {
			t.Errorf("%s: X-Apikey-Id %q", m, got)
		}
		if got := a.header.Get("X-Company-Id"); got != k.Company.ID {
			t.Errorf("%s: X-Company-Id %q", m, got)
		}
		// Non-ASCII bytes and % are percent-encoded, as in a URL.
		if got := a.header.Get("X-Apikey-Name"); got != "Facturaci%C3%B3n 100%25" {
			t.Errorf("%s: X-Apikey-Name %q", m, got)
		}
		if a := request(t, m, srv.URL+"/v1/auth", map[string]string{"X-Api-Key": tamper(secret)}); a.status != 401 {
			t.Errorf("%s with a bad key: %d", m, a.status)
		}
		// Envoy's ext_authz sends /v1/auth followed by the client's path.
		if a := request(t, m, srv.URL+"/v1/auth/orders/42", map[string]string{"X-Api-Key": secret}); a.status != 200 || a.header.Get("X-Apikey-Id") != k.ID {
			t.Errorf("%s /v1/auth/orders/42: %d", m, a.status)
		}
	}
}

func TestHealthAndUnknownPaths(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f.server(Options{}))
	defer srv.Close()
	if a := request(t, "GET", srv.URL+"/healthz", nil); a.status != 200 || a.body != `{"status":"ok"}`+"\n" {
		t.Errorf("/healthz: %d %s", a.status, a.body)
	}
	if a := request(t, "DELETE", srv.URL+"/healthz", nil); a.status != 405 {
		t.Errorf("DELETE /healthz: %d", a.status)
	}
	for _, p := range []string{"/", "/v1", "/v1/me/", "/v2/me", "/v1/authx", "/v1/me/x"} {
		a := request(t, "GET", srv.URL+p, nil)
		if a.status != 404 || a.body != `{"error":"not_found"}`+"\n" || a.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", p, a.status, a.body)
		}
	}
}

func TestConfiguredHeaders(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	srv := newTestServer(t, f.server(Options{KeyHeader: "x-token", CompanyHeader: "X-Tenant"}))
	defer srv.Close()
	if a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Token": secret, "X-Tenant": k.Company.ID}); a.status != 200 {
		t.Errorf("configured headers: %d %s", a.status, a.body)
	}
	if a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Token": secret, "X-Tenant": uuid.NewString()}); a.status != 401 {
		t.Errorf("configured company header not checked: %d", a.status)
	}
	if a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 401 || a.body != refusal(apikey.ReasonMissingKey) {
		t.Errorf("default key header still read: %d %s", a.status, a.body)
	}
}

// Huge headers are refused with a 4xx before any handler runs, never a 5xx, and a huge
// key that fits the bound is refused as malformed without a look at the store.
func TestHugeHeaders(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	base, _ := f.run(f.server(Options{}))
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"huge key", map[string]string{"X-Api-Key": strings.Repeat("a", 8<<10)}, 401},
		{"huge bearer", map[string]string{"Authorization": "Bearer ak_" + strings.Repeat("a", 8<<10)}, 401},
		{"huge other header", map[string]string{"X-Api-Key": secret, "X-Junk": strings.Repeat("a", 64<<10)}, 431},
		{"very huge key", map[string]string{"X-Api-Key": strings.Repeat("a", 1<<20)}, 431},
	} {
		for _, path := range []string{"/v1/me", "/v1/auth"} {
			a := request(t, "GET", base+path, tc.header)
			if a.status != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.name, path, a.status, tc.want)
			}
		}
	}
	// Many headers that together pass the bound.
	h := map[string]string{"X-Api-Key": secret}
	for i := range 2000 {
		h["X-Junk-"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+uuid.NewString()[:8]] = "y"
	}
	if a := request(t, "GET", base+"/v1/me", h); a.status != 431 {
		t.Errorf("many headers: %d", a.status)
	}
}

// A running server with its cache warm refuses a key that another handle on
// the store disables, deletes or rotates, without being told.
func TestChangesByAnotherProcessTakeEffect(t *testing.T) {
	f := newFixture(t)
	s := f.server(Options{})
	base, _ := f.run(s)
	ctx := context.Background()
	me := func(secret string) reply {
		return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	// warm waits until the server answers for secret from its cache, so
	// that what follows tests the cache's invalidation.
	warm := func(secret string) {
		t.Helper()
		f.settle(s)
		eventually(t, func() string {
			if a := me(secret); a.status != 200 {
				t.Fatalf("before the change: %d %s", a.status, a.body)
			}
			if !s.cached(secret) {
				return "the key is not cached"
			}
			return ""
		})
	}
	refusedWith := func(secret string, reason apikey.Reason) func() string {
		return func() string {
			if a := me(secret); a.status != 401 || a.body != refusal(reason) {
				return "still answered " + a.body
			}
			return ""
		}
	}

	t.Run("disable", func(t *testing.T) {
		k, secret := f.key("Acme", "to disable", nil)
		warm(secret)
		if _, err := f.admin.SetStatus(ctx, []string{k.ID}, "", store.Disable, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, refusedWith(secret, apikey.ReasonInactive))
		if _, err := f.admin.SetStatus(ctx, []string{k.ID}, "", store.Enable, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			if a := me(secret); a.status != 200 {
				return "not enabled again: " + a.body
			}
			return ""
		})
	})
	t.Run("delete", func(t *testing.T) {
		k, secret := f.key("Acme", "to delete", nil)
		warm(secret)
		if err := f.admin.DeleteKeys(ctx, []string{k.ID}, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, refusedWith(secret, apikey.ReasonInvalid))
	})
	t.Run("rotate", func(t *testing.T) {
		k, old := f.key("Acme", "to rotate", nil)
		warm(old)
		fresh, m, _ := apikey.MintSecret("ak", k.ID, nil)
		if _, err := f.admin.RotateKey(ctx, k.ID, m, 0, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, refusedWith(old, apikey.ReasonInvalid))
		if a := me(fresh); a.status != 200 {
			t.Errorf("new secret: %d %s", a.status, a.body)
		}
	})
	t.Run("expiry set", func(t *testing.T) {
		k, secret := f.key("Acme", "to expire", nil)
		warm(secret)
		past := f.clock.Now().Add(-time.Minute)
		if _, err := f.admin.UpdateKey(ctx, k.ID, "", store.KeyUpdate{ExpiresAt: &past}, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, refusedWith(secret, apikey.ReasonExpired))
	})
	t.Run("company renamed", func(t *testing.T) {
		k, secret := f.key("Initech", "renamed", nil)
		warm(secret)
		if _, err := f.admin.UpdateCompany(ctx, k.Company.ID, store.CompanyUpdate{Name: ptr("Initrode")}, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			if a := me(secret); !strings.Contains(a.body, `"name":"Initrode"`) {
				return "old company name: " + a.body
			}
			return ""
		})
	})
	t.Run("company deleted", func(t *testing.T) {
		k, secret := f.key("Hooli", "cascade", nil)
		warm(secret)
		if err := f.admin.DeleteCompanies(ctx, []string{k.Company.ID}, true, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, refusedWith(secret, apikey.ReasonInvalid))
	})
	t.Run("created after being refused", func(t *testing.T) {
		// A secret refused as unknown is remembered; issuing it must end that.
		id := uuid.NewString()
		secret, m, _ := apikey.MintSecret("ak", id, nil)
		if a := me(secret); a.status != 401 {
			t.Fatalf("unknown: %d", a.status)
		}
		eventually(t, func() string {
			me(secret)
			if !s.cachedUnknown(secret) {
				return "the unknown secret is not remembered"
			}
			return ""
		})
		if _, err := f.admin.CreateKey(ctx, store.NewKey{ID: id, Company: "Acme", Name: "late", Status: apikey.StatusActive, Secret: m, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() string {
			if a := me(secret); a.status != 200 {
				return "new key still refused: " + a.body
			}
			return ""
		})
	})
}

// Without Run, nothing watches the store, so the cache must not be used.
func TestHandlerAloneNeverServesStaleAnswers(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	srv := newTestServer(t, f.server(Options{}))
	defer srv.Close()
	if a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 200 {
		t.Fatalf("%d", a.status)
	}
	if _, err := f.admin.SetStatus(context.Background(), []string{k.ID}, "", store.Disable, "test"); err != nil {
		t.Fatal(err)
	}
	if a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 401 {
		t.Fatalf("disabled key answered %d at once after the change", a.status)
	}
}

// An answer read from the store before an invalidation must not be cached
// after it: it may predate the change.
func TestCacheRefusesAnswersOlderThanAnInvalidation(t *testing.T) {
	c := newCache(10, 10, &usage{})
	c.freshen(c.clock(), time.Hour)
	var h apikey.Hash
	h[0] = 1
	_, _, tk := c.get(h, time.Now())
	c.invalidate(map[string]bool{"other": true}, nil)
	e := c.put(h, &entry{data: "k", keyID: span{0, 1}, use: new(useCell)}, tk)
	if known, _, _ := c.size(); known != 0 {
		t.Fatal("a stale answer was cached")
	}
	if !e.use.evicted.Load() {
		t.Fatal("an uncached entry must send its uses to pending")
	}
	c.putUnknown(h, tk)
	if _, unknown, _ := c.size(); unknown != 0 {
		t.Fatal("a stale unknown was cached")
	}
	// Once the watcher stops vouching for the cache, it is bypassed.
	c.freshen(c.clock()-int64(2*time.Hour), time.Hour)
	if _, _, tk := c.get(h, time.Now()); tk.ok {
		t.Fatal("a cache nobody watches handed out a ticket")
	}
}

func TestCacheStaysBounded(t *testing.T) {
	f := newFixture(t)
	s := f.server(Options{CacheSize: 3})
	base, stop := f.run(s)
	var secrets []string
	var ids []string
	for i := range 8 {
		k, secret := f.key("Acme", "k"+string(rune('a'+i)), nil)
		secrets, ids = append(secrets, secret), append(ids, k.ID)
	}
	// The keys were created after the server's first look; wait until the
	// cache is in use again, then use every key.
	eventually(t, func() string {
		request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secrets[0]})
		if known, _, _ := s.cache.size(); known == 0 {
			return "cache not in use"
		}
		return ""
	})
	for range 3 {
		for _, secret := range secrets {
			if a := request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 200 {
				t.Fatalf("%d %s", a.status, a.body)
			}
		}
	}
	if known, _, _ := s.cache.size(); known > 3 {
		t.Errorf("%d secrets cached, bound 3", known)
	}
	for range 3000 {
		unknown, _ := apikey.NewSecret("ak")
		request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": unknown})
	}
	if _, unknown, _ := s.cache.size(); unknown > s.cache.maxUnknown {
		t.Errorf("%d unknown secrets remembered, bound %d", unknown, s.cache.maxUnknown)
	}
	// Evicted entries still have their uses written.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		k, err := f.admin.Key(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		if k.LastUsedAt == nil {
			t.Errorf("key %s: last use lost", id)
		}
	}
}

// Rotation with a grace period: the old secret works, from the cache, until
// the instant the grace ends and not after.
func TestRotationGrace(t *testing.T) {
	f := newFixture(t)
	s := f.server(Options{})
	base, _ := f.run(s)
	k, old := f.key("Acme", "rotating", nil)
	fresh, m, _ := apikey.MintSecret("ak", k.ID, nil)
	if _, err := f.admin.RotateKey(context.Background(), k.ID, m, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	graceEnd := f.clock.Now().Add(time.Hour)
	me := func(secret string) reply {
		return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	f.settle(s)
	eventually(t, func() string {
		if a := me(old); a.status != 200 {
			return "old secret refused during grace: " + a.body
		}
		if !s.cached(old) {
			return "not cached yet"
		}
		return ""
	})
	if a := me(fresh); a.status != 200 {
		t.Fatalf("new secret: %d %s", a.status, a.body)
	}
	f.clock.Set(graceEnd.Add(-time.Microsecond))
	if a := me(old); a.status != 200 {
		t.Fatalf("old secret refused a microsecond before the grace ends: %s", a.body)
	}
	f.clock.Set(graceEnd)
	if a := me(old); a.status != 401 || a.body != refusal(apikey.ReasonInvalid) {
		t.Fatalf("old secret at the end of the grace: %d %s", a.status, a.body)
	}
	if a := me(fresh); a.status != 200 {
		t.Fatalf("new secret after the grace: %d %s", a.status, a.body)
	}
	if !s.cached(old) || !s.cached(fresh) {
		t.Fatal("the answers did not come from the cache")
	}
}

func TestLastUsedIsWrittenInBatches(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	other, _ := f.key("Acme", "unused", nil)
	s := f.server(Options{FlushInterval: 20 * time.Millisecond})
	base, _ := f.run(s)
	usedAt := f.clock.Now().Add(time.Minute)
	f.clock.Set(usedAt)
	if a := request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 200 {
		t.Fatal(a.body)
	}
	eventually(t, func() string {
		got, err := f.admin.Key(context.Background(), k.ID, "")
		if err != nil {
			return err.Error()
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(usedAt) {
			return "last_used_at " + time.Time(ptrOr(got.LastUsedAt)).String()
		}
		return ""
	})
	// A refused use is not a use.
	f.clock.Set(usedAt.Add(time.Hour))
	request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret, "X-Company": uuid.NewString()})
	time.Sleep(100 * time.Millisecond) // several flushes; the check below must not change
	got, _ := f.admin.Key(context.Background(), k.ID, "")
	if !got.LastUsedAt.Equal(usedAt) {
		t.Errorf("a refused request moved last_used_at to %v", got.LastUsedAt)
	}
	if got, _ := f.admin.Key(context.Background(), other.ID, ""); got.LastUsedAt != nil {
		t.Errorf("an unused key got last_used_at %v", got.LastUsedAt)
	}
}

// A periodic flush rests after each batch as long as the batch took, so
// that it leaves most of the CPU to requests, until it has used half the
// interval between flushes; the flush at shutdown does not rest.
func TestFlushRests(t *testing.T) {
	for _, c := range []struct{ took, since, every, want time.Duration }{
		{10 * time.Millisecond, 0, 30 * time.Second, 10 * time.Millisecond},
		{10 * time.Millisecond, 14 * time.Second, 30 * time.Second, 10 * time.Millisecond},
		{10 * time.Millisecond, 15 * time.Second, 30 * time.Second, 0},
		{10 * time.Millisecond, time.Minute, 30 * time.Second, 0},
	} {
		if got := flushRest(c.took, c.since, c.every); got != c.want {
			t.Errorf("flushRest(%v, %v, %v) = %v, want %v", c.took, c.since, c.every, got, c.want)
		}
	}

	f := newFixture(t)
	s := f.server(Options{FlushInterval: time.Hour})
	// Every key of a directory of three batches in use.
	n := 2*flushBatch + 1
	d := &directory{keys: make([]dirKey, n), uses: make([]useCell, n)}
	for i := range d.keys {
		d.keys[i].id = uuid.New()
	}
	s.cache.install(d)
	at := time.Now().UnixNano()
	use := func() {
		at += int64(time.Minute)
		for i := range d.uses {
			d.uses[i].lastUsed.Store(at)
		}
	}
	var rests []time.Duration
	s.rest = func(_ context.Context, d time.Duration) { rests = append(rests, d) }
	use()
	if err := s.flushSome(context.Background(), flushSlack); err != nil {
		t.Fatal(err)
	}
	if len(rests) != 2 || rests[0] <= 0 || rests[1] <= 0 {
		t.Errorf("a periodic flush of three batches rested %v, want twice", rests)
	}
	rests = nil
	use()
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rests) != 0 {
		t.Errorf("the flush at shutdown rested %v", rests)
	}
}

func ptrOr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func TestShutdownWritesPendingLastUsed(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	s := f.server(Options{FlushInterval: time.Hour})
	base, stop := f.run(s)
	if a := request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 200 {
		t.Fatal(a.body)
	}
	if got, _ := f.admin.Key(context.Background(), k.ID, ""); got.LastUsedAt != nil {
		t.Fatal("a verification wrote to the store")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, err := f.admin.Key(context.Background(), k.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock.Now()) {
		t.Errorf("last_used_at after shutdown: %v", got.LastUsedAt)
	}
}

// A request under way when shutdown begins is answered; new connections are
// refused.
func TestGracefulShutdownFinishesRequests(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	s := f.server(Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	s.inHandler = func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("X-Test-Hold")) != 0 {
			close(entered)
			<-release
		}
	}
	base, stop := f.run(s)
	type result struct {
		reply
		err error
	}
	answered := make(chan result, 1)
	go func() {
		a, err := tryRequest("GET", base+"/v1/me", map[string]string{"X-Api-Key": secret, "X-Test-Hold": "1"})
		answered <- result{a, err}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	eventually(t, func() string {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err == nil {
			c.Close()
			return "still accepting connections"
		}
		return ""
	})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned with a request under way: %v", err)
	default:
	}
	close(release)
	if a := <-answered; a.err != nil || a.status != 200 {
		t.Errorf("request under way: %v %d %s", a.err, a.status, a.body)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the last request")
	}
}

// A request still under way when the shutdown's time is up has its
// connection cut, and Run says so.
func TestShutdownCutsWhatOutlivesIt(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	s := f.server(Options{ShutdownTimeout: 300 * time.Millisecond})
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s.inHandler = func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("X-Test-Hold")) != 0 {
			close(entered)
			<-release
		}
	}
	base, stop := f.run(s)
	answered := make(chan error, 1)
	go func() {
		_, err := tryRequest("GET", base+"/v1/me", map[string]string{"X-Api-Key": secret, "X-Test-Hold": "1"})
		answered <- err
	}()
	<-entered
	if err := stop(); err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("Run: %v, want requests cut off", err)
	}
	select {
	case err := <-answered:
		if err == nil {
			t.Error("the request held past the shutdown was answered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the connection of the request held past the shutdown was not cut")
	}
}

func TestStoreFailureIsNotARefusal(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	s := f.server(Options{})
	srv := newTestServer(t, s)
	defer srv.Close()
	f.st.Close()
	s.watchOnce(context.Background())
	if a := request(t, "GET", srv.URL+"/healthz", nil); a.status != 503 {
		t.Errorf("/healthz with the store closed: %d", a.status)
	}
	if a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret}); a.status != 503 || a.body != `{"error":"unavailable"}`+"\n" {
		t.Errorf("good key with the store closed: %d %s", a.status, a.body)
	}
	// A malformed key needs no store, and is refused as ever.
	if a := request(t, "GET", srv.URL+"/v1/auth", map[string]string{"X-Api-Key": tamper(secret)}); a.status != 401 {
		t.Errorf("malformed key with the store closed: %d", a.status)
	}
	s.log.flush()
	if !strings.Contains(f.log.String(), `msg="cannot read the store`) {
		t.Errorf("store failure not logged:\n%s", f.log)
	}
}

func TestLogHasOneLinePerRequestAndNoSecret(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	s := f.server(Options{})
	base, stop := f.run(s)
	requests := []struct {
		method, path string
		header       map[string]string
		want         string
	}{
		{"GET", "/v1/me", map[string]string{"X-Api-Key": secret}, "method=GET path=/v1/me status=200 key=" + k.ID + " duration_ms="},
		{"POST", "/v1/auth", map[string]string{"Authorization": "Bearer " + secret, "X-Company": uuid.NewString()}, "method=POST path=/v1/auth status=401 reason=invalid key=" + k.ID + " duration_ms="},
		{"GET", "/v1/me", map[string]string{"X-Api-Key": tamper(secret)}, "method=GET path=/v1/me status=401 reason=malformed duration_ms="},
		{"GET", "/keys/" + secret, nil, `method=GET path=/keys/… status=404 duration_ms=`},
		{"GET", "/a%0Atime=forged", nil, `method=GET path="/a\ntime=forged" status=404`},
		{"GET", "/healthz", nil, "method=GET path=/healthz status=200 duration_ms="},
	}
	for _, r := range requests {
		request(t, r.method, base+r.path, r.header)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	log := f.log.String()
	if strings.Contains(log, secret) || strings.Contains(log, secret[3:20]) || strings.Contains(log, tamper(secret)[10:]) {
		t.Fatalf("the log holds a secret:\n%s", log)
	}
	lines := requestLines(log)
	if len(lines) != len(requests) {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), len(requests), log)
	}
	for i, r := range requests {
		if !strings.HasPrefix(lines[i], "time=") || !strings.Contains(lines[i], " level=INFO msg=request "+r.want) {
			t.Errorf("line %d: %s\nwant it to hold %s", i, lines[i], r.want)
		}
	}
}

func TestListenReportsABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(Options{Addr: ln.Addr().String()})
	err = s.Listen()
	var ae *apikey.Error
	if !errors.As(err, &ae) || ae.Kind != apikey.KindRuntime || !strings.Contains(err.Error(), "cannot listen on "+ln.Addr().String()) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Listen on a busy address: %v", err)
	}
}

func TestMeBodyIsTheDocumentedShape(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	srv := newTestServer(t, f.server(Options{}))
	defer srv.Close()
	a := request(t, "GET", srv.URL+"/v1/me", map[string]string{"X-Api-Key": secret})
	var doc map[string]any
	if err := json.Unmarshal([]byte(a.body), &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	want := map[string]bool{"id": true, "name": true, "company": true, "scopes": true, "metadata": true, "expires_at": true}
	if len(keys) != len(want) {
		t.Fatalf("fields %v", keys)
	}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("unexpected field %q", k)
		}
	}
	if doc["expires_at"] != nil || doc["company"].(map[string]any)["ref"] != nil {
		t.Errorf("unset values must be null: %s", a.body)
	}
}

// TestHeaderLimit sends real requests whose request line and headers come to
// exactly the documented bound, one byte more, and 20 KiB: the bound holds to
// the byte (net/http, the server before fasthttp, allowed 4096 bytes beyond
// its MaxHeaderBytes, which once let a 20 KiB block through to be answered
// 401).
func TestHeaderLimit(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	base, _ := f.run(f.server(Options{}))
	addr := strings.TrimPrefix(base, "http://")
	const documented = 16 << 10 // docs/serve.md, "Limits and timeouts"
	for _, tc := range []struct {
		size int
		want int
	}{
		{documented, 200},
		{documented + 1, 431},
		{20 << 10, 431},
	} {
		head := "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + secret + "\r\nConnection: close\r\nX-Junk: "
		req := head + strings.Repeat("a", tc.size-len(head)-len("\r\n\r\n")) + "\r\n\r\n"
		if len(req) != tc.size {
			t.Fatalf("built %d bytes, want %d", len(req), tc.size)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.size, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("a request of %d bytes: %d, want %d", tc.size, resp.StatusCode, tc.want)
		}
	}
}

// TestOneCompanyOneKey: a request names its company and its key once. More
// than one company header line, or an empty one, is refused as invalid
// (the same values joined by a comma always were), whatever the key, so
// that no line after the first slips past the check. Credentials that could
// disagree (several key header lines, or a key header beside a Bearer token
// of the secret format that differs) are refused as malformed, without a
// look at the store. Key reasons come first: no key is still missing_key.
func TestOneCompanyOneKey(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "k", nil)
	other, otherSecret := f.key("Globex", "theirs", nil)
	unknown, err := apikey.NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	own, theirs := k.Company.ID, other.Company.ID
	base, _ := f.run(f.server(Options{}))
	for _, tc := range []struct {
		name   string
		header [][2]string
		status int
		reason apikey.Reason
	}{
		{"own company once", [][2]string{{"X-Api-Key", secret}, {"X-Company", own}}, 200, ""},
		{"own company twice", [][2]string{{"X-Api-Key", secret}, {"X-Company", own}, {"X-Company", own}}, 401, apikey.ReasonInvalid},
		{"own then another", [][2]string{{"X-Api-Key", secret}, {"X-Company", own}, {"X-Company", theirs}}, 401, apikey.ReasonInvalid},
		{"another then own", [][2]string{{"X-Api-Key", secret}, {"X-Company", theirs}, {"X-Company", own}}, 401, apikey.ReasonInvalid},
		{"empty then own", [][2]string{{"X-Api-Key", secret}, {"X-Company", ""}, {"X-Company", own}}, 401, apikey.ReasonInvalid},
		{"own then empty", [][2]string{{"X-Api-Key", secret}, {"X-Company", own}, {"X-Company", ""}}, 401, apikey.ReasonInvalid},
		{"empty alone", [][2]string{{"X-Api-Key", secret}, {"X-Company", ""}}, 401, apikey.ReasonInvalid},
		{"blank alone", [][2]string{{"X-Api-Key", secret}, {"X-Company", "  "}}, 401, apikey.ReasonInvalid},
		{"comma-joined", [][2]string{{"X-Api-Key", secret}, {"X-Company", own + "," + own}}, 401, apikey.ReasonInvalid},
		{"two lines, unknown key", [][2]string{{"X-Api-Key", unknown}, {"X-Company", own}, {"X-Company", own}}, 401, apikey.ReasonInvalid},
		{"two lines, no key", [][2]string{{"X-Company", own}, {"X-Company", own}}, 401, apikey.ReasonMissingKey},
		{"two lines, bad key", [][2]string{{"X-Api-Key", "ak_nope"}, {"X-Company", own}, {"X-Company", ""}}, 401, apikey.ReasonMalformed},

		{"key twice", [][2]string{{"X-Api-Key", secret}, {"X-Api-Key", secret}}, 401, apikey.ReasonMalformed},
		{"key and another key", [][2]string{{"X-Api-Key", secret}, {"X-Api-Key", otherSecret}}, 401, apikey.ReasonMalformed},
		{"empty key line then key", [][2]string{{"X-Api-Key", ""}, {"X-Api-Key", secret}}, 401, apikey.ReasonMalformed},
		{"key and another Bearer", [][2]string{{"X-Api-Key", secret}, {"Authorization", "Bearer " + otherSecret}}, 401, apikey.ReasonMalformed},
		{"Bearer and another key", [][2]string{{"Authorization", "bearer " + otherSecret}, {"X-Api-Key", secret}}, 401, apikey.ReasonMalformed},
		{"key and an unknown Bearer", [][2]string{{"X-Api-Key", secret}, {"Authorization", "Bearer " + unknown}}, 401, apikey.ReasonMalformed},
		{"two Bearers", [][2]string{{"Authorization", "Bearer " + secret}, {"Authorization", "Bearer " + secret}}, 401, apikey.ReasonMalformed},
		{"key and the same Bearer", [][2]string{{"X-Api-Key", secret}, {"Authorization", "Bearer " + secret}}, 200, ""},
		{"key and a Bearer of another system", [][2]string{{"X-Api-Key", secret}, {"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo"}}, 200, ""},
		{"key and Basic", [][2]string{{"X-Api-Key", secret}, {"Authorization", "Basic Zm9vOmJhcg=="}}, 200, ""},
		{"empty key header, Bearer", [][2]string{{"X-Api-Key", ""}, {"Authorization", "Bearer " + secret}}, 200, ""},
	} {
		for _, path := range []string{"/v1/me", "/v1/auth"} {
			req, err := http.NewRequest("GET", base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.header {
				req.Header[h[0]] = append(req.Header[h[0]], h[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || tc.reason != "" && string(body) != refusal(tc.reason) {
				t.Errorf("%s %s: %d %s, want %d %s", tc.name, path, resp.StatusCode, body, tc.status, tc.reason)
			}
		}
	}
}
