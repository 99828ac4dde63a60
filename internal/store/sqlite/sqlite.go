// Package sqlite is the SQLite engine of apikey's store: one file on one
// machine, the embedded default. It holds SQLite's queries, migrations and
// error translation, and the speed tricks that only SQLite needs (packed
// list rows, a persistent write-ahead log). The rules are the store's.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ApplicationID marks a SQLite file as an apikey database ("apky"), so that a
// foreign database is never migrated.
const ApplicationID = 0x61706b79

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// Options say how to open a database file.
type Options struct {
	// CacheSize is the page cache of each connection, in bytes; 0 for
	// SQLite's default. A bulk writer that touches every index of a large
	// store wants one that holds them.
	CacheSize int64
	// MustExist refuses a file that does not exist, or holds no apikey
	// store yet, instead of creating one.
	MustExist bool
}

// Engine is an open apikey database file.
type Engine struct {
	db   *sql.DB
	path string
}

var _ engine.Engine = (*Engine)(nil)

// Open opens the database at path, creating it (0600, in a 0700 directory)
// when it does not exist, and applies pending migrations. A file that is not
// an apikey database, or one made by a newer apikey, is refused and left
// byte for byte as it was.
func Open(ctx context.Context, path string, o Options) (*Engine, error) {
	if strings.TrimSpace(path) == "" {
		return nil, apikey.Usagef("no database path given")
	}
	name := path
	path, err := followLink(path)
	if err != nil {
		return nil, err
	}
	fresh, err := prepareFile(ctx, name, path, o.MustExist)
	if err != nil {
		return nil, err
	}
	q := dsn(path, true)
	if o.CacheSize > 0 {
		q += fmt.Sprintf("&_pragma=cache_size(-%d)", (o.CacheSize+1023)/1024)
	}
	db, err := sql.Open(driverName, q)
	if err != nil {
		return nil, apikey.Runtimef("cannot open database %s: %v", name, err)
	}
	// One writer at a time is all SQLite allows; a few connections let reads
	// proceed beside it. A small pool is faster than a large one with this
	// driver.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	e := &Engine{db: db, path: name}
	err = e.migrate(ctx, fresh)
	// The first connection of every process to a new file switches it to
	// WAL, and SQLite makes that switch without waiting for the lock it
	// needs: of several processes that open a new store at once, one could
	// find it busy at once, where any other write waits busyTimeout
	// (TestConcurrentCompanyCreate failed 3 runs in 150 that way, at
	// BEGIN). They try again for as long, each time on a new connection,
	// for which the file is in WAL already.
	for wait, until := 5*time.Millisecond, time.Now().Add(busyTimeout); isCode(err, sqlite3.SQLITE_BUSY) && time.Now().Before(until); wait = min(2*wait, 100*time.Millisecond) {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			err = e.migrate(ctx, fresh)
			continue
		}
		break
	}
	if err != nil {
		e.dropWAL()
		db.Close()
		return nil, err
	}
	return e, nil
}

// busyTimeout is how long a statement waits for another process's lock
// (busy_timeout in dsn).
const busyTimeout = 15 * time.Second

// isCode reports an error of SQLite's of the primary result code code
// (SQLITE_BUSY, SQLITE_CORRUPT, …), kept in a domain error's cause by
// translate.
func isCode(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == code
}

// Kind names the engine.
func (e *Engine) Kind() string { return "sqlite" }

// Path is the file the engine was opened from, as given.
func (e *Engine) Path() string { return e.path }

// DB is the database handle, for tests that reach behind the store.
func (e *Engine) DB() *sql.DB { return e.db }

// Close closes the database.
func (e *Engine) Close() error { return e.db.Close() }

// driverName is modernc's SQLite driver with the connection hook and the
// fold function below, on a name of its own so that they stay on apikey's
// connections.
const driverName = "apikey-sqlite"

func init() {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(persistWAL)
	// apikey_fold is apikey.Fold, for migrations that fill a folded column
	// from the rows already there: SQLite's lower() knows only ASCII.
	d.MustRegisterDeterministicScalarFunction("apikey_fold", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, ok := args[0].(string)
		if !ok {
			return args[0], nil
		}
		return apikey.Fold(s), nil
	})
	sql.Register(driverName, d)
}

// persistWAL keeps the -wal and -shm files when the last connection closes,
// instead of deleting them, so that the next command does not create,
// size and map them again and delete them once more when it ends: a sixteenth
// of what `apikey show` costs (bench/cli.sh). With journal_size_limit (see
// dsn) the WAL is truncated to nothing at that close, once checkpointed, so
// the database file alone holds every write between commands.
func persistWAL(c sqlite.ExecQuerierContext, _ string) error {
	if fc, ok := c.(sqlite.FileControl); ok {
		if _, err := fc.FileControlPersistWAL("main", 1); err != nil {
			return err
		}
	}
	return nil
}

// dropWAL turns persistWAL off on a connection, so that a database that
// Open gives up on is left without the -wal and -shm files it did not have.
// Another process that has them open keeps them: SQLite deletes them only
// when the last connection closes.
func (e *Engine) dropWAL() {
	c, err := e.db.Conn(context.Background())
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.Raw(func(dc any) error {
		if fc, ok := dc.(sqlite.FileControl); ok {
			_, err := fc.FileControlPersistWAL("main", 0)
			return err
		}
		return nil
	})
}

// dsn builds the connection string. _txlock=immediate makes every transaction
// take the write lock when it begins, so read-then-write transactions of
// concurrent processes wait for each other (busy_timeout) instead of failing
// with "database is locked".
func dsn(path string, wal bool) string {
	timeout := fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds())
	q := timeout + "&_pragma=foreign_keys(1)&_txlock=immediate"
	if wal {
		q = timeout + "&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(67108864)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q}
	if !filepath.IsAbs(path) {
		// "./" keeps a file named ":memory:" a file, not an in-memory
		// database that would lose every write.
		u = url.URL{Scheme: "file", Opaque: (&url.URL{Path: "./" + path}).EscapedPath(), RawQuery: q}
	}
	return u.String()
}

// followLink returns the file that path names: path itself, or, when it is
// a symbolic link, the file it points to, even one that does not exist yet,
// so that the database is created where the link says. A link that leads
// nowhere that could be created is an error, never a loop: a link into a
// directory that does not exist most likely points at a volume that is not
// mounted, and making that directory would put the store where nobody
// looks for it.
func followLink(path string) (string, error) {
	name := path
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(path)
		if hops > 0 && errors.Is(err, fs.ErrNotExist) {
			if _, derr := os.Stat(filepath.Dir(path)); derr != nil {
				return "", apikey.Runtimef("cannot open database %s: it links to %s, in a directory that does not exist", name, path).WithHint("create the directory or change the link")
			}
		}
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil // a missing or plain file: prepareFile decides
		}
		if hops == 40 {
			return "", apikey.Runtimef("cannot open database %s: too many levels of symbolic links", path)
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", apikey.Runtimef("cannot open database %s: %v", path, pathError(err))
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
}

// prepareFile creates the database file with safe modes when it is missing,
// and refuses a path that is not a regular file, not SQLite, a SQLite
// database of another application, or one made by a newer apikey, without
// writing to it. name is the path as the user gave it, for messages. fresh
// reports a file that holds no database yet.
func prepareFile(ctx context.Context, name, path string, mustExist bool) (fresh bool, err error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if mustExist {
			return false, notExist(name)
		}
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, apikey.Runtimef("cannot create database directory %s: %v", dir, pathError(err))
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: look at it as found.
			if fi, err = os.Stat(path); err != nil {
				return false, apikey.Runtimef("cannot open database %s: %v", name, pathError(err))
			}
			break
		}
		if err != nil {
			return false, apikey.Runtimef("cannot create database %s: %v", name, pathError(err))
		}
		return true, f.Close()
	case err != nil:
		return false, apikey.Runtimef("cannot open database %s: %v", name, pathError(err))
	}
	switch {
	case fi.IsDir():
		return false, apikey.Usagef("database %s is a directory", name)
	case !fi.Mode().IsRegular():
		return false, apikey.Usagef("database %s is not a regular file", name)
	case fi.Size() == 0:
		if mustExist {
			return false, notExist(name)
		}
		return true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, apikey.Runtimef("cannot open database %s: %v", name, pathError(err))
	}
	header := make([]byte, 100)
	_, rerr := io.ReadFull(f, header)
	f.Close()
	if rerr != nil || !bytes.Equal(header[:16], sqliteMagic) {
		return false, apikey.Usagef("%s is not an apikey database", name).WithHint("it is not a SQLite file; nothing was changed")
	}
	appID := binary.BigEndian.Uint32(header[68:72])
	if appID != 0 && appID != ApplicationID {
		return false, foreignError(name)
	}
	// Nearly every open finds one of apikey's files, in WAL mode (bytes
	// 18 and 19 are 2), of a schema this apikey knows: opening it as usual
	// changes nothing in it, and migrate reads the version again, from the
	// log too, before writing anything.
	version := binary.BigEndian.Uint32(header[60:64])
	if appID == ApplicationID && header[18] == 2 && header[19] == 2 && int(version) <= len(migrations()) {
		return false, nil
	}
	// The header may be behind the write-ahead log, and the schema version
	// must be known before a connection that sets WAL mode touches the
	// file: ask SQLite through a read-only connection that cannot change it.
	// A file read as immutable (inspect) can change under the read when
	// another process is making the store at that moment and writes its
	// first pages into it: SQLite then sees a torn file and calls it
	// malformed (TestConcurrentCompanyCreate, about one run in 400). So
	// it is read again a few times before it is called corrupt; a damaged
	// file stays damaged.
	for wait := 5 * time.Millisecond; ; wait *= 2 {
		fresh, err = inspect(ctx, name, path, mustExist)
		if !isCode(err, sqlite3.SQLITE_CORRUPT) || wait > 320*time.Millisecond {
			return fresh, err
		}
		select {
		case <-ctx.Done():
			return fresh, err
		case <-time.After(wait):
		}
	}
}

func notExist(name string) error {
	e := apikey.Runtimef("database %s does not exist", name).WithHint("check --db or APIKEY_DB; a command that writes (company create, create) makes a new one")
	e.Err = engine.ErrNoStore
	return e
}

func foreignError(name string) error {
	return apikey.Usagef("%s is not an apikey database", name).WithHint("it belongs to another application; nothing was changed")
}

func newerError(name string, version, known int64) error {
	return apikey.Usagef("database %s was made by a newer apikey (schema %d, this apikey knows %d)", name, version, known).WithHint("upgrade apikey")
}

// inspect reads a SQLite file's marks through a read-only connection and
// refuses it unless it is apikey's, of a schema this apikey knows, or a
// blank database (no application id, no tables, no version) it may adopt.
func inspect(ctx context.Context, name, path string, mustExist bool) (fresh bool, err error) {
	q := dsn(path, false) + "&mode=ro"
	if !hasContent(path+"-wal") && !hasContent(path+"-journal") {
		// No log and no journal: the file alone is the database. Read it
		// as immutable, so that SQLite does not make a -wal and -shm for
		// a file in WAL mode that a read-only connection would then leave
		// behind.
		q += "&immutable=1"
	}
	db, err := sql.Open("sqlite", q)
	if err != nil {
		return false, apikey.Runtimef("cannot open database %s: %v", name, err)
	}
	defer db.Close()
	var appID, version, tables int64
	err = db.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)`).Scan(&appID, &version, &tables)
	if err != nil {
		return false, translate(name, err)
	}
	switch {
	case appID == ApplicationID && version > int64(len(migrations())):
		return false, newerError(name, version, int64(len(migrations())))
	case appID == ApplicationID:
		return false, nil
	case appID != 0 || tables > 0 || version != 0:
		return false, foreignError(name)
	case mustExist:
		return false, notExist(name)
	}
	return true, nil
}

func hasContent(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0
}

func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// migrations returns the embedded migrations in order.
func migrations() []string { return engine.Migrations(migrationFiles, "migrations") }

// SchemaVersion is the schema version this build of apikey writes.
func SchemaVersion() int { return len(migrations()) }

// migrate applies pending migrations inside one immediate transaction,
// re-reading the version inside it so that concurrent processes opening a new
// database migrate it exactly once.
func (e *Engine) migrate(ctx context.Context, fresh bool) error {
	all := migrations()
	if !fresh {
		// Nearly every open finds the schema current. Checking that with a
		// plain read first spares every command a write transaction, and
		// so the wait for a concurrent writer.
		var version int64
		if err := e.db.QueryRowContext(ctx, `SELECT user_version FROM pragma_user_version`).Scan(&version); err != nil {
			return translate(e.path, err)
		}
		if version == int64(len(all)) {
			return nil
		}
	}
	return e.write(ctx, func(tx *sql.Tx) error {
		var appID, version, tables int64
		err := tx.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)`).Scan(&appID, &version, &tables)
		if err != nil {
			return err
		}
		if appID != ApplicationID && (appID != 0 || tables > 0 || version != 0) {
			return foreignError(e.path)
		}
		if version > int64(len(all)) {
			return newerError(e.path, version, int64(len(all)))
		}
		for i := version; i < int64(len(all)); i++ {
			if _, err := tx.ExecContext(ctx, all[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		// PRAGMA arguments cannot be bound; both values are integers of ours.
		_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, len(all)))
		return err
	})
}

// Write runs fn in one immediate transaction: SQLite's single writer lock
// is taken at BEGIN, so no other writer overlaps it.
func (e *Engine) Write(ctx context.Context, fn func(engine.Tx) error) error {
	return e.write(ctx, func(t *sql.Tx) error {
		tx := newTx(t)
		return fn(tx)
	})
}

func (e *Engine) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(e.path, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return translate(e.path, err)
	}
	if err := tx.Commit(); err != nil {
		return translate(e.path, err)
	}
	return nil
}

// Read runs fn in a read-only transaction: one snapshot of the store and,
// unlike Write, no write lock, so that a reader neither waits for a writer
// nor keeps one waiting.
func (e *Engine) Read(ctx context.Context, fn func(engine.Tx) error) error {
	return translate(e.path, e.read(ctx, func(t *sql.Tx) error { return fn(newTx(t)) }))
}

// read is Read without the translation of errors.
func (e *Engine) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := e.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// translate turns a driver error into a one-line error without driver jargon.
// Errors that are already the domain's pass through.
func translate(path string, err error) error {
	if err == nil {
		return nil
	}
	if settled, ok := engine.Settled(err); ok {
		return settled
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			busy := apikey.Runtimef("database %s is busy", path).WithHint("another process held it too long; try again")
			busy.Err = err // for isCode
			return busy
		case sqlite3.SQLITE_READONLY:
			return apikey.Runtimef("database %s is read-only", path)
		case sqlite3.SQLITE_CANTOPEN:
			return apikey.Runtimef("cannot open database %s", path).WithHint("check that its directory exists and is writable")
		case sqlite3.SQLITE_NOTADB:
			return apikey.Usagef("%s is not an apikey database", path)
		case sqlite3.SQLITE_CORRUPT:
			corrupt := apikey.Runtimef("database %s is corrupt", path)
			corrupt.Err = err // for isCode
			return corrupt
		case sqlite3.SQLITE_FULL:
			return apikey.Runtimef("cannot write database %s: disk full", path)
		case sqlite3.SQLITE_IOERR:
			return apikey.Runtimef("cannot read or write database %s: I/O error", path)
		case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return apikey.Runtimef("permission denied on database %s", path)
		case sqlite3.SQLITE_CONSTRAINT:
			return apikey.Conflictf("conflicting change")
		}
		return apikey.Runtimef("database %s: %s", path, firstLine(sqlite.ErrorCodeString[se.Code()]))
	}
	return &apikey.Error{Kind: apikey.KindRuntime, Msg: "database " + path + ": " + firstLine(err.Error()), Err: err}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// IntegrityCheck runs SQLite's integrity check and returns its findings, nil
// when the database is sound.
func (e *Engine) IntegrityCheck(ctx context.Context) error {
	rows, err := e.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return translate(e.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return translate(e.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return translate(e.path, err)
	}
	if len(problems) > 0 {
		return apikey.Runtimef("database %s is damaged: %s", e.path, strings.Join(problems, "; "))
	}
	return nil
}
