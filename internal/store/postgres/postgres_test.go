package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/storetest"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// urls remembers the URL each store was opened with, for Reopen and Exec:
// a store names itself without its password.
var urls sync.Map // *store.Store → string

// harness opens each store in a schema of its own.
var harness = storetest.Harness{
	Open: func(t *testing.T, now func() time.Time) *store.Store {
		t.Helper()
		return open(t, pgtest.New(t), store.WithClock(now))
	},
	Reopen: func(t *testing.T, st *store.Store) *store.Store {
		t.Helper()
		u, _ := urls.Load(st)
		return open(t, u.(string))
	},
	Exec: func(t *testing.T, st *store.Store, query string) {
		t.Helper()
		u, _ := urls.Load(st)
		if err := pgtest.Exec(ctx, u.(string), query); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	},
}

func TestConformance(t *testing.T) {
	storetest.Run(t, harness)
}

func open(t testing.TB, url string, opts ...store.Option) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	urls.Store(st, url)
	t.Cleanup(func() { st.Close() })
	return st
}
