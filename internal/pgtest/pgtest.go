// Package pgtest gives tests a PostgreSQL to run against, and one empty schema
// per test on it, so that the store's PostgreSQL suite runs wherever a
// PostgreSQL can be had without anyone setting one up.
//
// Where the server comes from, in order:
//
//  1. APIKEY_TEST_POSTGRES, a postgres:// URL such as
//     postgres://postgres@127.0.0.1:5432/test?sslmode=disable. It is used as
//     given: a run that sets it asked for PostgreSQL, so a server that cannot
//     be reached there fails the tests that need one instead of skipping them.
//     This is what CI (.ci/run) sets.
//  2. A throwaway cluster, started once per test process: initdb and postgres
//     from PATH, else from the highest /usr/lib/postgresql/*/bin, in a
//     temporary directory, listening only on a Unix socket in that directory.
//     As root, it runs as the postgres user (else nobody), since initdb
//     refuses root. The postmaster is the test process's child and dies with
//     it, even when the test binary is killed; Stop removes it and its
//     directory at the end of a run, and the next throwaway start removes the
//     directory of a run that was killed. APIKEY_TEST_POSTGRES_THROWAWAY=1
//     picks this path even when APIKEY_TEST_POSTGRES is set, and makes a
//     cluster that cannot be started a failure instead of a skip.
//  3. Neither: tests that need PostgreSQL skip, with a message that says how
//     to enable them.
//
// The API:
//
//	Server() (url string, ok bool, reason string)   // the server's base URL, or why there is none
//	Schema(ctx) (url string, drop func(), err error) // a new empty schema and a URL that makes it the search_path
//	New(t) string                                    // Schema for a test: skips or fails as above, drops in t.Cleanup
//	Exec(ctx, url, sql, args...) error                // one-off admin SQL on a fresh connection
//	Stop()                                            // stops this process's throwaway cluster (TestMain, after m.Run)
//
// A typical test:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.Stop()
//		os.Exit(code)
//	}
//
//	// testscript.Main exits by itself; with testscript:
//	// code := testscript.RunMain(m, cmds); pgtest.Stop(); os.Exit(code)
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.New(t) // ...&search_path=apikey_test_<random>
//		st, err := store.Open(ctx, url)
//		...
//	}
//
// Schemas keep tests apart cheaply: each test gets its own schema on the
// one server, named apikey_test_ and 16 random hex digits, and made the
// connection's search_path through the URL's search_path parameter, which
// pgx sends to the server as a run-time parameter. libpq (psql) does not know
// that URL parameter; the URLs are for pgx.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment variables that choose the server.
const (
	EnvURL       = "APIKEY_TEST_POSTGRES"
	EnvThrowaway = "APIKEY_TEST_POSTGRES_THROWAWAY"
)

// SchemaPrefix starts the name of every schema that Schema creates.
const SchemaPrefix = "apikey_test_"

// ErrNoServer is wrapped by Schema's error when there is no PostgreSQL to
// test against and none was asked for: the caller should skip, not fail.
var ErrNoServer = errors.New("no PostgreSQL for tests")

// enable is the end of every skip message: how to get the tests to run.
const enable = "set " + EnvURL + "=postgres://USER@HOST:PORT/DB?sslmode=disable, " +
	"or install PostgreSQL's server (Debian: apt-get install postgresql) so that the tests can start a throwaway cluster"

// server is where this process's tests go: exactly one of url (a server to
// use), err (one was asked for and cannot be had: fail) and reason (none:
// skip) is set.
type server struct {
	url     string
	fromEnv bool // url is APIKEY_TEST_POSTGRES
	err     error
	reason  string
	cluster *cluster // the throwaway cluster behind url, if any
}

var (
	mu      sync.Mutex
	current *server
	stopped bool
)

// get resolves the server once per process.
func get() *server {
	mu.Lock()
	defer mu.Unlock()
	if stopped {
		return &server{err: errors.New("pgtest: Stop was called; no PostgreSQL after it")}
	}
	if current == nil {
		current = resolve(os.Getenv)
	}
	return current
}

// resolve picks the server as the package comment says.
func resolve(getenv func(string) string) *server {
	forced := getenv(EnvThrowaway) == "1"
	if env := getenv(EnvURL); env != "" && !forced {
		if err := checkURL(env); err != nil {
			return &server{err: fmt.Errorf("pgtest: %s: %w", EnvURL, err)}
		}
		return &server{url: env, fromEnv: true}
	}
	c, err := startCluster()
	switch {
	case err == nil:
		return &server{url: c.url, cluster: c}
	case forced:
		return &server{err: fmt.Errorf("pgtest: %s=1 but the throwaway cluster did not start: %w", EnvThrowaway, err)}
	case errors.Is(err, errNoBinaries):
		return &server{reason: fmt.Sprintf("%s is unset and %v; to run the PostgreSQL tests, %s", EnvURL, err, enable)}
	default:
		return &server{reason: fmt.Sprintf("%s is unset and the throwaway cluster did not start: %v; to run the PostgreSQL tests, %s", EnvURL, err, enable)}
	}
}

// checkURL refuses what is not a postgres:// URL, since Schema appends its
// search_path as a URL query parameter.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", redactParseError(err))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("%q is not a postgres:// URL", u.Redacted())
	}
	if _, err := pgx.ParseConfig(s); err != nil {
		return err
	}
	return nil
}

// redactParseError keeps a URL, which may hold a password, out of a message.
func redactParseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redacted is the URL with its password, if any, masked.
func redacted(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// Server returns the base URL of the PostgreSQL server for tests
// (postgres://user@host:port/db?sslmode=disable, or for a throwaway cluster
// postgres://postgres@/postgres?host=SOCKETDIR&port=N&sslmode=disable),
// starting a throwaway cluster once per test process when needed; ok=false
// with a reason saying how to enable the PostgreSQL tests when none can be
// had.
//
// With APIKEY_TEST_POSTGRES set, ok is true and url is that value, reachable
// or not: the tests that use it fail if it cannot be reached. When
// PostgreSQL was asked for and cannot be had at all (a malformed
// APIKEY_TEST_POSTGRES, or APIKEY_TEST_POSTGRES_THROWAWAY=1 and no cluster),
// ok is false and reason says why, but that is not a reason to skip: Schema
// and New report it as a failure. Callers that skip on !ok should therefore
// go through Schema or New.
func Server() (url string, ok bool, reason string) {
	s := get()
	if s.err != nil {
		return "", false, s.err.Error()
	}
	return s.url, s.url != "", s.reason
}

// Schema creates a new empty schema on the server and returns a URL that
// makes it the connection's search_path (the server's URL with
// search_path=NAME added), and a function that drops the schema with all it
// holds (CASCADE); calling it more than once is harmless. When there is no
// server and none was asked for, the error wraps ErrNoServer (skip); any
// other error is a failure.
func Schema(ctx context.Context) (url string, drop func(), err error) {
	url, dropErr, err := get().schema(ctx)
	if err != nil {
		return "", nil, err
	}
	return url, func() { _ = dropErr() }, nil
}

// New is the testing helper: it skips t, with the reason, when there is no
// server and none was asked for; it fails t when one was asked for and
// cannot be used; else it returns a URL for a new empty schema of its own,
// which t.Cleanup drops.
func New(t testing.TB) string {
	t.Helper()
	return get().forTest(t)
}

func (s *server) forTest(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, drop, err := s.schema(ctx)
	if errors.Is(err, ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return url
}

// schema is Schema on s, with a drop that reports its error.
func (s *server) schema(ctx context.Context) (string, func() error, error) {
	switch {
	case s.err != nil:
		return "", nil, s.err
	case s.url == "":
		return "", nil, fmt.Errorf("%w: %s", ErrNoServer, s.reason)
	}
	name, err := newSchemaName()
	if err != nil {
		return "", nil, err
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := Exec(ctx, s.url, "CREATE SCHEMA "+ident); err != nil {
		return "", nil, s.explain(err)
	}
	base := s.url
	drop := sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// A connection that a test leaked in a transaction would otherwise
		// hold the drop, and the test run, until the minute is up.
		if err := Exec(ctx, base, "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			return fmt.Errorf("dropping schema %s: %w", name, err)
		}
		return nil
	})
	return withSearchPath(s.url, name), drop, nil
}

// explain says, when the server that a run asked for cannot be used, that
// this is why the test fails rather than skips.
func (s *server) explain(err error) error {
	if s.fromEnv {
		return fmt.Errorf("pgtest: %s=%s is set but cannot be used: %w; a run that sets %s fails instead of skipping the PostgreSQL tests: start that server, or unset %s to let the tests start a throwaway cluster or skip",
			EnvURL, redacted(s.url), err, EnvURL, EnvURL)
	}
	return fmt.Errorf("pgtest: the throwaway cluster at %s cannot be used: %w", s.url, err)
}

// withSearchPath adds search_path=name to a postgres:// URL. It appends
// rather than re-encodes, so the rest of the URL stays byte for byte as it
// was; a search_path already there is overridden, since the last
// occurrence of a parameter wins.
func withSearchPath(base, name string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + name
}

// newSchemaName returns SchemaPrefix and 16 random hex digits: a lower-case
// identifier that needs no quoting and never collides in practice.
func newSchemaName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return SchemaPrefix + hex.EncodeToString(b[:]), nil
}

// Exec runs sql on a fresh connection to url and closes it: for the admin
// SQL a test needs beside the code under test. Without args, sql may hold
// several statements separated by semicolons (pgx then uses the simple
// query protocol); with args, it is one statement with $1, $2, ...
func Exec(ctx context.Context, url, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Stop stops the throwaway cluster that this process started, if any, and
// removes its directory. Call it from TestMain after m.Run; after it, Server
// has no server. Without it the cluster still dies with the test process,
// and the next start removes the directory.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	stopped = true
	if current != nil && current.cluster != nil {
		current.cluster.stop()
	}
}

// SchemaOf returns the schema that a URL of Schema or New names, "" for
// none.
func SchemaOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("search_path")
}
