package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/valyala/fasthttp"
)

const (
	forbidden   = `{"error":"forbidden","reason":"ip_not_allowed"}` + "\n"
	rateLimited = `{"error":"rate_limited","reason":"rate_limited"}` + "\n"
)

// call answers one request from peer (the connection's address, host:port)
// with headers, which may be given more than once, without a network: the
// tests choose the peer's address.
func call(s *Server, method, path, peer string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = peer
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return record(s, r)
}

func withKey(secret string, more ...string) http.Header {
	h := http.Header{"X-Api-Key": {secret}}
	for i := 0; i+1 < len(more); i += 2 {
		h[http.CanonicalHeaderKey(more[i])] = append(h[http.CanonicalHeaderKey(more[i])], more[i+1])
	}
	return h
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "limited", func(n *store.NewKey) { n.RateLimit = "3/m" })
	_, otherLimited := f.key("Acme", "also limited", func(n *store.NewKey) { n.RateLimit = "3/m" })
	_, free := f.key("Acme", "free", nil)
	s := f.server(Options{})
	const peer = "192.0.2.1:1234"

	for _, path := range []string{"/v1/me", "/v1/auth"} {
		t.Run(path, func(t *testing.T) {
			start := f.clock.Now()
			// The whole limit at once, then refused.
			for i := range 3 {
				if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 200 {
					t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
				}
			}
			w := call(s, "GET", path, peer, withKey(secret))
			if w.Code != 429 || w.Body.String() != rateLimited {
				t.Fatalf("request 4: %d %s", w.Code, w.Body)
			}
			h := w.Header()
			// 3/m refills one request every 20 seconds.
			if h.Get("Retry-After") != "20" || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("429 headers %v", h)
			}
			if h.Get("X-Apikey-Id") != "" || h.Get("Www-Authenticate") != "" {
				t.Errorf("a 429 names a key or asks for another: %v", h)
			}
			// Other keys have buckets of their own.
			if w := call(s, "GET", path, peer, withKey(otherLimited)); w.Code != 200 {
				t.Errorf("another limited key: %d", w.Code)
			}
			for range 20 {
				if w := call(s, "GET", path, peer, withKey(free)); w.Code != 200 {
					t.Fatalf("a key without a limit: %d", w.Code)
				}
			}
			// Retry-After counts down with the clock, rounded up.
			f.clock.Set(start.Add(12500 * time.Millisecond))
			if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 429 || w.Header().Get("Retry-After") != "8" {
				t.Errorf("12.5 s later: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
			}
			f.clock.Set(start.Add(19999 * time.Millisecond))
			if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 429 || w.Header().Get("Retry-After") != "1" {
				t.Errorf("just before: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
			}
			// After Retry-After, one request; then refused again.
			f.clock.Set(start.Add(20 * time.Second))
			if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 200 {
				t.Errorf("after Retry-After: %d %s", w.Code, w.Body)
			}
			if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 429 || w.Header().Get("Retry-After") != "20" {
				t.Errorf("then: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
			}
			// A quiet period fills the bucket up to the limit, not beyond.
			f.clock.Set(start.Add(time.Hour))
			for i := range 3 {
				if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 200 {
					t.Fatalf("after an hour, request %d: %d", i+1, w.Code)
				}
			}
			if w := call(s, "GET", path, peer, withKey(secret)); w.Code != 429 {
				t.Errorf("after an hour, request 4: %d", w.Code)
			}
			f.clock.Set(start.Add(2 * time.Hour))
		})
	}
	// HEAD counts too, and a refused request is not a use.
	for range 3 {
		if w := call(s, "HEAD", "/v1/me", peer, withKey(secret)); w.Code != 200 {
			t.Fatalf("HEAD: %d", w.Code)
		}
	}
	if p := s.pending.take(); p[k.ID].At.IsZero() {
		t.Fatal("an accepted request was not recorded as a use")
	}
	for range 3 {
		if w := call(s, "HEAD", "/v1/me", peer, withKey(secret)); w.Code != 429 {
			t.Fatalf("HEAD over the limit: %d", w.Code)
		}
	}
	if p := s.pending.take(); !p[k.ID].At.IsZero() {
		t.Errorf("a rate-limited request was recorded as a use")
	}
	s.log.flush()
	if log := f.log.String(); !strings.Contains(log, "status=429 reason=rate_limited key="+k.ID) {
		t.Errorf("the log does not say why:\n%s", log)
	}
}

func TestRateLimitPeriods(t *testing.T) {
	f := newFixture(t)
	s := f.server(Options{})
	for _, tc := range []struct {
		limit      string
		retryAfter string
	}{
		{"1/s", "1"},
		{"10/s", "1"}, // a tenth of a second, rounded up
		{"1/m", "60"},
		{"7/h", "515"}, // 514.3 s
		{"1/h", "3600"},
		{"1000/h", "4"}, // 3.6 s
	} {
		_, secret := f.key("Acme", tc.limit, func(n *store.NewKey) { n.RateLimit = tc.limit })
		rl, _ := apikey.ParseRateLimit(tc.limit)
		start := f.clock.Now()
		for i := range rl.N {
			if w := call(s, "GET", "/v1/me", "192.0.2.1:1", withKey(secret)); w.Code != 200 {
				t.Fatalf("%s: request %d: %d", tc.limit, i+1, w.Code)
			}
		}
		w := call(s, "GET", "/v1/me", "192.0.2.1:1", withKey(secret))
		if w.Code != 429 || w.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%s: %d, Retry-After %q, want %s", tc.limit, w.Code, w.Header().Get("Retry-After"), tc.retryAfter)
		}
		var secs int
		fmt.Sscan(w.Header().Get("Retry-After"), &secs)
		f.clock.Set(start.Add(time.Duration(secs) * time.Second))
		if w := call(s, "GET", "/v1/me", "192.0.2.1:1", withKey(secret)); w.Code != 200 {
			t.Errorf("%s: refused again after Retry-After: %d", tc.limit, w.Code)
		}
		f.clock.Set(start.Add(24 * time.Hour))
	}
}

// The limit is the key's: the secrets of a rotation share it. A change of
// limit, made by another process while the server runs, takes effect with a
// bucket of the new size.
func TestRateLimitFollowsTheKey(t *testing.T) {
	f := newFixture(t)
	s := f.server(Options{})
	base, _ := f.run(s)
	k, old := f.key("Acme", "rotating", func(n *store.NewKey) { n.RateLimit = "2/h" })
	fresh, m, _ := apikey.MintSecret("ak", k.ID, nil)
	if _, err := f.admin.RotateKey(context.Background(), k.ID, m, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	f.settle(s)
	me := func(secret string) reply {
		return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	if a, b := me(old), me(fresh); a.status != 200 || b.status != 200 {
		t.Fatalf("old and new secret: %d, %d", a.status, b.status)
	}
	if a, b := me(old), me(fresh); a.status != 429 || b.status != 429 {
		t.Fatalf("the secrets of one key have a budget each: %d, %d", a.status, b.status)
	}
	if !s.cached(old) || !s.cached(fresh) {
		t.Fatal("not answered from the cache")
	}
	if _, err := f.admin.UpdateKey(context.Background(), k.ID, "", store.KeyUpdate{RateLimit: ptr("3/h")}, "test"); err != nil {
		t.Fatal(err)
	}
	f.settle(s)
	for i := range 3 {
		if a := me(fresh); a.status != 200 {
			t.Fatalf("new limit, request %d: %d %s", i+1, a.status, a.body)
		}
	}
	if a := me(fresh); a.status != 429 || a.header.Get("Retry-After") != "1200" {
		t.Fatalf("new limit, request 4: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if _, err := f.admin.UpdateKey(context.Background(), k.ID, "", store.KeyUpdate{RateLimit: ptr("")}, "test"); err != nil {
		t.Fatal(err)
	}
	f.settle(s)
	for i := range 10 {
		if a := me(fresh); a.status != 200 {
			t.Fatalf("limit removed, request %d: %d", i+1, a.status)
		}
	}
}

func TestAllowlist(t *testing.T) {
	f := newFixture(t)
	k, secret := f.key("Acme", "office", func(n *store.NewKey) {
		n.AllowedIPs = []string{"203.0.113.0/24", "2001:db8::/32", "::ffff:198.51.100.9"}
	})
	_, proxyOnly := f.key("Acme", "proxy only", func(n *store.NewKey) { n.AllowedIPs = []string{"10.0.0.5"} })
	_, anywhere := f.key("Acme", "anywhere", nil)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8")}
	s := f.server(Options{TrustedProxies: trusted})
	untrusting := f.server(Options{})

	xff := func(v ...string) []string { return append([]string{"X-Forwarded-For"}, v...) }
	h := func(secret string, pairs ...[]string) http.Header {
		header := withKey(secret)
		for _, p := range pairs {
			for _, v := range p[1:] {
				header.Add(p[0], v)
			}
		}
		return header
	}
	for _, tc := range []struct {
		name   string
		s      *Server
		peer   string
		header http.Header
		want   int
	}{
		{"IPv4 inside", s, "203.0.113.7:5000", h(secret), 200},
		{"IPv4 outside", s, "203.0.114.7:5000", h(secret), 403},
		{"IPv6 inside", s, "[2001:db8:1::7]:5000", h(secret), 200},
		{"IPv6 outside", s, "[2001:db9::7]:5000", h(secret), 403},
		{"IPv4-mapped peer inside", s, "[::ffff:203.0.113.7]:5000", h(secret), 200},
		{"IPv4-mapped entry", s, "198.51.100.9:5000", h(secret), 200},
		{"IPv6 zone", s, "[2001:db8::1%eth0]:5000", h(secret), 200},
		{"no address", s, "@", h(secret), 403},
		{"no allowlist", s, "192.0.2.200:5000", h(anywhere), 200},

		// A forged X-Forwarded-For or X-Real-IP from a peer that is not a
		// trusted proxy changes nothing.
		{"forged from outside", s, "192.0.2.1:5000", h(secret, xff("203.0.113.7")), 403},
		{"forged real ip", s, "192.0.2.1:5000", h(secret, []string{"X-Real-Ip", "203.0.113.7"}), 403},
		{"forged inside still inside", s, "203.0.113.7:5000", h(secret, xff("192.0.2.1")), 200},
		{"no trusted proxies", untrusting, "10.0.0.2:5000", h(secret, xff("203.0.113.7")), 403},

		// A trusted proxy tells the address.
		{"trusted proxy", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7")), 200},
		{"trusted proxy, outside", s, "10.0.0.2:5000", h(secret, xff("192.0.2.1")), 403},
		{"trusted IPv6 proxy", s, "[::1]:5000", h(secret, xff("2001:db8::9")), 200},
		{"trusted proxy, IPv4-mapped", s, "[::ffff:10.0.0.2]:5000", h(secret, xff("::ffff:203.0.113.7")), 200},
		{"trusted proxy, no header", s, "10.0.0.2:5000", h(secret), 403},
		{"trusted proxy, address with port", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7:443")), 200},
		{"trusted proxy, IPv6 with port", s, "10.0.0.2:5000", h(secret, xff("[2001:db8::9]:443")), 200},
		{"trusted proxy, IPv6 in brackets", s, "10.0.0.2:5000", h(secret, xff("[2001:db8::9]")), 200},
		// The rightmost address that is not a trusted proxy is the client;
		// what the client sent is to the left of it.
		{"client forges through a proxy", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7, 192.0.2.1")), 403},
		{"chain of trusted proxies", s, "10.0.0.2:5000", h(secret, xff("192.0.2.1, 203.0.113.7, 10.0.0.3, fd00::1")), 200},
		{"chain, outside", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7, 192.0.2.1, 10.0.0.3")), 403},
		{"empty items", s, "10.0.0.2:5000", h(secret, xff(" , 203.0.113.7 ,, ")), 200},
		{"all trusted: the leftmost", s, "10.0.0.2:5000", h(proxyOnly, xff("10.0.0.5, 10.0.0.3")), 200},
		{"all trusted: not another", s, "10.0.0.2:5000", h(proxyOnly, xff("10.0.0.3, 10.0.0.5")), 403},
		{"not an address stops the walk", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7, unknown")), 403},
		{"not an address stops at a proxy", s, "10.0.0.2:5000", h(proxyOnly, xff("unknown, 10.0.0.5")), 200},
		{"a zone is not an address", s, "10.0.0.2:5000", h(secret, xff("2001:db8::1%eth0")), 403},
		// Several X-Forwarded-For lines are one list, in order.
		{"two lines", s, "10.0.0.2:5000", h(secret, xff("192.0.2.1", "203.0.113.7")), 200},
		{"two lines, outside last", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7", "192.0.2.1")), 403},
		{"two lines, proxy last", s, "10.0.0.2:5000", h(secret, xff("192.0.2.9, 203.0.113.7", "10.0.0.3")), 200},
		{"two lines, forged", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7, 192.0.2.1", "10.0.0.3")), 403},
		// X-Real-IP, when there is no X-Forwarded-For.
		{"real ip", s, "10.0.0.2:5000", h(secret, []string{"X-Real-Ip", "203.0.113.7"}), 200},
		{"real ip, outside", s, "10.0.0.2:5000", h(secret, []string{"X-Real-Ip", "192.0.2.1"}), 403},
		{"real ip, IPv6", s, "[::1]:5000", h(secret, []string{"X-Real-Ip", "2001:db8::5"}), 200},
		{"real ip twice", s, "10.0.0.2:5000", h(secret, []string{"X-Real-Ip", "203.0.113.7", "203.0.113.8"}), 403},
		{"forwarded-for first", s, "10.0.0.2:5000", h(secret, xff("192.0.2.1"), []string{"X-Real-Ip", "203.0.113.7"}), 403},
		{"forwarded-for first, inside", s, "10.0.0.2:5000", h(secret, xff("203.0.113.7"), []string{"X-Real-Ip", "192.0.2.1"}), 200},
	} {
		for _, path := range []string{"/v1/me", "/v1/auth"} {
			w := call(tc.s, "GET", path, tc.peer, tc.header)
			if w.Code != tc.want {
				t.Errorf("%s, %s: %d %s, want %d", tc.name, path, w.Code, w.Body, tc.want)
				continue
			}
			switch {
			case tc.want == 403 && (w.Body.String() != forbidden || w.Header().Get("X-Apikey-Id") != "" || w.Header().Get("Www-Authenticate") != ""):
				t.Errorf("%s, %s: 403 with %v %s", tc.name, path, w.Header(), w.Body)
			case tc.want == 200 && path == "/v1/auth" && w.Header().Get("X-Apikey-Id") == "":
				t.Errorf("%s, %s: no X-Apikey-Id", tc.name, path)
			}
		}
	}
	s.log.flush()
	if log := f.log.String(); !strings.Contains(log, "status=403 reason=ip_not_allowed key="+k.ID) {
		t.Errorf("the log does not say why:\n%s", log)
	}
}

// What makes a key refused as 401 comes first, from any address: an
// allowlist never tells a client that a key exists, or is disabled. The
// allowlist comes before the rate limit, so that requests from outside do
// not spend a key's budget.
func TestOrderOfChecks(t *testing.T) {
	f := newFixture(t)
	limit := func(n *store.NewKey) { n.AllowedIPs, n.RateLimit = []string{"203.0.113.0/24"}, "1/h" }
	good, secret := f.key("Acme", "good", limit)
	_, disabled := f.key("Acme", "off", func(n *store.NewKey) { limit(n); n.Status = apikey.StatusInactive })
	_, theirs := f.key("Globex", "theirs", limit)
	unknown, _ := apikey.NewSecret("ak")
	s := f.server(Options{})
	const inside, outside = "203.0.113.7:5000", "192.0.2.1:5000"

	unknownAnswer := call(s, "GET", "/v1/me", outside, withKey(unknown))
	for _, tc := range []struct {
		name   string
		peer   string
		header http.Header
		status int
		body   string
	}{
		{"unknown from outside", outside, withKey(unknown), 401, refusal(apikey.ReasonInvalid)},
		{"another company's from outside", outside, withKey(theirs, "X-Company", good.Company.ID), 401, refusal(apikey.ReasonInvalid)},
		{"disabled from outside", outside, withKey(disabled), 401, refusal(apikey.ReasonInactive)},
		{"malformed from outside", outside, withKey(tamper(secret)), 401, refusal(apikey.ReasonMalformed)},
		{"good from outside", outside, withKey(secret), 403, forbidden},
		{"good from outside again", outside, withKey(secret), 403, forbidden},
		{"good from inside: the budget is whole", inside, withKey(secret), 200, ""},
		{"over the limit from outside", outside, withKey(secret), 403, forbidden},
		{"over the limit from inside", inside, withKey(secret), 429, rateLimited},
		{"disabled from inside", inside, withKey(disabled), 401, refusal(apikey.ReasonInactive)},
	} {
		w := call(s, "GET", "/v1/me", tc.peer, tc.header)
		if w.Code != tc.status || tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.body)
		}
		if strings.HasPrefix(tc.name, "another company") && (w.Body.String() != unknownAnswer.Body.String() || !equalHeaders(w.Header(), unknownAnswer.Header())) {
			t.Errorf("another company's key with an allowlist does not look unknown: %v %s", w.Header(), w.Body)
		}
	}
}

// A change of allowlist made by another process takes effect while the
// server runs, from its cache.
func TestAllowlistChangeTakesEffect(t *testing.T) {
	f := newFixture(t)
	s := f.server(Options{})
	base, _ := f.run(s)
	k, secret := f.key("Acme", "k", func(n *store.NewKey) { n.AllowedIPs = []string{"127.0.0.1"} })
	f.settle(s)
	me := func() int {
		return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}).status
	}
	if code := me(); code != 200 || !s.cached(secret) {
		t.Fatalf("from 127.0.0.1: %d, cached %v", code, s.cached(secret))
	}
	for _, tc := range []struct {
		ips  []string
		want int
	}{
		{[]string{"192.0.2.0/24"}, 403},
		{[]string{"192.0.2.0/24", "127.0.0.0/8"}, 200},
		{[]string{"::1"}, 403},
		{[]string{}, 200},
	} {
		if _, err := f.admin.UpdateKey(context.Background(), k.ID, "", store.KeyUpdate{AllowedIPs: tc.ips}, "test"); err != nil {
			t.Fatal(err)
		}
		f.settle(s)
		if code := me(); code != tc.want {
			t.Errorf("allowlist %q: %d, want %d", tc.ips, code, tc.want)
		}
	}
}

func TestLimitersStayBounded(t *testing.T) {
	l := newLimiters(64)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Busy keys: their buckets are not full.
	for i := range 32 {
		if ok, _ := l.allow(fmt.Sprint("busy", i), 1, time.Hour, now); !ok {
			t.Fatal("a first request refused")
		}
	}
	// Many more keys, each used once and then idle for long enough to be
	// full again.
	for i := range 1000 {
		now = now.Add(time.Second)
		l.allow(fmt.Sprint("idle", i), 1000, time.Second, now)
		if n := l.size(); n > 64 {
			t.Fatalf("%d buckets held, at most 64 wanted", n)
		}
	}
	// The busy buckets were kept: dropping them would give their keys a
	// new budget.
	for i := range 32 {
		if ok, _ := l.allow(fmt.Sprint("busy", i), 1, time.Hour, now); ok {
			t.Fatalf("busy key %d got a new bucket", i)
		}
	}
	// When every bucket is busy, room is still made.
	l = newLimiters(64)
	for i := range 1000 {
		l.allow(fmt.Sprint("busy", i), 1, time.Hour, now)
		if n := l.size(); n > 64 {
			t.Fatalf("%d busy buckets held, at most 64 wanted", n)
		}
	}
}

func TestParseForwarded(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"192.0.2.1:80":          "192.0.2.1",
		"2001:db8::1":           "2001:db8::1",
		"[2001:db8::1]:80":      "2001:db8::1",
		"[2001:db8::1]":         "2001:db8::1",
		"::ffff:192.0.2.1":      "192.0.2.1",
		"[::ffff:192.0.2.1]:80": "192.0.2.1",
		"unknown":               "",
		"_hidden":               "",
		"":                      "",
		"192.0.2.1/24":          "",
		"fe80::1%eth0":          "",
		"[fe80::1%eth0]:80":     "",
		"[192.0.2.1]":           "",
		"192.0.2.256":           "",
		"1.2.3.4 5.6.7.8":       "",
	} {
		a, ok := parseForwarded(in)
		if got := ""; ok {
			got = a.String()
			if got != want {
				t.Errorf("%q: %s, want %q", in, got, want)
			}
		} else if want != "" {
			t.Errorf("%q: not read, want %s", in, want)
		}
	}
}

// Keys with limits, once their bucket exists, allocate nothing more than
// a key without: a request allocates the secret's string (fasthttp hands
// headers as bytes) and, through a proxy, the X-Forwarded-For line's.
func TestLimitsDoNotAllocate(t *testing.T) {
	f := newFixture(t)
	_, plain := f.key("Acme", "plain", nil)
	_, limited := f.key("Acme", "limited", func(n *store.NewKey) {
		n.RateLimit, n.AllowedIPs = "1000000/s", []string{"192.0.2.0/24", "2001:db8::/32", "127.0.0.1"}
	})
	s := New(Options{Store: f.st, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	s.watchOnce(context.Background())
	s.cache.freshen(s.cache.clock(), time.Hour)
	for _, tc := range []struct {
		name   string
		secret string
		peer   string
		xff    string
		allocs float64
	}{
		{"no limits", plain, "192.0.2.1:1234", "", 1},
		{"limits", limited, "127.0.0.1:1234", "", 1},
		{"limits through a proxy", limited, "10.0.0.1:1234", "203.0.113.9, 2001:db8::1, 10.0.0.2", 2},
	} {
		r, _ := http.NewRequest("GET", "/v1/me", nil)
		r.Header.Set("X-Api-Key", tc.secret)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		ctx := requestCtx(r)
		serveAgain(s, ctx)
		if !s.cached(tc.secret) {
			t.Fatalf("%s: not cached", tc.name)
		}
		if n := testing.AllocsPerRun(100, func() { serveAgain(s, ctx) }); n != tc.allocs {
			t.Errorf("%s: %v allocations per request", tc.name, n)
		}
	}
}

// BenchmarkHandlerMeLimited is BenchmarkHandlerMe (log=false) with keys
// that have an allowlist and a rate limit they stay under, the client's
// address told by a trusted proxy: what the two checks add.
func BenchmarkHandlerMeLimited(b *testing.B) {
	f := newFixture(&testing.T{})
	defer f.st.Close()
	defer f.admin.Close()
	const n = 1000
	secrets := make([]string, n)
	for i := range secrets {
		_, secrets[i] = f.key("Acme", fmt.Sprint("k", i), func(k *store.NewKey) {
			k.RateLimit, k.AllowedIPs = "1000000/s", []string{"192.0.2.0/24", "2001:db8::/32", "203.0.113.0/24"}
		})
	}
	s := New(Options{Store: f.st, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	s.watchOnce(context.Background())
	s.cache.freshen(s.cache.clock(), time.Hour)
	reqs := make([]*http.Request, n)
	for i, secret := range secrets {
		reqs[i], _ = http.NewRequest("GET", "/v1/me", nil)
		reqs[i].Header.Set("X-Api-Key", secret)
		reqs[i].Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.2")
		reqs[i].RemoteAddr = "10.0.0.1:1234"
	}
	for _, r := range reqs {
		serveAgain(s, requestCtx(r))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		ctxs := requestCtxs(reqs)
		for pb.Next() {
			serveAgain(s, ctxs[i%n])
			i++
		}
	})
}

// FuzzForwardedAddr: whatever X-Forwarded-For and X-Real-IP hold, the
// client's address is the trusted peer or an address the headers name, and
// reading them never panics.
func FuzzForwardedAddr(f *testing.F) {
	for _, seed := range [][2]string{
		{"203.0.113.7, 10.0.0.3", ""},
		{"", "203.0.113.7"},
		{",,, ,", "x"},
		{"[2001:db8::1]:443,unknown", ""},
		{"fe80::1%eth0", "::ffff:1.2.3.4"},
	} {
		f.Add(seed[0], seed[1])
	}
	s := New(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, xff, real string) {
		var h fasthttp.RequestHeader
		if xff != "" {
			for _, line := range strings.Split(xff, "\n") {
				h.Add("X-Forwarded-For", line)
			}
		}
		if real != "" {
			h.Set("X-Real-Ip", real)
		}
		a := s.forwardedAddr(&h, peer)
		if a == peer {
			return
		}
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("%q, %q: %v", xff, real, a)
		}
		if !strings.Contains(xff+real, a.String()) && !strings.Contains(strings.ToLower(xff+real), a.StringExpanded()) {
			// Written some other way (leading zeros in IPv6, say): it
			// must still be one of the items.
			found := false
			for _, item := range strings.FieldsFunc(xff+","+real, func(r rune) bool { return r == ',' || r == '\n' }) {
				if b, ok := parseForwarded(strings.TrimSpace(item)); ok && b == a {
					found = true
				}
			}
			if !found {
				t.Fatalf("%q, %q: %v is none of the items", xff, real, a)
			}
		}
	})
}
