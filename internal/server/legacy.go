package server

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// legacyCounter is a Store that can count its secrets of another system's
// format (import --plaintext); *store.Store can. A Store that cannot leaves
// the count unknown, and every secret that may be a legacy one is looked up.
type legacyCounter interface {
	LegacySecrets(ctx context.Context) (int, error)
}

// legacyUnknown is the count of legacy secrets before the first look at the
// store, or after a look that could not count them: a secret of a legacy
// secret's shape is then looked up, since it may be good.
const legacyUnknown = -1

// countLegacy learns how many legacy secrets the store holds. The watcher
// calls it after each look that found a change: an import, a rotation or a
// deletion is always recorded in the trail.
func (s *Server) countLegacy(ctx context.Context) {
	lc, ok := s.store.(legacyCounter)
	if !ok {
		return
	}
	n, err := lc.LegacySecrets(ctx)
	if err != nil {
		s.legacy.Store(legacyUnknown)
		return
	}
	s.legacy.Store(int64(n))
}

// mayBeLegacy reports whether a secret that fails apikey's checksum is worth
// a look at the store: it has a legacy secret's shape (and not apikey's,
// which makes it a mistyped apikey secret), and the store may hold legacy
// secrets. A store without them costs such a secret no lookup, and a secret
// of apikey's format costs nothing more whatever the store holds.
//
// The watcher's count is trusted as the cache is, while a look at the store
// vouches for it (start is when the request came in). Otherwise (a server
// without a watcher, or one whose watcher cannot reach the store) the store
// is asked, as a cache miss asks it.
func (s *Server) mayBeLegacy(secret string, start time.Time) bool {
	if !apikey.LegacyCandidate(secret) {
		return false
	}
	if s.cache.clockAt(start) < s.cache.freshUntil.Load() {
		return s.legacy.Load() != 0
	}
	lc, ok := s.store.(legacyCounter)
	if !ok {
		return true
	}
	ctx, cancel := lookupContext()
	defer cancel()
	n, err := lc.LegacySecrets(ctx)
	// A store that cannot count cannot look up either: the lookup then
	// says so (503), rather than refuse a key that may be good.
	return err != nil || n > 0
}
