package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/storetest"
	_ "modernc.org/sqlite"
)

var ctx = context.Background()

// harness opens each store on a file of its own.
var harness = storetest.Harness{
	Open: func(t *testing.T, now func() time.Time) *store.Store {
		t.Helper()
		return open(t, filepath.Join(t.TempDir(), "apikey.db"), store.WithClock(now))
	},
	Reopen: func(t *testing.T, st *store.Store) *store.Store {
		t.Helper()
		return open(t, st.Where())
	},
	Exec: func(t *testing.T, st *store.Store, query string) {
		t.Helper()
		raw(t, st.Where(), query)
	},
}

func TestConformance(t *testing.T) {
	storetest.Run(t, harness)
}

// open opens the store at path, closed when the test ends.
func open(t testing.TB, path string, opts ...store.Option) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// raw runs SQL on the file behind the store's back, through the plain
// driver.
func raw(t testing.TB, path, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func wantKind(t *testing.T, what string, err error, kind apikey.Kind, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %q", what, text)
	}
	if apikey.KindOf(err) != kind {
		t.Errorf("%s: %v: kind %v, want %v", what, err, apikey.KindOf(err), kind)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("%s: %q, want %q in it", what, err, text)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: %q is more than one line", what, err)
	}
	for _, j := range []string{"sql:", "sqlite", "SQLITE_", "constraint failed"} {
		if strings.Contains(err.Error(), j) {
			t.Errorf("%s: %q shows driver jargon", what, err)
		}
	}
}
