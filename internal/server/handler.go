package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/valyala/fasthttp"
)

// Answers that do not depend on the key are encoded once. A refusal has the
// same body whatever the endpoint, so that a gateway can pass it on.
var (
	refusals = map[apikey.Reason]string{}

	notFoundBody    = `{"error":"not_found"}` + "\n"
	notAllowedBody  = `{"error":"method_not_allowed"}` + "\n"
	unavailableBody = `{"error":"unavailable"}` + "\n"
	healthyBody     = `{"status":"ok"}` + "\n"
	degradedBody    = `{"status":"degraded"}` + "\n"
	unhealthyBody   = `{"status":"unavailable"}` + "\n"

	badRequestBody     = `{"error":"bad_request"}` + "\n"
	headerTooLargeBody = `{"error":"header_too_large"}` + "\n"
	bodyTooLargeBody   = `{"error":"body_too_large"}` + "\n"
	timeoutBody        = `{"error":"request_timeout"}` + "\n"

	jsonType        = []byte("application/json")
	noStore         = []byte("no-store")
	bearerChallenge = []byte(`Bearer realm="apikey"`)
	getOnly         = []byte("GET, HEAD")
)

func init() {
	for _, r := range []apikey.Reason{apikey.ReasonMissingKey, apikey.ReasonMalformed, apikey.ReasonInvalid, apikey.ReasonInactive, apikey.ReasonExpired} {
		refusals[r] = `{"error":"unauthorized","reason":"` + string(r) + `"}` + "\n"
	}
}

// meJSON is the answer of /v1/me: the key and whose it is, nothing secret
// and nothing that changes with use, so that it can be encoded once.
type meJSON struct {
	ID        string                `json:"id"`
	Name      string                `json:"name"`
	Company   output.CompanyRefJSON `json:"company"`
	Scopes    []string              `json:"scopes"`
	Metadata  map[string]string     `json:"metadata"`
	ExpiresAt *time.Time            `json:"expires_at"`
}

func meBody(k apikey.Key) string {
	v := output.KeyView(k, time.Time{})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Encoding plain strings, slices and maps cannot fail.
	_ = enc.Encode(meJSON{ID: v.ID, Name: v.Name, Company: v.Company, Scopes: v.Scopes, Metadata: v.Metadata, ExpiresAt: v.ExpiresAt})
	return buf.String()
}

// headerSafe makes a key name fit a header value: names are one printable
// line of UTF-8, but bytes outside ASCII are read differently by different
// proxies, so they (and %) are percent-encoded, as in a URL. An ASCII name
// is sent as it is.
func headerSafe(name string) string {
	const hex = "0123456789ABCDEF"
	if !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r >= 0x7f || r == '%' }) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x20 && c < 0x7f && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Handler answers the endpoints of SPEC.md. It is a fasthttp handler,
// not net/http's: docs/decisions.md says why.
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

// outcome is what the request log says of a request.
type outcome struct {
	status int
	reason apikey.Reason
	keyID  string
	err    error
}

// endpoint is the endpoint a request's path names (metrics.go), as a
// constant string that the log and the metrics take without allocating; ""
// for none. Envoy's ext_authz appends the client's path to its path
// prefix, so anything under /v1/auth/ is /v1/auth.
func endpoint(path []byte) string {
	switch string(path) {
	case endpointMe:
		return endpointMe
	case endpointAuth:
		return endpointAuth
	case endpointHealth:
		return endpointHealth
	case endpointMetrics:
		return endpointMetrics
	}
	if bytes.HasPrefix(path, []byte(endpointAuth+"/")) {
		return endpointAuth
	}
	return ""
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	if s.inHandler != nil {
		s.inHandler(ctx)
	}
	var o outcome
	path := endpoint(ctx.Path())
	readOnly := ctx.IsGet() || ctx.IsHead()
	switch path {
	case endpointMe:
		if !readOnly {
			o.status = notAllowed(ctx)
			break
		}
		o = s.authenticate(ctx, start, false)
	case endpointAuth:
		// Gateways forward the client's method, whatever it is.
		o = s.authenticate(ctx, start, true)
	case endpointHealth:
		if !readOnly {
			o.status = notAllowed(ctx)
			break
		}
		o.status = s.healthz(ctx)
	case endpointMetrics:
		if s.metrics == nil {
			o.status = answer(ctx, http.StatusNotFound, notFoundBody)
			break
		}
		if !readOnly {
			o.status = notAllowed(ctx)
			break
		}
		s.metrics.handler(ctx)
		o.status = ctx.Response.StatusCode()
	default:
		o.status = answer(ctx, http.StatusNotFound, notFoundBody)
	}
	d := time.Since(start)
	s.metrics.request(path, o, d)
	if path == "" {
		path = string(ctx.Path())
	}
	s.log.request(methodName(ctx.Method()), path, o, start, d)
}

// methodName is a request's method as a string, without allocating for the
// usual ones.
func methodName(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	}
	return string(m)
}

func notAllowed(ctx *fasthttp.RequestCtx) int {
	ctx.Response.Header.SetBytesV("Allow", getOnly)
	return answer(ctx, http.StatusMethodNotAllowed, notAllowedBody)
}

// healthz answers /healthz: 200 ok; 200 degraded while the store cannot be
// read but the cache may still answer (within serve.stale_for), so that a
// load balancer keeps a server that answers most checks; 503 unavailable
// once every check that needs the store fails.
func (s *Server) healthz(ctx *fasthttp.RequestCtx) int {
	switch s.health() {
	case healthDegraded:
		return answer(ctx, http.StatusOK, degradedBody)
	case healthUnavailable:
		return answer(ctx, http.StatusServiceUnavailable, unhealthyBody)
	}
	return answer(ctx, http.StatusOK, healthyBody)
}

func answer(ctx *fasthttp.RequestCtx, status int, body string) int {
	ctx.Response.Header.SetContentTypeBytes(jsonType)
	ctx.SetStatusCode(status)
	ctx.Response.SetBodyString(body)
	return status
}

// authenticate answers /v1/me and /v1/auth. start is when the request came
// in, read from the system's clock; keys are judged by s.now, which is that
// clock unless a test set another.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, start time.Time, forwardAuth bool) outcome {
	now := start
	if s.now != nil {
		now = s.now()
	}
	secret, ambiguous := presentedSecret(&ctx.Request.Header, s.keyHeader)
	company, companyOK := presentedCompany(ctx.Request.Header.PeekAll(s.companyHeader))
	var e *entry
	var reason apikey.Reason
	var err error
	if ambiguous {
		reason = apikey.ReasonMalformed
	} else {
		e, reason, err = s.verify(secret, company, companyOK, now, start)
	}
	h := &ctx.Response.Header
	h.SetBytesV("Cache-Control", noStore)
	switch {
	case err != nil:
		// The store could not be read: the key may well be good, so this
		// is the server's failure, never a refusal.
		return outcome{status: answer(ctx, http.StatusServiceUnavailable, unavailableBody), err: err}
	case reason != apikey.ReasonNone:
		h.SetBytesV("WWW-Authenticate", bearerChallenge)
		o := outcome{status: answer(ctx, http.StatusUnauthorized, refusals[reason]), reason: reason}
		if e != nil {
			o.keyID = e.keyIDString()
		}
		return o
	}
	if e.limits.n != 0 {
		if o, refused := s.enforceLimits(ctx, e, now); refused {
			return o
		}
	}
	e.markUsed(now.UnixNano(), s.pending)
	if forwardAuth {
		h.Set("X-Apikey-Id", e.keyIDString())
		h.Set("X-Apikey-Name", e.nameHeader())
		h.Set("X-Company-Id", e.companyIDString())
	}
	return outcome{status: answer(ctx, http.StatusOK, e.body()), keyID: e.keyIDString()}
}

// presentedSecret is the key header's value, else the token of an
// Authorization: Bearer header, else "". ambiguous reports credentials that
// could disagree, which are refused rather than one of them picked, lest
// serve and the API behind a gateway each read another: more than one key
// header line, more than one Bearer token without a key header, or a key
// header beside a Bearer token of the secret format that differs from it. A
// Bearer token of another kind (a JWT for the API itself) is not ours and
// does not count. An empty key header counts as none, as gateways blank it.
func presentedSecret(h *fasthttp.RequestHeader, keyHeader string) (secret string, ambiguous bool) {
	keys := h.PeekAll(keyHeader)
	if len(keys) > 1 {
		return "", true
	}
	key := ""
	if len(keys) == 1 {
		key = string(keys[0])
	}
	bearer, bearers := "", 0
	for _, a := range h.PeekAll("Authorization") {
		if len(a) <= 7 || !strings.EqualFold(string(a[:7]), "bearer ") {
			continue
		}
		token := strings.TrimLeft(string(a[7:]), " ")
		if key != "" {
			if token != key && apikey.CheckSecret(token) == nil {
				return "", true
			}
			continue
		}
		bearer = token
		bearers++
	}
	switch {
	case key != "":
		return key, false
	case bearers > 1:
		return "", true
	}
	return bearer, false
}

// presentedCompany is the company header's value, "" when it is not sent.
// ok is false when it is sent more than once or empty: only the first line
// would be checked while an API behind a gateway may read another, so such a
// request is refused (as invalid), as the same values joined by a comma are.
func presentedCompany(v [][]byte) (company string, ok bool) {
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return string(v[0]), len(v[0]) != 0
	}
	return "", false
}

// lookupContext bounds a request's read of the store by the time its
// answer may take to be written (server.Bound): an answer later than that
// could not be sent anyway.
func lookupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), writeTimeout)
}

// verify judges a presented secret. A malformed one is refused by its
// checksum without a look at the cache or the store (unless it may be a
// legacy secret, which is looked up by its hash as any other), and so is any secret
// when the company header is sent more than once or empty (companyOK false).
func (s *Server) verify(secret, company string, companyOK bool, now, start time.Time) (*entry, apikey.Reason, error) {
	if secret == "" {
		return nil, apikey.ReasonMissingKey, nil
	}
	if apikey.CheckSecret(secret) != nil && !s.mayBeLegacy(secret, start) {
		return nil, apikey.ReasonMalformed, nil
	}
	if !companyOK {
		// Refused whatever the key, without a look at the store, so that
		// the answer says nothing of it.
		return nil, apikey.ReasonInvalid, nil
	}
	h := apikey.HashSecret(secret)
	e, unknown, t := s.cache.get(h, start)
	if unknown {
		return nil, apikey.ReasonInvalid, nil
	}
	if e == nil {
		ctx, cancel := lookupContext()
		p, found, err := s.store.LookupSecret(ctx, h)
		cancel()
		if err != nil {
			return nil, apikey.ReasonNone, err
		}
		if !found {
			s.cache.putUnknown(h, t)
			return nil, apikey.ReasonInvalid, nil
		}
		e = s.cache.put(h, newEntry(p), t)
	}
	return e, e.judge(company, now), nil
}
