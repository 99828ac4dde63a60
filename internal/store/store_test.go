package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

var ctx = context.Background()

// fixture is a fresh store with a clock the test moves.
type fixture struct {
	t    *testing.T
	st   *store.Store
	path string
	now  time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "apikey.db"), now: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, f.path, store.WithClock(func() time.Time { return f.now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	return f
}

func (f *fixture) company(name, ref string) apikey.Company {
	f.t.Helper()
	c, err := f.st.CreateCompany(ctx, name, ref, "tester")
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// key issues a key with the given id ("" for a random one) and returns it
// with its secret.
func (f *fixture) key(company, name, id string, mod ...func(*store.NewKey)) (apikey.Key, string) {
	f.t.Helper()
	if id == "" {
		id = newID()
	}
	secret, m, err := apikey.MintSecret("ak", id, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	n := store.NewKey{ID: id, Company: company, Name: name, Status: apikey.StatusActive, Secret: m, Actor: "tester"}
	for _, fn := range mod {
		fn(&n)
	}
	k, err := f.st.CreateKey(ctx, n)
	if err != nil {
		f.t.Fatal(err)
	}
	return k, secret
}

var idCounter int

// newID makes distinct ids whose first characters differ, so that a prefix
// of 8 names one of them.
func newID() string {
	idCounter++
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", 0x10000000+idCounter*7919, idCounter, idCounter)
}

func (f *fixture) events(filter store.EventFilter) []apikey.Event {
	f.t.Helper()
	es, err := f.st.Events(ctx, filter)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func (f *fixture) lastChange() int64 {
	f.t.Helper()
	n, err := f.st.LastChange(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) keys(filter store.KeyFilter) []apikey.Key {
	f.t.Helper()
	if filter.Now.IsZero() {
		filter.Now = f.now
	}
	var out []apikey.Key
	if err := f.st.EachKey(ctx, filter, func(k apikey.Key) error { out = append(out, k); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// raw runs SQL on the file behind the store's back.
func raw(t *testing.T, path, query string, args ...any) {
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
	for _, j := range []string{"sql:", "sqlite", "SQLITE_", "constraint failed"} {
		if strings.Contains(err.Error(), j) {
			t.Errorf("%s: %q shows driver jargon", what, err)
		}
	}
}

func TestOpenCreatesWithSafeModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "apikey.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Path() != path {
		t.Errorf("Path() = %q", st.Path())
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700, filepath.Dir(dir): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
	}
	var appID, version int
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)`).Scan(&appID, &version); err != nil {
		t.Fatal(err)
	}
	if appID != store.ApplicationID || version != store.SchemaVersion() || version < 1 {
		t.Errorf("application_id %#x, user_version %d; want %#x, %d", appID, version, store.ApplicationID, store.SchemaVersion())
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	f := newFixture(t)
	f.company("Acme", "")
	f.st.Close()
	st, err := store.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := st.ListCompanies(ctx)
	if err != nil || len(cs) != 1 || cs[0].Name != "Acme" {
		t.Fatalf("after reopening: %v, %v", cs, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notSQLite := write("notes.txt", []byte("my notes\n"))
	shortSQLite := write("short.db", []byte("SQLite format 3\x00 and then nothing"))
	foreign := filepath.Join(dir, "foreign.db")
	raw(t, foreign, `CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep')`)
	marked := filepath.Join(dir, "marked.db")
	raw(t, marked, `PRAGMA application_id = 42`)
	newer := filepath.Join(dir, "newer.db")
	st, err := store.Open(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	raw(t, newer, `PRAGMA user_version = 99`)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		path, text string
		kind       apikey.Kind
	}{
		{notSQLite, "is not an apikey database: it is not a SQLite file; nothing was changed", apikey.KindUsage},
		{shortSQLite, "is not an apikey database", apikey.KindUsage},
		{foreign, "is not an apikey database: it belongs to another application; nothing was changed", apikey.KindUsage},
		{marked, "belongs to another application", apikey.KindUsage},
		{newer, "was made by a newer apikey (schema 99, this apikey knows", apikey.KindUsage},
		{filepath.Join(dir, "adir"), "is a directory", apikey.KindUsage},
		{"/dev/null", "is not a regular file", apikey.KindUsage},
		{"", "no database path given", apikey.KindUsage},
		{"  ", "no database path given", apikey.KindUsage},
		{filepath.Join(notSQLite, "sub.db"), "not a directory", apikey.KindRuntime},
	} {
		var before []byte
		if fi, err := os.Stat(c.path); err == nil && fi.Mode().IsRegular() {
			before, _ = os.ReadFile(c.path)
		}
		st, err := store.Open(ctx, c.path)
		if err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded", c.path)
			continue
		}
		wantKind(t, "Open("+c.path+")", err, c.kind, c.text)
		if before != nil {
			after, _ := os.ReadFile(c.path)
			if !bytes.Equal(before, after) {
				t.Errorf("Open(%q) changed the file", c.path)
			}
			for _, suffix := range []string{"-wal", "-shm", "-journal"} {
				if _, err := os.Stat(c.path + suffix); err == nil {
					t.Errorf("Open(%q) left %s behind", c.path, suffix)
				}
			}
		}
	}
}

func TestOpenEmptyFileBecomesADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentOpenOfAFreshFile has many handles (as many processes would)
// open and migrate one new file at once: each must succeed, and the schema
// must be applied once.
func TestConcurrentOpenOfAFreshFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh", "apikey.db")
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.Open(ctx, path)
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			_, errs[i] = st.CreateCompany(ctx, fmt.Sprintf("Company %d", i), "", "t")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("handle %d: %v", i, err)
		}
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := st.ListCompanies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != n {
		t.Errorf("%d companies, want %d", len(cs), n)
	}
	if got, _ := st.LastChange(ctx); got != n {
		t.Errorf("LastChange = %d, want %d", got, n)
	}
}

// TestOpenOddPaths: whatever the file is called, it is that file on disk
// that holds the data (not a URI parameter, not an in-memory database).
func TestOpenOddPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, p := range []string{":memory:", "q?mode=memory.db", "h#1.db", "p%20c.db", "with space.db", "file:x.db", "ü.db", filepath.Join(dir, "abs?x#y.db")} {
		st, err := store.Open(ctx, p)
		if err != nil {
			t.Errorf("Open(%q): %v", p, err)
			continue
		}
		if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
			t.Errorf("%q: %v", p, err)
		}
		st.Close()
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%q is not the database on disk: %v", p, err)
			continue
		}
		st, err = store.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := st.ListCompanies(ctx)
		st.Close()
		if err != nil || len(cs) != 1 {
			t.Errorf("%q after reopening: %d companies, %v", p, len(cs), err)
		}
	}
}

// TestWALKeptEmptyBetweenCommands checks what docs/decisions.md promises of
// the persistent WAL: the -wal and -shm files stay after the store closes,
// the WAL truncated to nothing, so that the database file alone holds every
// write and a copy of it alone is a whole store.
func TestWALKeptEmptyBetweenCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apikey.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCompany(ctx, "Acme", "ACME-1", "t"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("while open, the write should be in the WAL: %v %v", fi, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for suffix, empty := range map[string]bool{"-wal": true, "-shm": false} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			t.Fatalf("%s was not kept: %v", suffix, err)
		}
		if (fi.Size() == 0) != empty || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s after close: size %d, mode %#o", suffix, fi.Size(), fi.Mode().Perm())
		}
	}

	// The database file alone, copied elsewhere, holds the write.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(other, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := store.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if c, err := cp.Company(ctx, "ACME-1"); err != nil || c.Name != "Acme" {
		t.Errorf("the copied file lost the write: %+v %v", c, err)
	}
}
