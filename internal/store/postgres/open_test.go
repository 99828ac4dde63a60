package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/postgres"
	"github.com/jackc/pgx/v5"
)

// TestConcurrentFirstOpensMigrateOnce starts eight processes' worth of
// stores on one empty schema at once: every one opens, the schema is made
// once, at the version this apikey knows.
func TestConcurrentFirstOpensMigrateOnce(t *testing.T) {
	url := pgtest.New(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			st, err := store.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			if _, err = st.CreateCompany(ctx, fmt.Sprintf("Co %d", i), "", "t"); err != nil {
				errs <- err
			}
			st.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var version, rows int
	if err := queryRow(t, url, `SELECT version, (SELECT count(*) FROM apikey_meta) FROM apikey_meta`, &version, &rows); err != nil {
		t.Fatal(err)
	}
	if version != postgres.SchemaVersion() || rows != 1 {
		t.Errorf("schema version %d in %d rows, want %d in 1", version, rows, postgres.SchemaVersion())
	}
}

// TestRefusals: a store made by a newer apikey, a schema of another
// application, and (for a command that only reads) a schema with no store
// are refused, and nothing is changed.
func TestRefusals(t *testing.T) {
	t.Run("newer", func(t *testing.T) {
		url := pgtest.New(t)
		st, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateCompany(ctx, "Acme", "", "t"); err != nil {
			t.Fatal(err)
		}
		st.Close()
		exec(t, url, `UPDATE apikey_meta SET version = 99`)
		for _, opts := range [][]store.Option{nil, {store.MustExist()}} {
			_, err := store.Open(ctx, url, opts...)
			if apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "was made by a newer apikey (schema 99, this apikey knows") {
				t.Errorf("open: %v", err)
			}
		}
		var version, companies int
		if err := queryRow(t, url, `SELECT version, (SELECT count(*) FROM companies) FROM apikey_meta`, &version, &companies); err != nil || version != 99 || companies != 1 {
			t.Errorf("the store changed: version %d, %d companies, %v", version, companies, err)
		}
	})
	t.Run("another application's schema", func(t *testing.T) {
		url := pgtest.New(t)
		exec(t, url, `CREATE TABLE keys (door text); INSERT INTO keys VALUES ('front')`)
		_, err := store.Open(ctx, url)
		if apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "is not an apikey store") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("open: %v", err)
		}
		var door string
		var tables int
		if err := queryRow(t, url, `SELECT (SELECT door FROM keys), (SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema())`, &door, &tables); err != nil || door != "front" || tables != 1 {
			t.Errorf("the schema changed: %q, %d tables, %v", door, tables, err)
		}
	})
	t.Run("no store, for a reader", func(t *testing.T) {
		url := pgtest.New(t)
		_, err := store.Open(ctx, url, store.MustExist())
		if apikey.KindOf(err) != apikey.KindRuntime || !strings.Contains(err.Error(), "holds no apikey store") || !errors.Is(err, store.ErrNoStore) {
			t.Errorf("open: %v", err)
		}
		var tables int
		if err := queryRow(t, url, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`, &tables); err != nil || tables != 0 {
			t.Errorf("a reader made %d tables (%v)", tables, err)
		}
	})
	t.Run("password", func(t *testing.T) {
		_, err := store.Open(ctx, "postgres://alice:s3cr3t-pw@127.0.0.1:1/apikey?sslmode=disable&connect_timeout=5")
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "cannot connect to postgres://alice@127.0.0.1:1/apikey") {
			t.Errorf("open: %v", err)
		}
		_, err = store.Open(ctx, "postgres://alice:s3cr3t-pw@127.0.0.1:x/apikey")
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("open: %v", err)
		}
	})
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	if err := pgtest.Exec(ctx, url, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryRow(t *testing.T, url, sql string, dest ...any) error {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dest...)
}
