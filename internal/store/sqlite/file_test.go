package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/sqlite"
)

// marks reads a database file's application id and schema version through
// the plain driver, read-only.
func marks(t *testing.T, path string) (appID, version int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)`).Scan(&appID, &version); err != nil {
		t.Fatal(err)
	}
	return appID, version
}

// unchanged checks that opening path left it as it was: the same bytes
// (nil for no file) and no journal, -wal or -shm file it did not have.
func unchanged(t *testing.T, what, path string, before []byte) {
	t.Helper()
	after, err := os.ReadFile(path)
	switch {
	case before == nil && err == nil:
		t.Errorf("%s: created %s", what, path)
	case before != nil && !bytes.Equal(before, after):
		t.Errorf("%s: changed %s", what, path)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Lstat(path + suffix); err == nil {
			t.Errorf("%s: left %s%s behind", what, path, suffix)
		}
	}
}

func TestOpenCreatesWithSafeModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "apikey.db")
	st := open(t, path)
	if st.Where() != path || st.Kind() != "sqlite" {
		t.Errorf("Where() = %q, Kind() = %q", st.Where(), st.Kind())
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
	appID, version := marks(t, path)
	if appID != sqlite.ApplicationID || version != int64(sqlite.SchemaVersion()) || version < 1 {
		t.Errorf("application_id %#x, user_version %d; want %#x, %d", appID, version, sqlite.ApplicationID, sqlite.SchemaVersion())
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck: %v", err)
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apikey.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, opts := range [][]store.Option{nil, {store.MustExist()}} {
		st := open(t, path, opts...)
		cs, err := st.ListCompanies(ctx)
		if err != nil || len(cs) != 1 || cs[0].Name != "Acme" {
			t.Fatalf("after reopening: %v, %v", cs, err)
		}
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
	// Another application's database in WAL mode, closed: the file alone.
	foreignWAL := filepath.Join(dir, "foreign-wal.db")
	raw(t, foreignWAL, `PRAGMA journal_mode = WAL; CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep')`)
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
		{foreignWAL, "belongs to another application", apikey.KindUsage},
		{marked, "belongs to another application", apikey.KindUsage},
		{newer, "was made by a newer apikey (schema 99, this apikey knows", apikey.KindUsage},
		{filepath.Join(dir, "adir"), "is a directory", apikey.KindUsage},
		{"/dev/null", "is not a regular file", apikey.KindUsage},
		{"", "no database given", apikey.KindUsage},
		{"  ", "no database given", apikey.KindUsage},
		{filepath.Join(notSQLite, "sub.db"), "not a directory", apikey.KindRuntime},
	} {
		for _, opts := range [][]store.Option{nil, {store.MustExist()}} {
			var before []byte
			if fi, err := os.Stat(c.path); err == nil && fi.Mode().IsRegular() {
				before, _ = os.ReadFile(c.path)
				unchanged(t, "making "+c.path, c.path, before)
			}
			st, err := store.Open(ctx, c.path, opts...)
			if err == nil {
				st.Close()
				t.Errorf("Open(%q) succeeded", c.path)
				continue
			}
			wantKind(t, fmt.Sprintf("Open(%q, %d options)", c.path, len(opts)), err, c.kind, c.text)
			if before != nil {
				unchanged(t, "Open("+c.path+")", c.path, before)
			}
		}
	}
}

func TestOpenEmptyFileBecomesADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st := open(t, path)
	if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
		t.Fatal(err)
	}
}

// TestOpenMustExist is issue 11, item 10: a command that only reads opens
// the store with MustExist, and a database that is not there (no file, an
// empty file, a blank SQLite file) is an error that creates nothing.
func TestOpenMustExist(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	blank := filepath.Join(dir, "blank.db")
	raw(t, blank, `CREATE TABLE t (x); DROP TABLE t`)
	if fi, err := os.Stat(blank); err != nil || fi.Size() == 0 {
		t.Fatalf("the blank SQLite file: %v, %v", fi, err)
	}
	for _, path := range []string{
		filepath.Join(dir, "missing.db"),
		filepath.Join(dir, "no", "such", "dir", "apikey.db"),
		empty,
		blank,
	} {
		before, _ := os.ReadFile(path)
		if before == nil {
			if _, err := os.Stat(path); err == nil {
				before = []byte{}
			}
		}
		st, err := store.Open(ctx, path, store.MustExist())
		if err == nil {
			st.Close()
			t.Errorf("Open(%q, MustExist) succeeded", path)
			continue
		}
		wantKind(t, "Open("+path+", MustExist)", err, apikey.KindRuntime, "database "+path+" does not exist")
		if !errors.Is(err, store.ErrNoStore) {
			t.Errorf("Open(%q, MustExist): %v is not store.ErrNoStore", path, err)
		}
		unchanged(t, "Open("+path+", MustExist)", path, before)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); err == nil {
		t.Error("Open(MustExist) created the directory")
	}
	// Without MustExist, each becomes a store.
	for _, path := range []string{filepath.Join(dir, "missing.db"), empty, blank} {
		st := open(t, path)
		if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestOpenDanglingSymlink is issue 11, item 2: a link to a file that does
// not exist yet is followed, and the store created where it points, when
// that directory exists; a link into a directory that does not exist, or a
// loop of links, is a one-line error.
func TestOpenDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Symlink("missing/apikey.db", "db"); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]store.Option{nil, {store.MustExist()}} {
		st, err := store.Open(ctx, "db", opts...)
		if err == nil {
			st.Close()
			t.Fatalf("Open(db → missing/apikey.db, %d options) succeeded", len(opts))
		}
		wantKind(t, "a link into a missing directory", err, apikey.KindRuntime, "cannot open database db: it links to missing/apikey.db, in a directory that does not exist")
		if _, err := os.Lstat("missing"); err == nil {
			t.Errorf("Open created the directory the link points into")
		}
	}

	// A link whose target's directory exists: the store is made there.
	if err := os.Mkdir("data", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data/apikey.db", "linked"); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(ctx, "linked", store.MustExist())
	wantKind(t, "MustExist through a dangling link", err, apikey.KindRuntime, "does not exist")
	if _, err := os.Lstat("data/apikey.db"); err == nil {
		t.Error("Open(MustExist) created the target")
	}
	st, err := store.Open(ctx, "linked")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Lstat("linked"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}
	if fi, err := os.Stat("data/apikey.db"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the target: %v, %v", fi, err)
	}
	// A link to a link, relative to where each link is.
	if err := os.Mkdir("sub", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../linked", "sub/again"); err != nil {
		t.Fatal(err)
	}
	st = open(t, "sub/again", store.MustExist())
	if c, err := st.Company(ctx, "acme"); err != nil || c.Name != "Acme" {
		t.Errorf("through two links: %+v, %v", c, err)
	}

	// Loops end.
	for _, l := range [][2]string{{"self", "self"}, {"a", "b"}, {"b", "a"}} {
		if err := os.Symlink(l[1], l[0]); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"self", "a"} {
		st, err := store.Open(ctx, p)
		if err == nil {
			st.Close()
			t.Fatalf("Open(%s) succeeded", p)
		}
		wantKind(t, "a loop of links", err, apikey.KindRuntime, "too many levels of symbolic links")
	}
}

// TestOpenRefusesANewerRollbackJournalDatabase is issue 11, item 11: a
// database of a newer apikey, in rollback-journal mode, is refused before
// any connection could switch it to WAL, and left byte for byte as it was.
func TestOpenRefusesANewerRollbackJournalDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newer.db")
	raw(t, path, fmt.Sprintf(`PRAGMA journal_mode = DELETE; CREATE TABLE companies (id TEXT PRIMARY KEY, name TEXT);
		INSERT INTO companies VALUES ('c1', 'Acme'); PRAGMA application_id = %d; PRAGMA user_version = 99`, sqlite.ApplicationID))
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if before[18] != 1 || before[19] != 1 {
		t.Fatalf("the file is not in rollback-journal mode: %d %d", before[18], before[19])
	}
	unchanged(t, "the plain driver", path, before)
	for _, opts := range [][]store.Option{nil, {store.MustExist()}} {
		st, err := store.Open(ctx, path, opts...)
		if err == nil {
			st.Close()
			t.Fatal("a newer database was opened")
		}
		wantKind(t, "newer", err, apikey.KindUsage, "was made by a newer apikey (schema 99, this apikey knows")
		unchanged(t, "Open(newer)", path, before)
	}
}

// TestOpenCallsABlankForeignFileForeign: a SQLite file without tables but
// with marks of its own (a schema version, another application id) belongs
// to another application; it is neither adopted nor called newer.
func TestOpenCallsABlankForeignFileForeign(t *testing.T) {
	dir := t.TempDir()
	for name, pragmas := range map[string]string{
		"version.db":      `PRAGMA user_version = 7`,
		"high-version.db": `PRAGMA user_version = 99`,
		"appid.db":        `PRAGMA application_id = 1234`,
		"both.db":         `PRAGMA application_id = 1234; PRAGMA user_version = 99`,
	} {
		path := filepath.Join(dir, name)
		raw(t, path, pragmas)
		before, err := os.ReadFile(path)
		if err != nil || len(before) == 0 {
			t.Fatalf("%s: %d bytes, %v", name, len(before), err)
		}
		for _, opts := range [][]store.Option{nil, {store.MustExist()}} {
			st, err := store.Open(ctx, path, opts...)
			if err == nil {
				st.Close()
				t.Fatalf("%s was opened", name)
			}
			wantKind(t, name, err, apikey.KindUsage, "is not an apikey database: it belongs to another application; nothing was changed")
			unchanged(t, name, path, before)
		}
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
	st := open(t, path)
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
		st, err = store.Open(ctx, p, store.MustExist())
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
	cp := open(t, other)
	if c, err := cp.Company(ctx, "ACME-1"); err != nil || c.Name != "Acme" {
		t.Errorf("the copied file lost the write: %+v %v", c, err)
	}
}
