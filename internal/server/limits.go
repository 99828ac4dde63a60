package server

import (
	"encoding/binary"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// A key's rate limit and allowlist are checked after everything that makes
// a key refused as 401: an unknown, disabled or expired key, or another
// company's, is answered the same from any address and at any rate, so
// neither check tells a client anything of a key that does not work. Then
// the allowlist (403), then the rate limit (429), so that requests from
// outside the allowlist never spend a key's budget. docs/serve.md and
// docs/decisions.md say why.

var (
	forbiddenBody   = `{"error":"forbidden","reason":"` + string(apikey.ReasonIPNotAllowed) + `"}` + "\n"
	rateLimitedBody = `{"error":"rate_limited","reason":"` + string(apikey.ReasonRateLimited) + `"}` + "\n"
)

// The limits of a key are packed at the end of its entry's data, so that an
// entry keeps its one pointer (see entry) and a key without limits costs
// nothing but a length check: 4 bytes N and 4 bytes the period in seconds
// (0 and 0 for no rate limit), 1 byte that is 1 when the key has an
// allowlist, then each prefix of the allowlist as its length in bits, the
// length of its address in bytes (4 or 16) and the address.
const limitsHeader = 9

// packLimits packs a key's rate limit and allowlist, "" when it has neither.
// They were checked when written; a rate limit that cannot be read is taken
// as the strictest there is and an address that cannot be read as no
// address, so that a damaged row never lets more through.
func packLimits(k apikey.Key) string {
	if k.RateLimit == "" && len(k.AllowedIPs) == 0 {
		return ""
	}
	b := make([]byte, limitsHeader, limitsHeader+len(k.AllowedIPs)*18)
	if k.RateLimit != "" {
		rl, err := apikey.ParseRateLimit(k.RateLimit)
		if err != nil {
			rl = apikey.RateLimit{N: 1, Per: time.Hour}
		}
		binary.BigEndian.PutUint32(b[0:], uint32(rl.N))
		binary.BigEndian.PutUint32(b[4:], uint32(rl.Per/time.Second))
	}
	if len(k.AllowedIPs) > 0 {
		b[8] = 1
	}
	for _, s := range k.AllowedIPs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		a := p.Addr().AsSlice()
		b = append(b, byte(p.Bits()), byte(len(a)))
		b = append(b, a...)
	}
	return string(b)
}

// rateLimit is the key's rate limit: n requests per period; n 0 for none.
func (e *entry) rateLimit() (n int, per time.Duration) {
	l := e.part(e.limits)
	if len(l) < limitsHeader {
		return 0, 0
	}
	return int(be32(l[0:4])), time.Duration(be32(l[4:8])) * time.Second
}

func be32(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// hasAllowlist reports whether the key may be used from some addresses only.
func (e *entry) hasAllowlist() bool {
	l := e.part(e.limits)
	return len(l) >= limitsHeader && l[8] == 1
}

// allows reports whether the key's allowlist holds a; an invalid a (no
// client address could be told) is in none.
func (e *entry) allows(a netip.Addr) bool {
	l := e.part(e.limits)[limitsHeader:]
	for len(l) >= 2 {
		bits, n := int(l[0]), int(l[1])
		if len(l) < 2+n {
			return false
		}
		var addr netip.Addr
		switch n {
		case 4:
			addr = netip.AddrFrom4([4]byte{l[2], l[3], l[4], l[5]})
		case 16:
			var a [16]byte
			copy(a[:], l[2:18])
			addr = netip.AddrFrom16(a)
		}
		if netip.PrefixFrom(addr, bits).Contains(a) {
			return true
		}
		l = l[2+n:]
	}
	return false
}

// clientAddr is the address of the client that sent r: the connection's
// peer, or, only when the peer is a trusted proxy, the address it forwards
// (forwardedAddr). IPv4-mapped IPv6 addresses are taken as IPv4. The zero
// Addr, which no allowlist holds, when the peer's address cannot be read.
func (s *Server) clientAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	tcp, ok := ctx.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	peer, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !s.trusts(peer) {
		return peer
	}
	return s.forwardedAddr(&ctx.Request.Header, peer)
}

func (s *Server) trusts(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedAddr is the client's address as trusted proxies tell it, read the
// way nginx's realip module does with real_ip_recursive on. X-Forwarded-For
// is read from the right (several lines are one list, in order): each
// address is believed while the one after it, starting with the peer, is a
// trusted proxy. So the client is the rightmost address that is not a
// trusted proxy, or the leftmost when all are; whatever a client puts in the
// header itself stays to the left of what a trusted proxy appended, and is
// never reached. An item that is not an address stops the walk at the last
// address believed. Without X-Forwarded-For, one X-Real-IP line is the
// client's address. peer is a trusted proxy.
func (s *Server) forwardedAddr(h *fasthttp.RequestHeader, peer netip.Addr) netip.Addr {
	lines := h.PeekAll("X-Forwarded-For")
	if len(lines) == 0 {
		if real := h.PeekAll("X-Real-Ip"); len(real) == 1 {
			if a, ok := parseForwarded(strings.TrimSpace(string(real[0]))); ok {
				return a
			}
		}
		return peer
	}
	addr := peer
	for i := len(lines) - 1; i >= 0; i-- {
		line := string(lines[i])
		for line != "" {
			var item string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				line, item = line[:j], line[j+1:]
			} else {
				line, item = "", line
			}
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			if !s.trusts(addr) {
				return addr
			}
			a, ok := parseForwarded(item)
			if !ok {
				return addr
			}
			addr = a
		}
	}
	return addr
}

// parseForwarded reads an address as a proxy forwards it: 192.0.2.1,
// 2001:db8::1, or either with a port (192.0.2.1:443, [2001:db8::1]:443), or
// an IPv6 address in brackets. A zone is not an address a client can have.
func parseForwarded(s string) (netip.Addr, bool) {
	if strings.IndexByte(s, '%') >= 0 {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// limiters holds a token bucket per rate-limited key, by key id, for as many
// keys as the cache holds secrets. A bucket that has filled up again can be
// dropped without changing any answer, since a new one starts full; those
// go first when room is needed.
type limiters struct {
	mu  sync.RWMutex
	m   map[string]*keyLimiter
	max int
}

// keyLimiter is a key's bucket and the limit it was made for: a key whose
// limit changed gets a new bucket (its entry is read again from the store
// once the change's event evicts it).
type keyLimiter struct {
	n   int
	per time.Duration
	lim *rate.Limiter
}

func newLimiters(max int) *limiters {
	return &limiters{m: map[string]*keyLimiter{}, max: max}
}

// allow takes one request from the bucket of key id, limited to n per per,
// at now. When the bucket is empty it returns false and how long until it
// holds a request again, in whole seconds, at least 1.
//
// The bucket holds n requests and refills at n per period: a key may use
// its whole limit at once after a quiet period, as "100/m" reads, and on
// average no more than n per period.
func (l *limiters) allow(id string, n int, per time.Duration, now time.Time) (ok bool, retryAfter int) {
	l.mu.RLock()
	kl := l.m[id]
	l.mu.RUnlock()
	if kl == nil || kl.n != n || kl.per != per {
		kl = l.add(id, n, per, now)
	}
	if kl.lim.AllowN(now, 1) {
		return true, 0
	}
	// Seconds until one request's worth has come back, rounded up, and one
	// more should the limiter's arithmetic not agree at that instant.
	missing := 1 - kl.lim.TokensAt(now)
	secs := int(math.Ceil(missing*per.Seconds()/float64(n) - 1e-9))
	secs = max(secs, 1)
	if kl.lim.TokensAt(now.Add(time.Duration(secs)*time.Second)) < 1 {
		secs++
	}
	return false, secs
}

// add makes a bucket for key id, or returns the one another request just
// made for the same limit.
func (l *limiters) add(id string, n int, per time.Duration, now time.Time) *keyLimiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if kl := l.m[id]; kl != nil && kl.n == n && kl.per == per {
		return kl
	}
	if _, replacing := l.m[id]; !replacing && len(l.m) >= l.max {
		l.makeRoom(now)
	}
	kl := &keyLimiter{n: n, per: per, lim: rate.NewLimiter(rate.Limit(float64(n)/per.Seconds()), n)}
	// A copy of the id: the entry's id is part of its data, which the map
	// would otherwise keep alive after the entry is gone.
	l.m[strings.Clone(id)] = kl
	return kl
}

// makeRoom drops the buckets that are full at now, which changes nothing,
// and when that is not an eighth of them, random others too.
func (l *limiters) makeRoom(now time.Time) {
	for id, kl := range l.m {
		if kl.lim.TokensAt(now) >= float64(kl.n) {
			delete(l.m, id)
		}
	}
	for id := range l.m {
		if len(l.m) < l.max-l.max/8 {
			break
		}
		delete(l.m, id)
	}
}

// size is the number of buckets held.
func (l *limiters) size() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.m)
}

// enforceLimits answers for a key that has an allowlist or a rate limit,
// when r's address or rate is refused: 403 ip_not_allowed or 429
// rate_limited with Retry-After. It returns false, having written nothing,
// when the request may go on.
func (s *Server) enforceLimits(ctx *fasthttp.RequestCtx, e *entry, now time.Time) (outcome, bool) {
	if e.hasAllowlist() && !e.allows(s.clientAddr(ctx)) {
		return outcome{status: answer(ctx, http.StatusForbidden, forbiddenBody), reason: apikey.ReasonIPNotAllowed, keyID: e.keyIDString()}, true
	}
	n, per := e.rateLimit()
	if n == 0 {
		return outcome{}, false
	}
	ok, retryAfter := s.limiters.allow(e.keyIDString(), n, per, now)
	if ok {
		return outcome{}, false
	}
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(retryAfter))
	return outcome{status: answer(ctx, http.StatusTooManyRequests, rateLimitedBody), reason: apikey.ReasonRateLimited, keyID: e.keyIDString()}, true
}
