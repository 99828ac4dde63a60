package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/sqlite"
)

// atSchema makes a database at path as apikey made it at schema version n:
// the first n migration files applied by hand through apikey's driver
// (which knows apikey_fold, that migration 4 calls), in WAL mode, marked as
// apikey's, then the statements given.
func atSchema(t *testing.T, path string, n int, stmts ...string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) < n {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	sort.Strings(files)
	db, err := sql.Open("apikey-sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var all []string
	for _, f := range files[:n] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, string(b))
	}
	all = append(all, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", sqlite.ApplicationID, n))
	for _, s := range append(all, stmts...) {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// sqliteDB is the database handle behind a SQLite store.
func sqliteDB(t *testing.T, st *store.Store) *sql.DB {
	t.Helper()
	e, ok := st.Engine().(*sqlite.Engine)
	if !ok {
		t.Fatalf("the engine is %T", st.Engine())
	}
	return e.DB()
}

// TestMigrationKeepsSealedOfExistingKeys opens a database of schema 1 with
// one key whose secret is sealed and one whose is not, and checks that the
// sealed flag the keys carry since schema 2 says so.
func TestMigrationKeepsSealedOfExistingKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apikey.db")
	atSchema(t, path, 1,
		`INSERT INTO companies VALUES ('c1', 'Acme', 'acme', NULL, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO keys (id, company_id, name, status, hint, created_at, created_by, updated_at) VALUES
			('k1', 'c1', 'sealed', 'active', 'ak_…', '2026-01-01T00:00:00.000000Z', 'x', '2026-01-01T00:00:00.000000Z'),
			('k2', 'c1', 'plain', 'active', 'ak_…', '2026-01-01T00:00:00.000000Z', 'x', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO secrets (hash, key_id, sealed, created_at, expires_at) VALUES
			(x'01', 'k1', x'ff', '2026-01-01T00:00:00.000000Z', NULL),
			(x'02', 'k2', NULL, '2026-01-01T00:00:00.000000Z', NULL),
			(x'03', 'k2', x'ff', '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z')`,
	)
	st := open(t, path)
	if _, version := marks(t, path); version != int64(sqlite.SchemaVersion()) {
		t.Errorf("user_version %d after migration, want %d", version, sqlite.SchemaVersion())
	}
	for name, want := range map[string]bool{"sealed": true, "plain": false} {
		k, err := st.Key(ctx, name, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		if k.Sealed != want {
			t.Errorf("key %s: Sealed %v after migration, want %v", name, k.Sealed, want)
		}
	}
	var listed []string
	err := st.EachKey(ctx, store.KeyFilter{Now: time.Now()}, func(k apikey.Key) error {
		listed = append(listed, fmt.Sprintf("%s %v", k.Name, k.Sealed))
		return nil
	})
	if err != nil || strings.Join(listed, ",") != "sealed true,plain false" {
		t.Errorf("EachKey after migration: %v, %v", listed, err)
	}
}

// TestConcurrentFirstOpensMigrateOnce opens a new database from several
// goroutines at once: each must find the schema current, and the migrations
// must have run once (a second run would fail on CREATE TABLE).
func TestConcurrentFirstOpensMigrateOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apikey.db")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			st, err := store.Open(ctx, path)
			if err == nil {
				var v int
				err = st.Engine().(*sqlite.Engine).DB().QueryRow(`PRAGMA user_version`).Scan(&v)
				if err == nil && v != sqlite.SchemaVersion() {
					err = fmt.Errorf("user_version %d, want %d", v, sqlite.SchemaVersion())
				}
				st.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestMigrationFoldsNames opens a database of schema 3, whose name_key was
// strings.ToLower, and checks that migration 4 fills every folded column
// with apikey.Fold, so that names, refs, searches and history find what
// they name in any case across Unicode; and that two company names that
// fold to one ("Straße" and "STRASSE") do not stop it, and a reference by
// that name is then ambiguous, never the one company or the other.
func TestMigrationFoldsNames(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-0000000000c%d", i) }
	for _, order := range []string{"Straße first", "STRASSE first"} {
		t.Run(order, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "apikey.db")
			const at = `'2026-01-01T00:00:00.000000Z'`
			companies := []string{
				`('00000000-0000-4000-8000-0000000000c1', 'Straße', 'straße', NULL, ` + at + `, ` + at + `)`,
				`('00000000-0000-4000-8000-0000000000c2', 'STRASSE', 'strasse', 'MASS-2', ` + at + `, ` + at + `)`,
			}
			if order == "STRASSE first" {
				companies[0], companies[1] = companies[1], companies[0]
			}
			companies = append(companies,
				`('00000000-0000-4000-8000-0000000000c3', 'École', 'école', 'Réf-É', `+at+`, `+at+`)`,
				`('00000000-0000-4000-8000-0000000000c4', 'ÜBER', 'über', NULL, `+at+`, `+at+`)`,
				`('00000000-0000-4000-8000-0000000000c5', 'Übung', 'übung', 'ÜB-1', `+at+`, `+at+`)`,
				`('00000000-0000-4000-8000-0000000000c6', 'Acme', 'acme', 'ACME-1', `+at+`, `+at+`)`,
				// Neither of these two has its folded name yet.
				`('00000000-0000-4000-8000-0000000000c7', 'Groß', 'groß', NULL, `+at+`, `+at+`)`,
				`('00000000-0000-4000-8000-0000000000c8', 'Groſs', 'groſs', NULL, `+at+`, `+at+`)`)
			atSchema(t, path, 3,
				`INSERT INTO companies VALUES `+strings.Join(companies, ", "),
				`INSERT INTO keys (id, company_id, name, status, hint, created_at, created_by, updated_at) VALUES
					('k1', '00000000-0000-4000-8000-0000000000c3', 'Élève', 'active', 'ak_…', `+at+`, 'x', `+at+`),
					('k2', '00000000-0000-4000-8000-0000000000c4', 'ÜBERSICHT', 'active', 'ak_…', `+at+`, 'x', `+at+`),
					('k3', '00000000-0000-4000-8000-0000000000c1', 'Fußweg', 'active', 'ak_…', `+at+`, 'x', `+at+`),
					('k4', '00000000-0000-4000-8000-0000000000c2', 'plain', 'active', 'ak_…', `+at+`, 'x', `+at+`),
					('k5', '00000000-0000-4000-8000-0000000000c6', 'shop', 'active', 'ak_…', `+at+`, 'x', `+at+`)`,
				`INSERT INTO events (at, actor, action, company_id, company_name, key_id, key_name, details) VALUES
					(`+at+`, 'x', 'company.create', '00000000-0000-4000-8000-0000000000c1', 'Straße', NULL, NULL, '{}'),
					(`+at+`, 'x', 'company.create', '00000000-0000-4000-8000-0000000000c3', 'École', NULL, NULL, '{}'),
					(`+at+`, 'x', 'company.create', '00000000-0000-4000-8000-0000000000c9', 'Müller', NULL, NULL, '{}'),
					(`+at+`, 'x', 'company.delete', '00000000-0000-4000-8000-0000000000c9', 'Müller', NULL, NULL, '{"keys":0}'),
					(`+at+`, 'x', 'key.create', '00000000-0000-4000-8000-0000000000c3', 'École', 'k1', 'Élève', '{}')`,
			)
			st := open(t, path)
			db := sqliteDB(t, st)

			// Every folded column holds apikey.Fold, but for one of the two
			// names that fold to one, which keeps a key of its own.
			rows, err := db.Query(`SELECT id, name, name_key, coalesce(ref, ''), coalesce(ref_key, '') FROM companies`)
			if err != nil {
				t.Fatal(err)
			}
			unfolded := 0
			for rows.Next() {
				var cid, name, nameKey, ref, refKey string
				if err := rows.Scan(&cid, &name, &nameKey, &ref, &refKey); err != nil {
					t.Fatal(err)
				}
				if nameKey != apikey.Fold(name) {
					unfolded++
					if cid != id(1) && cid != id(2) && cid != id(7) && cid != id(8) {
						t.Errorf("company %s %q: name_key %q, want %q", cid, name, nameKey, apikey.Fold(name))
					}
				}
				if refKey != apikey.Fold(ref) {
					t.Errorf("company %s: ref %q, ref_key %q, want %q", cid, ref, refKey, apikey.Fold(ref))
				}
			}
			rows.Close()
			if unfolded != 2 {
				t.Errorf("%d companies keep a name_key that is not their folded name, want 2 (one of each pair)", unfolded)
			}
			for _, q := range []string{
				`SELECT name, name_key FROM keys`,
				`SELECT company_name, company_name_key FROM events`,
			} {
				rows, err := db.Query(q)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var name, key string
					if err := rows.Scan(&name, &key); err != nil {
						t.Fatal(err)
					}
					if key != apikey.Fold(name) {
						t.Errorf("%s: %q has key %q, want %q", q, name, key, apikey.Fold(name))
					}
				}
				rows.Close()
			}

			// The store finds what the names, refs and searches name.
			for ref, want := range map[string]string{"école": id(3), "ÉCOLE": id(3), "réf-é": id(3), "über": id(4), "ÜBUNG": id(5), "üb-1": id(5), "mass-2": id(2), "ACME": id(6), "acme-1": id(6)} {
				if c, err := st.Company(ctx, ref); err != nil || c.ID != want {
					t.Errorf("Company(%q) = %s %q, %v; want %s", ref, c.ID, c.Name, err, want)
				}
			}
			for _, ref := range []string{"Straße", "STRASSE", "strasse", "straße", "Groß", "GROSS", "groſs"} {
				c, err := st.Company(ctx, ref)
				if err == nil {
					t.Errorf("Company(%q) = %s %q, want an ambiguous reference", ref, c.ID, c.Name)
					continue
				}
				wantKind(t, "Company("+ref+")", err, apikey.KindUsage, "ambiguous")
			}
			for search, want := range map[string]string{"élève": "Élève", "übersicht": "ÜBERSICHT", "FUSSWEG": "Fußweg", "école": "Élève", "RÉF": "Élève", "übung": "", "STRASSE": "Fußweg,plain"} {
				var got []string
				err := st.EachKey(ctx, store.KeyFilter{Search: search, Now: time.Now()}, func(k apikey.Key) error {
					got = append(got, k.Name)
					return nil
				})
				if err != nil || strings.Join(got, ",") != want {
					t.Errorf("Search %q: %v, %v; want %q", search, got, err, want)
				}
			}
			if k, err := st.Key(ctx, "ELÈVE", ""); err == nil || apikey.KindOf(err) != apikey.KindNotFound {
				t.Errorf("Key(ELÈVE) = %q, %v; want not found (no accent folding)", k.Name, err)
			}
			if k, err := st.Key(ctx, "élève", ""); err != nil || k.ID != "k1" {
				t.Errorf("Key(élève) = %q, %v", k.Name, err)
			}
			if es, err := st.Events(ctx, store.EventFilter{Company: "MÜLLER"}); err != nil || len(es) != 2 || es[0].Company.ID != id(9) {
				t.Errorf("history of the deleted Müller: %+v, %v", es, err)
			}
			if es, err := st.Events(ctx, store.EventFilter{Company: "école"}); err != nil || len(es) != 2 {
				t.Errorf("history of École: %+v, %v", es, err)
			}

			// The two are told apart by id, and renaming one ends it.
			other := "Strasse Nord"
			if _, err := st.UpdateCompany(ctx, id(1), store.CompanyUpdate{Name: &other}, "t"); err != nil {
				t.Fatal(err)
			}
			for ref, want := range map[string]string{"strasse": id(2), "Straße": id(2), "strasse nord": id(1)} {
				if c, err := st.Company(ctx, ref); err != nil || c.ID != want {
					t.Errorf("after the rename, Company(%q) = %s %q, %v; want %s", ref, c.ID, c.Name, err, want)
				}
			}
			if _, err := st.CreateCompany(ctx, "straße", "", "t"); apikey.KindOf(err) != apikey.KindConflict {
				t.Errorf("a third Straße: %v", err)
			}
		})
	}
}

// TestMigrationMovesLastUses opens a database of schema 6 with a key used
// and a key never used, and checks that migration 7 moved the last use into
// key_uses, keeping its time, and that a use of either is then recorded,
// read, and deleted with its key.
func TestMigrationMovesLastUses(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "apikey.db")
	const at = `'2026-01-01T00:00:00.000000Z'`
	atSchema(t, path, 6,
		`INSERT INTO companies (id, name, name_key, created_at, updated_at) VALUES ('c1', 'Acme', 'acme', `+at+`, `+at+`)`,
		`INSERT INTO keys (id, company_id, name, name_key, status, hint, created_at, created_by, updated_at, last_used_at) VALUES
			('k1', 'c1', 'used', 'used', 'active', 'ak_…', `+at+`, 'x', `+at+`, '2026-02-03T04:05:06.123456Z'),
			('k2', 'c1', 'unused', 'unused', 'active', 'ak_…', `+at+`, 'x', `+at+`, NULL)`)
	st := open(t, path)
	db := sqliteDB(t, st)
	var columns int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info('keys') WHERE name = 'last_used_at'`).Scan(&columns); err != nil || columns != 0 {
		t.Errorf("keys still has last_used_at (%d, %v)", columns, err)
	}
	used, err := st.Key(ctx, "used", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 2, 3, 4, 5, 6, 123456000, time.UTC); used.LastUsedAt == nil || !used.LastUsedAt.Equal(want) {
		t.Errorf("k1 last used %v, want %v", used.LastUsedAt, want)
	}
	unused, err := st.Key(ctx, "unused", "")
	if err != nil {
		t.Fatal(err)
	}
	if unused.LastUsedAt != nil {
		t.Errorf("k2, never used, last used %v", unused.LastUsedAt)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := st.TouchKeys(ctx, []store.KeyUse{{KeyID: "k2", CreatedAt: unused.CreatedAt, At: now}, {KeyID: "k1", CreatedAt: used.CreatedAt, At: now}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"used", "unused"} {
		if k, err := st.Key(ctx, name, ""); err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(now) {
			t.Errorf("%s after a use: last used %v, %v", name, k.LastUsedAt, err)
		}
	}
	if err := st.DeleteKeys(ctx, []string{"k1"}, "x"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.QueryRow(`SELECT count(*) FROM key_uses WHERE key_id = 'k1'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("a deleted key's last use stays: %d rows, %v", left, err)
	}
}
