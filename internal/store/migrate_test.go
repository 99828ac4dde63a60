package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrationKeepsSealedOfExistingKeys opens a database of schema 1 with
// one key whose secret is sealed and one whose is not, and checks that the
// sealed flag the keys carry since schema 2 says so.
func TestMigrationKeepsSealedOfExistingKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apikey.db")
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		migrations()[0],
		fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = 1", ApplicationID),
		`INSERT INTO companies VALUES ('c1', 'Acme', 'acme', NULL, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO keys (id, company_id, name, status, hint, created_at, created_by, updated_at) VALUES
			('k1', 'c1', 'sealed', 'active', 'ak_…', '2026-01-01T00:00:00.000000Z', 'x', '2026-01-01T00:00:00.000000Z'),
			('k2', 'c1', 'plain', 'active', 'ak_…', '2026-01-01T00:00:00.000000Z', 'x', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO secrets (hash, key_id, sealed, created_at, expires_at) VALUES
			(x'01', 'k1', x'ff', '2026-01-01T00:00:00.000000Z', NULL),
			(x'02', 'k2', NULL, '2026-01-01T00:00:00.000000Z', NULL),
			(x'03', 'k2', x'ff', '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z')`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Close()
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, want := range map[string]bool{"k1": true, "k2": false} {
		k, err := keyByID(ctx, st.db, id)
		if err != nil {
			t.Fatal(err)
		}
		if k.Sealed != want {
			t.Errorf("key %s: Sealed %v after migration, want %v", id, k.Sealed, want)
		}
	}
}

// TestSealedFollowsTheCurrentSecret checks that create and rotate keep the
// sealed flag of a key in step with its current secret.
func TestSealedFollowsTheCurrentSecret(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	n := newKey(t, "Acme", "k")
	n.Secret.Sealed = []byte("sealed")
	k, err := st.CreateKey(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, want bool) {
		t.Helper()
		got, err := st.Key(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Sealed != want {
			t.Errorf("after %s: Sealed %v, want %v", step, got.Sealed, want)
		}
	}
	check("create with a master key", true)
	plain := newKey(t, "Acme", "unused").Secret
	if _, err := st.RotateKey(ctx, k.ID, plain, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	check("rotate without a master key", false)
	sealed := newKey(t, "Acme", "unused").Secret
	sealed.Sealed = []byte("sealed")
	if _, err := st.RotateKey(ctx, k.ID, sealed, 0, "test"); err != nil {
		t.Fatal(err)
	}
	check("rotate with a master key", true)
}

// TestConcurrentFirstOpensMigrateOnce opens a new database from several
// goroutines at once: each must find the schema current, and the migrations
// must have run once (a second run would fail on CREATE TABLE).
func TestConcurrentFirstOpensMigrateOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apikey.db")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			st, err := Open(context.Background(), path)
			if err == nil {
				var v int
				err = st.db.QueryRow(`PRAGMA user_version`).Scan(&v)
				if err == nil && v != SchemaVersion() {
					err = fmt.Errorf("user_version %d, want %d", v, SchemaVersion())
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
