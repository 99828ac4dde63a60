package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/apikeyhq/apikey/internal/store"
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

// trustFor is how long one successful look at the store vouches for the
// cache: serve.stale_for, and never less than freshFor. While looks succeed
// it does not matter, since each look evicts what changed; it is how long
// the cache keeps answering once they fail.
func (s *Server) trustFor() time.Duration { return max(s.freshFor(), s.staleFor) }

// The health of the server, as /healthz and apikey_health say it.
const (
	healthOK          = "ok"          // the store can be read
	healthDegraded    = "degraded"    // it cannot, and the cache still answers
	healthUnavailable = "unavailable" // it cannot, and the cache is not trusted
)

func (s *Server) health() string {
	switch {
	case !s.storeDown.Load():
		return healthOK
	case s.cache.fresh():
		return healthDegraded
	}
	return healthUnavailable
}

// sinceLastLook is the time since the last successful look at the store
// began (since the server started, before the first).
func (s *Server) sinceLastLook() time.Duration {
	return time.Duration(s.cache.clock() - s.lastLook.Load())
}

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
		s.logger.Info("notifications of changes are back")
	} else {
		s.logger.Warn("notifications of changes stopped; changes are found by looking every " + s.poll.String() + " until they are back")
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
// When the store cannot be read, the cache is kept: it answers until
// trustFor has passed since the last look that succeeded, and is bypassed
// after that (serve.stale_for).
func (s *Server) watchOnce(parent context.Context) {
	start := s.cache.clock()
	ctx, cancel := context.WithTimeout(parent, s.freshFor())
	defer cancel()
	seq, err := s.store.LastChange(ctx)
	if err != nil && parent.Err() != nil {
		// The server is stopping, which interrupted the look: the store
		// did not fail.
		return
	}
	if err != nil {
		s.metrics.storeError(opWatch)
		s.storeDown.Store(true)
		s.report(err)
		return
	}
	if seen := s.seen.Load(); seq != seen {
		// The legacy secrets are counted before the changed keys are
		// evicted, so that once a rotation or deletion has taken the last
		// one away, a request never finds its key gone while the count
		// still sends a secret of that shape to the store: it is refused
		// as malformed from the moment its key is refused at all.
		s.countLegacy(ctx)
		if newest, ok := s.evictChanged(ctx, seen, seq); ok {
			seq = max(seq, newest)
		} else {
			s.cache.invalidateAll()
		}
		s.seen.Store(seq)
	}
	if s.lister != nil {
		s.takeDirectory(ctx)
	}
	s.cache.freshen(start, s.trustFor())
	s.lastLook.Store(start)
	s.storeDown.Store(false)
	s.report(nil)
}

// report logs a change of the server's health, as the watcher sees it after
// a look; err is the look's failure.
func (s *Server) report(err error) {
	h := s.health()
	if h == s.reported {
		return
	}
	was := s.reported
	s.reported = h
	since := slog.String("since_last_success", s.sinceLastLook().Round(time.Millisecond).String())
	switch {
	case h == healthOK:
		s.logger.Info("the store can be read again", since)
	case h == healthDegraded:
		s.logger.Error("cannot read the store; answering from memory until it can, for at most serve.stale_for after the last success",
			slog.String("error", err.Error()), slog.String("stale_for", s.trustFor().String()), since)
	case was == healthDegraded:
		s.logger.Error("cannot read the store for longer than serve.stale_for; checks that need it are answered 503",
			slog.String("error", err.Error()), since)
	default:
		s.logger.Error("cannot read the store; checks that need it are answered 503", slog.String("error", err.Error()), since)
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
	c, ok := s.changedSince(ctx, from)
	if !ok {
		return 0, false
	}
	s.cache.invalidate(c.keys, c.companies)
	s.logger.Debug("changes taken in", slog.Int("events", c.events), slog.Int("keys", len(c.keys)), slog.Int("companies", len(c.companies)))
	return c.newest, true
}

// changes are what the events after some number name.
type changes struct {
	keys, companies map[string]bool // by id
	newest          int64           // the newest event's number
	events          int
}

// changedSince reads the events after from. ok is false when it cannot
// tell what they change: the events cannot be read, there are too many, or
// one names neither a key nor a company.
func (s *Server) changedSince(ctx context.Context, from int64) (c changes, ok bool) {
	events, err := s.store.EventsAfter(ctx, from, maxEventsPerLook)
	if err != nil {
		s.metrics.storeError(opWatch)
		s.logger.Warn("cannot read the changes; dropping the whole cache", slog.String("error", err.Error()))
		return c, false
	}
	if len(events) == maxEventsPerLook {
		s.logger.Debug("too many changes at once; dropping the whole cache", slog.Int("events", len(events)))
		return c, false
	}
	c = changes{keys: map[string]bool{}, companies: map[string]bool{}, events: len(events)}
	for _, e := range events {
		c.newest = max(c.newest, e.Seq)
		switch {
		case e.Key != nil:
			c.keys[e.Key.ID] = true
		case e.Company != nil:
			c.companies[e.Company.ID] = true
		default:
			return changes{}, false
		}
	}
	return c, true
}

// flushLoop writes last-used times every flush interval until ctx is done.
func (s *Server) flushLoop(ctx context.Context) {
	every(ctx, s.flushEvery, func() {
		if err := s.flushSome(ctx, flushSlack); err != nil && ctx.Err() == nil {
			s.logger.Warn("cannot write last-used times; will retry", slog.String("error", err.Error()))
		}
	})
}

// flushSlack is how far a key's last use may run ahead of the time last
// written for it before a periodic flush writes it again: with a flush
// every 30 seconds, last_used_at then lags a use by at most a minute, as
// the contract allows, while a key in constant use is written every other
// flush rather than at each. The last flush, at shutdown, writes every
// use.
const flushSlack = 30 * time.Second

// flushBatch is how many keys' last uses one transaction writes: a flush
// of a million keys in use is written in parts, so that its memory stays
// small and no transaction holds the store for long.
const flushBatch = 5000

// flush writes every last use recorded since the previous flush.
func (s *Server) flush(ctx context.Context) error { return s.flushSome(ctx, 0) }

// flushSome writes the last uses recorded since the previous flush that are
// more than slack past the time last written for their key, flushBatch keys
// to a transaction. What cannot be written is kept for the next flush.
func (s *Server) flushSome(ctx context.Context, slack time.Duration) error {
	var uses []store.KeyUse
	for _, u := range s.pending.take() {
		uses = append(uses, u)
	}
	start := time.Now()
	uses = s.cache.uses(uses, int64(slack), flushBatch, func(batch []store.KeyUse) error {
		began := time.Now()
		err := s.writeUses(ctx, batch)
		if slack > 0 {
			s.rest(ctx, flushRest(time.Since(began), time.Since(start), s.flushEvery))
		}
		return err
	})
	return s.writeUses(ctx, uses)
}

// flushRest is how long a periodic flush rests after a batch that took
// took, since it began: as long again, so that the flush takes at most about
// half a core from the requests, while it has used less than half of the
// interval between flushes; no rest after that, so that it ends in time.
// Without rests, a flush of a million keys in use took most of a core for
// seconds, and the requests' p99 rose from 8 to 10-12 ms meanwhile; with
// them it stayed at 8 ms (go run ./bench/serve -keys 1000000, a run each
// way, twice: docs/performance.md). The last flush, at shutdown, does not
// rest.
func flushRest(took, since, every time.Duration) time.Duration {
	if since >= every/2 {
		return 0
	}
	return took
}

// pause waits d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// writeUses writes last uses in one transaction, or keeps them for the
// next flush. A key may be there twice (evicted, then cached again): the
// store keeps its latest time.
func (s *Server) writeUses(ctx context.Context, uses []store.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	if err := s.store.TouchKeys(ctx, uses); err != nil {
		for _, u := range uses {
			s.pending.add(u)
		}
		if ctx.Err() != nil {
			// The server is stopping, which interrupted the write: the
			// store did not fail, and the last flush writes these.
			return err
		}
		s.metrics.storeError(opFlush)
		s.metrics.flushed(false)
		return err
	}
	s.metrics.flushed(true)
	s.logger.Debug("wrote last-used times", slog.Int("keys", len(uses)))
	return nil
}
