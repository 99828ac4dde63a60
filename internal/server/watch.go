package server

import (
	"context"
	"time"
)

// maxEventsPerLook bounds how many events one look at the store reads; after
// a bigger batch of changes (a mass deletion, say), dropping the whole cache
// is cheaper than evicting entry by entry.
const maxEventsPerLook = 1000

// freshFor is how long one successful look at the store vouches for the
// cache: three poll intervals, so that one slow or failed look does not turn
// the cache off, while a change is never served from the cache for longer
// than that after it was committed.
func (s *Server) freshFor() time.Duration { return 3 * s.poll }

// every calls fn every interval until ctx is done. The server's background
// work (watching the store, writing last-used times, flushing the request
// log) runs on it.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// watch looks at the store every poll interval, and at once when told of a
// change, until ctx is done. Looks never overlap.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.changed:
		}
		s.watchOnce(ctx)
	}
}

// notified is called when the store says something changed (PostgreSQL's
// NOTIFY): the watcher looks now. A look already asked for covers it.
func (s *Server) notified() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// listening is told when the store's notifications stop and start again.
// Without them the watcher's poll still finds every change, a poll
// interval later at most.
func (s *Server) listening(up bool) {
	if up {
		s.log.message("notifications of changes are back")
	} else {
		s.log.message("notifications of changes stopped; changes are found by looking every " + s.poll.String() + " until they are back")
	}
}

// watchOnce brings the cache up to date with the store. Every change to a
// company or a key writes an event in the same transaction, so the events
// after the last one seen name everything that may have changed: their keys
// (and, for company events, every key of the company) are evicted. When the
// events cannot be read, or there are too many, the whole cache goes.
// Events are committed in the order of their numbers (on PostgreSQL too, see
// store/postgres), so reading on from the last number seen misses none.
//
// The look began at start; anything committed before start is in what it
// read, so the cache is marked fresh from start, not from when it ended.
func (s *Server) watchOnce(ctx context.Context) {
	start := s.cache.clock()
	ctx, cancel := context.WithTimeout(ctx, s.freshFor())
	defer cancel()
	seq, err := s.store.LastChange(ctx)
	if err != nil {
		s.cache.invalidateAll()
		s.storeFailed("cannot read the store", err)
		return
	}
	if seen := s.seen.Load(); seq != seen {
		if newest, ok := s.evictChanged(ctx, seen, seq); ok {
			seq = max(seq, newest)
		} else {
			s.cache.invalidateAll()
		}
		s.seen.Store(seq)
		s.countLegacy(ctx)
	}
	s.cache.freshen(start, s.freshFor())
	if s.storeDown.Swap(false) {
		s.log.message("the store can be read again")
	}
}

// evictChanged evicts what the events after from name. ok is false when it
// could not tell, and the whole cache must go: before the first look (from
// -1), when the trail went back (a store restored from a backup), when the
// events cannot be read, or when there are too many.
func (s *Server) evictChanged(ctx context.Context, from, to int64) (newest int64, ok bool) {
	if from < 0 || to < from {
		return 0, false
	}
	events, err := s.store.EventsAfter(ctx, from, maxEventsPerLook)
	if err != nil || len(events) == maxEventsPerLook {
		return 0, false
	}
	keys, companies := map[string]bool{}, map[string]bool{}
	for _, e := range events {
		newest = max(newest, e.Seq)
		switch {
		case e.Key != nil:
			keys[e.Key.ID] = true
		case e.Company != nil:
			companies[e.Company.ID] = true
		default:
			return 0, false
		}
	}
	s.cache.invalidate(keys, companies)
	return newest, true
}

func (s *Server) storeFailed(what string, err error) {
	if !s.storeDown.Swap(true) {
		s.log.message(what + ": " + err.Error())
	}
}

// flushLoop writes last-used times every flush interval until ctx is done.
func (s *Server) flushLoop(ctx context.Context) {
	every(ctx, s.flushEvery, func() {
		if err := s.flush(ctx); err != nil {
			s.log.message("cannot write last-used times (will retry): " + err.Error())
		}
	})
}

// flush writes the last uses recorded since the previous flush in one
// transaction. What cannot be written is kept for the next flush.
func (s *Server) flush(ctx context.Context) error {
	uses := s.pending.take()
	if uses == nil {
		uses = map[string]int64{}
	}
	s.cache.uses(uses)
	if len(uses) == 0 {
		return nil
	}
	times := make(map[string]time.Time, len(uses))
	for id, at := range uses {
		times[id] = time.Unix(0, at).UTC()
	}
	if err := s.store.TouchKeys(ctx, times); err != nil {
		for id, at := range uses {
			s.pending.add(id, at)
		}
		return err
	}
	return nil
}
