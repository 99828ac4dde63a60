// Package postgres is the PostgreSQL engine of apikey's store: one store
// shared by every administrator's machine and every running server. It
// holds PostgreSQL's queries, migrations, transactions and error
// translation; the rules are the store's.
//
// Writers take one lock per store (a transaction-level advisory lock) from
// their first read to their commit, as SQLite's single writer does: the
// rules read, decide and write, and what they read still holds when they
// commit. Readers and last-use updates never take it.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options say how to open a store.
type Options struct {
	// MustExist refuses a database that holds no apikey store yet,
	// instead of creating one.
	MustExist bool
}

// Engine is an open PostgreSQL store.
type Engine struct {
	pool   *pgxpool.Pool
	where  string // the URL without its password, for messages
	secret string // the password, never to appear in a message
	schema string // the schema the store lives in (search_path)
}

var (
	_ engine.Engine   = (*Engine)(nil)
	_ engine.Notifier = (*Engine)(nil)
)

// Open connects to the store at a postgres:// or postgresql:// URL. The
// password may come from the URL, PGPASSWORD or ~/.pgpass, as libpq's users
// expect; it never appears in an error. Pending migrations are applied,
// serialised between processes that start at once; a store made by a newer
// apikey is refused.
func Open(ctx context.Context, rawURL string, o Options) (*Engine, error) {
	where, secret := Redact(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, apikey.Usagef("invalid PostgreSQL URL %s", where).WithHint(hideSecret(parseProblem(err), secret))
	}
	if cfg.ConnConfig.Password != "" {
		secret = cfg.ConnConfig.Password
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "apikey"
	}
	// A pool connects on first use: a command that fails before touching
	// the store never connects.
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, apikey.Runtimef("cannot connect to %s", where).WithHint(hideSecret(err.Error(), secret))
	}
	e := &Engine{pool: pool, where: where, secret: secret}
	if err := e.migrate(ctx, o.MustExist); err != nil {
		pool.Close()
		return nil, err
	}
	return e, nil
}

// Redact returns a PostgreSQL URL without its password, and the password.
func Redact(rawURL string) (redacted, password string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Unreadable: show only the scheme, since anything after it
		// may hold the password.
		scheme, _, _ := strings.Cut(rawURL, "://")
		return scheme + "://…", ""
	}
	if u.User != nil {
		password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		password = q.Get("password")
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), password
}

// parseProblem is what pgx found wrong in a URL, without the URL (which
// pgx quotes, password redacted, but long).
func parseProblem(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// hideSecret masks the password wherever a message might have picked it up.
func hideSecret(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "xxxxx")
}

// Where is how messages name the store: its URL without the password.
func (e *Engine) Where() string { return e.where }

// Kind names the engine.
func (e *Engine) Kind() string { return "postgres" }

// Schema is the schema the store lives in.
func (e *Engine) Schema() string { return e.schema }

// Pool is the connection pool, for tests that reach behind the store.
func (e *Engine) Pool() *pgxpool.Pool { return e.pool }

// Close closes the connections.
func (e *Engine) Close() error {
	e.pool.Close()
	return nil
}

// migrations returns the embedded migrations in order.
func migrations() []string { return engine.Migrations(migrationFiles, "migrations") }

// SchemaVersion is the schema version this build of apikey writes.
func SchemaVersion() int { return len(migrations()) }

// ourTables are the tables apikey makes: a schema that has one of them but
// no apikey_meta belongs to something else.
var ourTables = []string{"apikey_meta", "companies", "keys", "secrets", "events"}

// migrate brings the store to this apikey's schema. Nearly every open finds
// it current, in one read that needs no privilege beyond reading, so that a
// server's read-only role can open a store it may not migrate. Otherwise
// the migrations run in one transaction under a lock of their own, and the
// version is read again under it: processes that start at once migrate
// once, and PostgreSQL's transactional DDL leaves nothing half done.
func (e *Engine) migrate(ctx context.Context, mustExist bool) error {
	all := migrations()
	var version int
	var schema string
	err := e.pool.QueryRow(ctx, `SELECT coalesce(current_schema()::text, ''), coalesce((SELECT version FROM apikey_meta), -1)`).Scan(&schema, &version)
	if err != nil && !isCode(err, "42P01") { // undefined_table: no store yet
		return e.translate(err)
	}
	if err == nil {
		e.schema = schema
		switch {
		case version > len(all):
			return e.newer(version)
		case version == len(all):
			return nil
		}
	}
	if mustExist {
		none := apikey.Runtimef("%s holds no apikey store", e.where).WithHint("check --db or APIKEY_DB; a command that writes (company create, create) makes a new one")
		none.Err = engine.ErrNoStore
		return none
	}
	return e.translate(pgx.BeginTxFunc(ctx, e.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('apikey.migrate.' || current_schema(), 0))`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(current_schema()::text, '')`).Scan(&e.schema); err != nil {
			return err
		}
		if e.schema == "" {
			return apikey.Runtimef("%s has no schema for apikey", e.where).WithHint("the schemas of search_path do not exist, or the role may not use them (GRANT USAGE); see docs/scaling.md")
		}
		var found []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(table_name::text ORDER BY table_name), '{}') FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1)`, ourTables).Scan(&found); err != nil {
			return err
		}
		version := 0
		if len(found) > 0 {
			if !contains(found, "apikey_meta") {
				return apikey.Usagef("schema %q of %s is not an apikey store", e.schema, e.where).WithHint("it has a table " + found[0] + " of another application; nothing was changed; give apikey a schema of its own (search_path)")
			}
			if err := tx.QueryRow(ctx, `SELECT version FROM apikey_meta`).Scan(&version); err != nil {
				return err
			}
		}
		if version > len(all) {
			return e.newer(version)
		}
		for i := version; i < len(all); i++ {
			if _, err := tx.Exec(ctx, all[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO apikey_meta (one, version) VALUES (true, $1) ON CONFLICT (one) DO UPDATE SET version = excluded.version`, len(all))
		return err
	}))
}

func (e *Engine) newer(version int) error {
	return apikey.Usagef("%s was made by a newer apikey (schema %d, this apikey knows %d)", e.where, version, len(migrations())).WithHint("upgrade apikey")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// maxAttempts bounds how often a transaction that PostgreSQL aborted to
// break a deadlock (with a server recording last uses, say) is run again.
const maxAttempts = 5

// Write runs fn in one transaction that holds the store's writers' lock
// from its start: writers run one after the other, as on SQLite, so that
// two admins creating one company name or toggling one key at the same
// instant give one winner, or a toggle that sees the other's. A transaction
// that PostgreSQL aborts for a deadlock or a serialization failure is run
// again.
func (e *Engine) Write(ctx context.Context, fn func(engine.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginTxFunc(ctx, e.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
			if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('apikey.write.' || current_schema(), 0))`); err != nil {
				return err
			}
			return fn(&tx{tx: t})
		})
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
	}
	return e.translate(err)
}

// Read runs fn on one snapshot: a read-only repeatable-read transaction,
// which neither waits for writers nor holds them up.
func (e *Engine) Read(ctx context.Context, fn func(engine.Tx) error) error {
	return e.translate(pgx.BeginTxFunc(ctx, e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(t pgx.Tx) error {
		return fn(&tx{tx: t})
	}))
}

func retryable(err error) bool {
	return isCode(err, "40001") || isCode(err, "40P01") // serialization_failure, deadlock_detected
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}
