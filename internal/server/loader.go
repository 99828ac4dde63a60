package server

import (
	"context"
	"log/slog"
	"time"
)

// The directory (directory.go) is loaded at start, before the server
// answers: a server that answered at once would answer most requests from
// the store, at a tenth of its speed, and under that load the loading
// itself would take several times as long (docs/performance.md). Then it is
// loaded again in the background when the watcher had to drop it (the trail
// could not be followed) and when a quarter of its keys changed since the
// load, so that keys created or changed after a load do not stay cache
// misses for ever; meanwhile the directory in service, the cache and the
// store answer. A load that fails is tried again after retryLoadAfter. The
// loader hands what it loaded to the watcher, which alone changes what the
// cache holds: it brings the directory up to the changes it has taken in,
// then installs it.

// retryLoadAfter is how long the loader waits after a failed load.
const retryLoadAfter = 10 * time.Second

// loadBeforeServing loads the first directory, when the first look at the
// store asked for one. When the load fails, the server starts without it,
// and the loader tries again.
func (s *Server) loadBeforeServing(ctx context.Context) {
	if s.lister == nil {
		return
	}
	select {
	case <-s.reload:
	default:
		return
	}
	d, err := s.loadOnce(ctx)
	if err != nil {
		s.loadFailed(err)
		s.loading.Store(false)
		return
	}
	s.loaded <- d
	s.takeDirectory(ctx)
}

// loadLoop loads a directory each time one is asked for, until ctx is done.
func (s *Server) loadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.reload:
		}
		d, err := s.loadOnce(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.loadFailed(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryLoadAfter):
			}
			s.loading.Store(false)
			continue
		}
		// One directory at most is loaded at a time (see askLoad), so
		// this never waits; then the watcher is asked to take it now,
		// rather than at its next look.
		s.loaded <- d
		s.notified()
	}
}

func (s *Server) loadFailed(err error) {
	s.logger.Warn("cannot load the keys into memory; looking each up in the store meanwhile",
		slog.String("error", err.Error()), slog.String("retry_in", retryLoadAfter.String()))
}

func (s *Server) loadOnce(ctx context.Context) (*directory, error) {
	start := time.Now()
	// Every change before seq is in what the load reads; the watcher
	// evicts those after it.
	seq, err := s.store.LastChange(ctx)
	if err != nil {
		return nil, err
	}
	tuneGCForLoad()
	d, err := loadDirectory(ctx, s.lister, seq)
	if err != nil {
		s.tuneGC()
		return nil, err
	}
	s.logger.Info("keys loaded into memory", slog.Int("keys", len(d.keys)), slog.Int("secrets", len(d.slots)),
		slog.String("took", time.Since(start).Round(time.Millisecond).String()))
	return d, nil
}

// tuneGC sets the collector for the directory in service (memory.go).
func (s *Server) tuneGC() {
	var live int64
	if d := s.cache.directory(); d != nil {
		live = d.bytes()
	}
	tuneGC(live)
}

// askLoad asks the loader for a directory, unless one is being loaded.
func (s *Server) askLoad() {
	if s.lister == nil || !s.loading.CompareAndSwap(false, true) {
		return
	}
	s.reload <- struct{}{}
}

// takeDirectory installs a directory the loader made, if there is one,
// after evicting from it what changed between its load and the last look
// (from its seq to s.seen). When those changes cannot be told, it is
// thrown away and another is asked for. Then, if the directory in service
// has lost a quarter of its keys to changes, a new one is asked for.
func (s *Server) takeDirectory(ctx context.Context) {
	select {
	case d := <-s.loaded:
		if seen := s.seen.Load(); d.seq < seen {
			c, ok := s.changedSince(ctx, d.seq)
			if !ok {
				s.tuneGC()
				s.loading.Store(false)
				s.askLoad()
				return
			}
			d.evict(c.keys, c.companies, s.pending)
		}
		s.cache.install(d)
		s.loading.Store(false)
		s.tuneGC()
	default:
	}
	if d := s.cache.directory(); d != nil {
		if changed := d.lost.Load() + s.cache.found.Load(); changed > int64(len(d.keys)/4)+1024 {
			s.askLoad()
		}
	} else {
		s.askLoad()
	}
}
