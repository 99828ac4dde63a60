package server

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// entry is what the server keeps of a secret the store knows: enough to judge
// it at request time and to answer, with the answer's body encoded once. A
// server may hold every key of an installation, and the garbage collector
// looks at every pointer of every entry in each cycle, so an entry holds
// few: its data (the body, then the name header when it does not appear in
// the body, then the key's rate limit and allowlist, packed, limits.go) and
// where its uses are recorded. Ids and name are spans of the data; times are
// integers. An entry of the directory (directory.go) is assembled for each
// request, and records its uses in the directory.
type entry struct {
	data     string // first, so that the collector stops looking after use
	use      *useCell
	bodyLen  uint32
	keyID    span
	company  span
	name     span
	limits   span // empty for a key without rate limit or allowlist
	active   bool
	expires  int64 // when the key expires, Unix µs; noExpiry for never
	graceEnd int64 // when an old secret stops working, Unix µs; noExpiry for never
}

// useCell is where the uses of a key are recorded.
type useCell struct {
	// lastUsed is the Unix time in nanoseconds of the last accepted use, 0
	// for none. Requests store it; the flusher writes it to the store.
	lastUsed atomic.Int64
	// flushed is the lastUsed value last handed to the store.
	flushed atomic.Int64
	// evicted is set once the key has left the cache or the directory (or
	// never entered it): a use recorded after that goes to the pending
	// uses instead, so that no use is lost between an eviction and the
	// next flush.
	evicted atomic.Bool
	// created is when the key was created, Unix µs, which the store
	// needs to write its last use (store.KeyUse). Set before the cell is
	// in service, never changed.
	created int64
}

// evict takes the cell out of service and returns its last use not yet
// flushed, 0 for none, for the pending uses.
func (u *useCell) evict() int64 {
	u.evicted.Store(true)
	if used := u.lastUsed.Load(); used > u.flushed.Load() {
		return used
	}
	return 0
}

// span is a part of an entry's data.
type span struct{ off, n uint32 }

const noExpiry = math.MaxInt64

func newEntry(p store.Presented) *entry {
	k := p.Key
	data := meBody(k)
	bodyLen := len(data)
	nameHeader := headerSafe(k.Name)
	if !strings.Contains(data, nameHeader) {
		data += nameHeader
	}
	packed := packLimits(k)
	e := makeEntry(data+packed, bodyLen, k.ID, k.Company.ID, nameHeader, len(packed))
	e.active = k.Status == apikey.StatusActive
	e.expires = micros(k.ExpiresAt)
	e.graceEnd = micros(p.SecretExpiresAt)
	e.use = &useCell{created: k.CreatedAt.UnixMicro()}
	return e
}

// makeEntry makes an entry of data, which holds the body (its first bodyLen
// bytes), the key's id, its company's id, its name header, and ends with
// limitsLen bytes of packed limits.
func makeEntry(data string, bodyLen int, keyID, companyID, nameHeader string, limitsLen int) *entry {
	within := func(s string) span {
		i := strings.Index(data, s) // found: each was put there
		return span{uint32(i), uint32(len(s))}
	}
	return &entry{
		data:    data,
		bodyLen: uint32(bodyLen),
		keyID:   within(keyID),
		company: within(companyID),
		name:    within(nameHeader),
		limits:  span{off: uint32(len(data) - limitsLen), n: uint32(limitsLen)},
	}
}

func micros(t *time.Time) int64 {
	if t == nil {
		return noExpiry
	}
	return t.UnixMicro()
}

func (e *entry) part(s span) string { return e.data[s.off : s.off+s.n] }

// body is the JSON answer of /v1/me and /v1/auth.
func (e *entry) body() string { return e.data[:e.bodyLen] }

func (e *entry) keyIDString() string     { return e.part(e.keyID) }
func (e *entry) companyIDString() string { return e.part(e.company) }

// nameHeader is the value of X-Apikey-Name, percent-encoded.
func (e *entry) nameHeader() string { return e.part(e.name) }

// judge decides at request time, so that an expiry or the end of a grace
// period takes effect at that instant even for a cached entry. The company
// header must be the key's company id; a key of another company is refused
// exactly as an unknown one.
func (e *entry) judge(company string, now time.Time) apikey.Reason {
	if company != "" && !strings.EqualFold(company, e.companyIDString()) {
		return apikey.ReasonInvalid
	}
	k := apikey.Key{Status: apikey.StatusInactive}
	if e.active {
		k.Status = apikey.StatusActive
	}
	var expires, graceEnd time.Time
	if e.expires != noExpiry {
		expires = time.UnixMicro(e.expires)
		k.ExpiresAt = &expires
	}
	var grace *time.Time
	if e.graceEnd != noExpiry {
		graceEnd = time.UnixMicro(e.graceEnd)
		grace = &graceEnd
	}
	return apikey.Judge(k, grace, "", now)
}

// usedResolution is how finely uses are recorded: a key used thousands of
// times a second is written to memory at most once a second, which keeps
// cores from fighting over the entry, and last_used_at only has to be right
// to within a minute.
const usedResolution = int64(time.Second)

// markUsed records an accepted use at now.
func (e *entry) markUsed(now int64, pending *usage) {
	u := e.use
	for {
		old := u.lastUsed.Load()
		if now < old+usedResolution {
			return
		}
		if u.lastUsed.CompareAndSwap(old, now) {
			break
		}
	}
	// Paired with evict, which sets evicted before reading lastUsed: either
	// the eviction sees this use or this sees the eviction (or both, which
	// only records the use twice).
	if u.evicted.Load() {
		pending.add(keyUse(e.keyIDString(), u.created, now))
	}
}

// evict takes the entry out of service and hands its last use over to
// pending.
func (e *entry) evict(pending *usage) {
	if used := e.use.evict(); used != 0 {
		pending.add(keyUse(e.keyIDString(), e.use.created, used))
	}
}

// usage holds last-use times that are waiting to be written: those of
// evicted entries and of failed flushes.
type usage struct {
	mu      sync.Mutex
	pending map[string]store.KeyUse // by key id
}

func (u *usage) add(use store.KeyUse) {
	u.mu.Lock()
	if u.pending == nil {
		u.pending = map[string]store.KeyUse{}
	}
	keepLatest(u.pending, use)
	u.mu.Unlock()
}

func (u *usage) take() map[string]store.KeyUse {
	u.mu.Lock()
	p := u.pending
	u.pending = nil
	u.mu.Unlock()
	return p
}

// ticket is what a cache miss carries to the store and back: an entry read
// from the store is kept only if no invalidation happened meanwhile, since
// the store may have answered from before the change.
type ticket struct {
	gen uint64
	ok  bool
}

// cache maps the hashes of presented secrets to what the store said of them.
// It is kept right by the watcher (see watch.go), which evicts what changed
// and marks the cache fresh after each successful look at the store. When the
// watcher has not looked for longer than freshFor, the cache is bypassed, so
// a stuck watcher can never make a revoked key work.
type cache struct {
	mu      sync.RWMutex
	gen     uint64
	keys    map[apikey.Hash]*entry
	unknown map[apikey.Hash]struct{} // secrets the store does not know
	// dir holds every key the store had when it was loaded, nil before
	// (directory.go); keys holds those it does not have or evicted since.
	dir *directory
	// found counts the secrets found in the store since dir was
	// installed: keys created or changed since the load.
	found atomic.Int64

	maxKeys, maxUnknown int
	pending             *usage

	base       time.Time    // monotonic origin of freshUntil
	freshUntil atomic.Int64 // nanoseconds since base

	// Looks by result, for /metrics. Each on a cache line of its own, so
	// that counting does not slow the reading of freshUntil.
	hits, misses, unknowns lineCounter
}

// lineCounter is a counter alone on its cache line.
type lineCounter struct {
	_ [64]byte
	n atomic.Uint64
}

func newCache(maxKeys, maxUnknown int, pending *usage) *cache {
	return &cache{
		keys:       map[apikey.Hash]*entry{},
		unknown:    map[apikey.Hash]struct{}{},
		maxKeys:    maxKeys,
		maxUnknown: maxUnknown,
		pending:    pending,
		base:       time.Now(),
	}
}

// clock is the monotonic time the freshness of the cache is measured in.
func (c *cache) clock() int64 { return c.clockAt(time.Now()) }

// clockAt is the clock at t, a reading of time.Now.
func (c *cache) clockAt(t time.Time) int64 { return int64(t.Sub(c.base)) }

// freshen marks the cache as right as of a look at the store that began at
// start (a clock value), for the next d.
func (c *cache) freshen(start int64, d time.Duration) { c.freshUntil.Store(start + int64(d)) }

// get looks a hash up at now, a reading of time.Now. A nil entry and unknown
// false is a miss: ask the store, then put the answer with the ticket.
func (c *cache) get(h apikey.Hash, now time.Time) (e *entry, unknown bool, t ticket) {
	if c.clockAt(now) >= c.freshUntil.Load() {
		c.misses.n.Add(1)
		return nil, false, ticket{}
	}
	c.mu.RLock()
	e = c.keys[h]
	if e == nil {
		_, unknown = c.unknown[h]
	}
	if e == nil && !unknown && c.dir != nil {
		e = c.dir.find(h)
	}
	t = ticket{gen: c.gen, ok: true}
	c.mu.RUnlock()
	switch {
	case e != nil:
		c.hits.n.Add(1)
	case unknown:
		c.unknowns.n.Add(1)
	default:
		c.misses.n.Add(1)
	}
	return e, unknown, t
}

// fresh reports whether the watcher vouches for the cache now.
func (c *cache) fresh() bool { return c.clock() < c.freshUntil.Load() }

// lookups are the counts of looks by result.
func (c *cache) lookups() (hits, misses, unknowns uint64) {
	return c.hits.n.Load(), c.misses.n.Load(), c.unknowns.n.Load()
}

// put keeps e for h unless the cache was invalidated since t was issued. It
// returns the entry to use: the one already cached for h, if any, so that
// uses of a key are counted in one place.
func (c *cache) put(h apikey.Hash, e *entry, t ticket) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.ok || t.gen != c.gen {
		e.use.evicted.Store(true)
		return e
	}
	if old := c.keys[h]; old != nil {
		return old
	}
	if c.dir != nil {
		c.found.Add(1)
	}
	if len(c.keys) >= c.maxKeys {
		// Map iteration starts at a random place: this evicts a random
		// entry, which is cheap and good enough for a cache that holds
		// every key of most installations.
		for oh, old := range c.keys {
			delete(c.keys, oh)
			old.evict(c.pending)
			break
		}
	}
	c.keys[h] = e
	return e
}

// putUnknown remembers that the store does not know h, so that a client
// repeating a deleted or rotated secret does not cost a read each time. The
// set is bounded: when full it starts over, which keeps memory flat against
// a flood of random secrets with valid checksums.
func (c *cache) putUnknown(h apikey.Hash, t ticket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.ok || t.gen != c.gen {
		return
	}
	if len(c.unknown) >= c.maxUnknown {
		clear(c.unknown)
	}
	c.unknown[h] = struct{}{}
}

// invalidate evicts the entries of the given keys and companies, forgets
// every unknown secret (a new key or secret may have any of those hashes),
// and voids the tickets of misses under way.
func (c *cache) invalidate(keys, companies map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.unknown)
	if len(keys) == 0 && len(companies) == 0 {
		return
	}
	if c.dir != nil {
		c.dir.evict(keys, companies, c.pending)
	}
	for h, e := range c.keys {
		if keys[e.keyIDString()] || companies[e.companyIDString()] {
			delete(c.keys, h)
			e.evict(c.pending)
		}
	}
}

// invalidateAll empties the cache and drops the directory.
func (c *cache) invalidateAll() {
	c.mu.Lock()
	old, dir := c.keys, c.dir
	c.keys = map[apikey.Hash]*entry{}
	c.unknown = map[apikey.Hash]struct{}{}
	c.dir = nil
	c.gen++
	c.mu.Unlock()
	for _, e := range old {
		e.evict(c.pending)
	}
	if dir != nil {
		dir.evictAll(c.pending)
	}
}

// install puts d in service, in place of the directory before it (if any).
// The watcher has brought it up to date: it accounts for every change the
// cache does.
func (c *cache) install(d *directory) {
	c.mu.Lock()
	old := c.dir
	c.dir = d
	c.found.Store(0)
	c.mu.Unlock()
	if old != nil {
		old.evictAll(c.pending)
	}
}

// directory is the directory in service, nil for none.
func (c *cache) directory() *directory {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.dir
}

// uses appends to into the last uses of cached entries and of the
// directory's keys that are more than slack (ns) past what was last
// flushed, and marks them flushed; the directory's in its order, which is
// the store's (directory.go). Whenever into holds batch keys, it is handed
// to write and emptied. It returns what is left. Only the flusher calls it.
func (c *cache) uses(into []store.KeyUse, slack int64, batch int, write func([]store.KeyUse) error) []store.KeyUse {
	c.mu.RLock()
	for _, e := range c.keys {
		if used, ok := e.use.take(slack); ok {
			into = append(into, keyUse(e.keyIDString(), e.use.created, used))
		}
	}
	d := c.dir
	c.mu.RUnlock()
	if d == nil {
		return into
	}
	// The directory does not change once loaded, so it is read without
	// the lock, which writing would otherwise hold for long.
	for i := range d.uses {
		if used, ok := d.uses[i].take(slack); ok {
			into = append(into, keyUse(d.keys[i].id.String(), d.uses[i].created, used))
		}
		if len(into) >= batch {
			// A failed write keeps its uses in pending.
			_ = write(into)
			into = into[:0]
		}
	}
	return into
}

// keyUse is a use at used (Unix ns) of the key id created at created (Unix
// µs), as the store takes it.
func keyUse(id string, created, used int64) store.KeyUse {
	return store.KeyUse{KeyID: id, CreatedAt: time.UnixMicro(created).UTC(), At: time.Unix(0, used).UTC()}
}

// keepLatest records use in uses, unless a later use of its key is there
// already (a failed flush's, kept in pending).
func keepLatest(uses map[string]store.KeyUse, use store.KeyUse) {
	if old, ok := uses[use.KeyID]; !ok || use.At.After(old.At) {
		uses[use.KeyID] = use
	}
}

// take returns the cell's last use, and marks it flushed, when it is more
// than slack (ns) past what was last flushed; ok is false otherwise.
func (u *useCell) take(slack int64) (used int64, ok bool) {
	used = u.lastUsed.Load()
	if used == 0 || used <= u.flushed.Load()+slack || u.evicted.Load() {
		return 0, false
	}
	u.flushed.Store(used)
	return used, true
}

// size is the number of cached secrets and unknown secrets, and of keys the
// directory holds in service.
func (c *cache) size() (known, unknown, directory int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.dir != nil {
		directory = c.dir.size()
	}
	return len(c.keys), len(c.unknown), directory
}
