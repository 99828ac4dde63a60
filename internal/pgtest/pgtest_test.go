package pgtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// query returns the single value of a one-row query on url.
func query[T any](t *testing.T, url, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestNewGivesAnEmptySchemaAsSearchPath(t *testing.T) {
	url := New(t)
	base, _, _ := Server()
	t.Logf("server: %s", redacted(base))

	name := query[string](t, url, "SELECT current_schema()")
	if !strings.HasPrefix(name, SchemaPrefix) || len(name) != len(SchemaPrefix)+16 {
		t.Fatalf("current_schema() = %q, want %s and 16 hex digits", name, SchemaPrefix)
	}
	if got := query[string](t, url, "SHOW search_path"); got != name {
		t.Errorf("search_path = %q, want %q", got, name)
	}
	if n := query[int64](t, url, "SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace", name); n != 0 {
		t.Errorf("new schema holds %d relations", n)
	}

	if err := Exec(context.Background(), url, "CREATE TABLE companies (name text); INSERT INTO companies VALUES ('Acme')"); err != nil {
		t.Fatal(err)
	}
	if got := query[string](t, url, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'companies' AND table_schema = current_schema()"); got != name {
		t.Errorf("table created in %q, want %q", got, name)
	}
	if got := query[string](t, url, "SELECT name FROM companies"); got != "Acme" {
		t.Errorf("read back %q", got)
	}
}

func TestSchemaDropRemovesIt(t *testing.T) {
	ctx := context.Background()
	url, drop, err := Schema(ctx)
	if errors.Is(err, ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := Server()
	name := query[string](t, url, "SELECT current_schema()")
	if err := Exec(ctx, url, "CREATE TABLE keys (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	drop()
	if n := query[int64](t, base, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name); n != 0 {
		t.Errorf("schema %s still there after drop", name)
	}
	drop() // a second drop is harmless
	// The URL now names a schema that is gone: nothing to create tables in.
	if got := query[*string](t, url, "SELECT current_schema()"); got != nil {
		t.Errorf("current_schema() after drop = %q, want NULL", *got)
	}
}

func TestSchemasAreApart(t *testing.T) {
	ctx := context.Background()
	a, b := New(t), New(t)
	if a == b {
		t.Fatalf("two schemas, one URL: %s", a)
	}
	for url, name := range map[string]string{a: "in a", b: "in b"} {
		if err := Exec(ctx, url, "CREATE TABLE companies (name text)"); err != nil {
			t.Fatal(err)
		}
		if err := Exec(ctx, url, "INSERT INTO companies VALUES ($1)", name); err != nil {
			t.Fatal(err)
		}
	}
	if got := query[string](t, a, "SELECT string_agg(name, ',') FROM companies"); got != "in a" {
		t.Errorf("schema a holds %q", got)
	}
	if got := query[string](t, b, "SELECT string_agg(name, ',') FROM companies"); got != "in b" {
		t.Errorf("schema b holds %q", got)
	}
}

func TestSchemaConcurrently(t *testing.T) {
	if _, ok, reason := Server(); !ok {
		t.Skip(reason)
	}
	const n = 8
	var wg sync.WaitGroup
	urls := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url, drop, err := Schema(context.Background())
			if err == nil {
				t.Cleanup(drop)
			}
			urls[i], errs[i] = url, err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, url := range urls {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[url] {
			t.Errorf("URL given twice: %s", url)
		}
		seen[url] = true
	}
}

// fakeTB records whether the helper skipped or failed the test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper()        {}
func (f *fakeTB) Cleanup(func()) {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.failed, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func runForTest(s *server) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.forTest(f)
	}()
	<-done
	return f
}

func TestAskedForButUnreachableFails(t *testing.T) {
	env := map[string]string{EnvURL: "postgres://postgres:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"}
	s := resolve(func(k string) string { return env[k] })
	if s.url != env[EnvURL] || s.err != nil {
		t.Fatalf("resolve = %+v, want the URL as given", s)
	}
	f := runForTest(s)
	if f.skipped || !f.failed {
		t.Fatalf("skipped=%v failed=%v, want a failure: %s", f.skipped, f.failed, f.msg)
	}
	for _, want := range []string{EnvURL + "=", "fails instead of skipping", "unset " + EnvURL} {
		if !strings.Contains(f.msg, want) {
			t.Errorf("message lacks %q: %s", want, f.msg)
		}
	}
	if strings.Contains(f.msg, "secret") {
		t.Errorf("message shows the password: %s", f.msg)
	}
}

func TestAskedForButMalformedFails(t *testing.T) {
	for _, v := range []string{"host=127.0.0.1 dbname=test", "mysql://root@localhost/test", "postgres://u@h:notaport/db"} {
		s := resolve(func(k string) string {
			if k == EnvURL {
				return v
			}
			return ""
		})
		if s.err == nil {
			t.Errorf("%q: accepted", v)
			continue
		}
		if f := runForTest(s); !f.failed || !strings.Contains(f.msg, EnvURL) {
			t.Errorf("%q: failed=%v skipped=%v: %s", v, f.failed, f.skipped, f.msg)
		}
	}
}

func TestNoServerSkipsSayingHowToEnable(t *testing.T) {
	s := &server{reason: "APIKEY_TEST_POSTGRES is unset and no binaries; to run the PostgreSQL tests, " + enable}
	f := runForTest(s)
	if !f.skipped || f.failed {
		t.Fatalf("skipped=%v failed=%v, want a skip", f.skipped, f.failed)
	}
	if !strings.Contains(f.msg, EnvURL+"=postgres://") || !strings.Contains(f.msg, "apt-get install postgresql") {
		t.Errorf("skip message does not say how to enable the tests: %s", f.msg)
	}
	if _, _, err := s.schema(context.Background()); !errors.Is(err, ErrNoServer) {
		t.Errorf("Schema error %v does not wrap ErrNoServer", err)
	}
}

func TestWithSearchPath(t *testing.T) {
	for base, want := range map[string]string{
		"postgres://u@h:5432/db":                   "postgres://u@h:5432/db?search_path=s",
		"postgres://u@h/db?sslmode=disable":        "postgres://u@h/db?sslmode=disable&search_path=s",
		"postgres://u@/db?host=%2Ftmp%2Fx&port=5":  "postgres://u@/db?host=%2Ftmp%2Fx&port=5&search_path=s",
		"postgres://u@h/db?search_path=old&x=%2B1": "postgres://u@h/db?search_path=old&x=%2B1&search_path=s",
	} {
		got := withSearchPath(base, "s")
		if got != want {
			t.Errorf("withSearchPath(%q) = %q, want %q", base, got, want)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Errorf("pgx refuses %q: %v", got, err)
			continue
		}
		if sp := cfg.RuntimeParams["search_path"]; sp != "s" {
			t.Errorf("%q: search_path run-time parameter = %q", got, sp)
		}
	}
}
