// Package store keeps companies, keys and their audit trail, and holds the
// rules that every engine obeys alike: how a reference names exactly one
// company or key, what must be unique, what each change records, how a
// rotation's grace ends, what a cascade deletes. Every method is one
// transaction: a call that fails leaves the store as it was.
//
// The databases themselves sit behind engine.Engine: store/sqlite (the
// embedded default, a file) and store/postgres (a shared server). They hold
// only their queries, migrations and error translation; store/storetest is
// the conformance suite both pass.
package store

import (
	"context"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/apikeyhq/apikey/internal/store/postgres"
	"github.com/apikeyhq/apikey/internal/store/sqlite"
)

// Store is an open apikey store on one engine.
type Store struct {
	eng   engine.Engine
	where string
	now   func() time.Time
}

// Presented is what the store knows of a presented secret.
type Presented = engine.Presented

type options struct {
	now       func() time.Time
	cacheSize int64
	mustExist bool
}

// Option changes how a store is opened.
type Option func(*options)

// WithClock sets the clock used for timestamps (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithCacheSize sets SQLite's page cache per connection, in bytes: a bulk
// writer that touches every index of a large store wants one that holds
// them. Commands keep the default, so that memory stays small. PostgreSQL
// ignores it.
func WithCacheSize(bytes int64) Option { return func(o *options) { o.cacheSize = bytes } }

// MustExist opens only a store that exists: a command that only reads must
// not create an empty store where a mistyped --db points, and answer from
// it as if all were well.
func MustExist() Option { return func(o *options) { o.mustExist = true } }

// ErrNoStore is the cause of Open's error, with MustExist, when there is no
// store where db points: errors.Is(err, store.ErrNoStore).
var ErrNoStore = engine.ErrNoStore

// IsPostgres reports whether a --db value names a PostgreSQL store.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open opens the store that db names: a postgres:// or postgresql:// URL
// for PostgreSQL, else the path of a SQLite file. Pending migrations are
// applied; a store made by a newer apikey, or a database that is not
// apikey's, is refused and left as it was.
func Open(ctx context.Context, db string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if strings.TrimSpace(db) == "" {
		return nil, apikey.Usagef("no database given")
	}
	var eng engine.Engine
	var where string
	var err error
	if IsPostgres(db) {
		var pg *postgres.Engine
		pg, err = postgres.Open(ctx, db, postgres.Options{MustExist: o.mustExist})
		if pg != nil {
			eng, where = pg, pg.Where()
		}
	} else {
		var lite *sqlite.Engine
		lite, err = sqlite.Open(ctx, db, sqlite.Options{CacheSize: o.cacheSize, MustExist: o.mustExist})
		if lite != nil {
			eng, where = lite, db
		}
	}
	if err != nil {
		return nil, err
	}
	return &Store{eng: eng, where: where, now: o.now}, nil
}

// New makes a store over an engine that is already open (tests, tools).
func New(eng engine.Engine, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{eng: eng, now: now}
}

// Engine is the engine behind the store, for what only one engine can do
// (tests, an integrity check).
func (s *Store) Engine() engine.Engine { return s.eng }

// Kind names the engine: "sqlite" or "postgres".
func (s *Store) Kind() string { return s.eng.Kind() }

// Where is how messages name the store: the SQLite file's path, or the
// PostgreSQL URL without its password.
func (s *Store) Where() string { return s.where }

// Close releases the store.
func (s *Store) Close() error { return s.eng.Close() }

// clock is the time a change is recorded at: UTC, to the microsecond that
// both engines keep.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// IntegrityCheck asks the engine to check its database for damage, where it
// can; nil when sound or when the engine cannot tell.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if c, ok := s.eng.(engine.Checker); ok {
		return c.IntegrityCheck(ctx)
	}
	return nil
}

// Listen tells changed of every change any process commits, at once, where
// the engine can (PostgreSQL); it reports false where it cannot, and a
// caller must rely on looking at LastChange. up is told when the
// notifications stop and start again.
func (s *Store) Listen(ctx context.Context, changed func(), up func(bool)) bool {
	n, ok := s.eng.(engine.Notifier)
	if !ok {
		return false
	}
	go n.Listen(ctx, changed, up)
	return true
}
