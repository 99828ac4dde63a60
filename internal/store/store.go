// Package store keeps companies, keys and events in SQLite. It is the only
// package that speaks SQL. Every method is one transaction: a command that
// fails leaves the store as it was.
package store

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
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

// Store is an open apikey database.
type Store struct {
	db        *sql.DB
	path      string
	now       func() time.Time
	cacheSize int64 // bytes of page cache per connection; 0: SQLite's default
}

// Option changes how a store is opened.
type Option func(*Store)

// WithClock sets the clock used for timestamps (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithCacheSize sets the page cache of each connection, in bytes. A bulk
// writer that touches every index of a large store wants a cache that holds
// them; SQLite's default of 2 MB makes it spill and re-read pages mid
// transaction. Commands keep the default, so that memory stays small.
func WithCacheSize(bytes int64) Option { return func(s *Store) { s.cacheSize = bytes } }

// Open opens the database at path, creating it (0600, in a 0700 directory)
// when it does not exist, and applies pending migrations. A file that is not
// an apikey database is refused and left untouched.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if strings.TrimSpace(path) == "" {
		return nil, apikey.Usagef("no database path given")
	}
	if err := prepareFile(path); err != nil {
		return nil, err
	}
	s := &Store{path: path, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	q := dsn(path, true)
	if s.cacheSize > 0 {
		q += fmt.Sprintf("&_pragma=cache_size(-%d)", (s.cacheSize+1023)/1024)
	}
	db, err := sql.Open(driverName, q)
	if err != nil {
		return nil, apikey.Runtimef("cannot open database %s: %v", path, err)
	}
	// One writer at a time is all SQLite allows; a few connections let reads
	// proceed beside it. A small pool is faster than a large one with this
	// driver.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	s.db = db
	if err := s.migrate(ctx); err != nil {
		s.dropWAL()
		db.Close()
		return nil, err
	}
	return s, nil
}

// driverName is modernc's SQLite driver with the connection hook below, on
// a name of its own so that the hook stays on apikey's connections.
const driverName = "apikey-sqlite"

func init() {
	d := &sqlite.Driver{}
	d.RegisterConnectionHook(persistWAL)
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

// dropWAL turns persistWAL off on the connection Open used, so that a
// database Open refuses (made by a newer apikey, say) is left without the
// -wal and -shm files it did not have. Another process that has them open
// keeps them: SQLite deletes them only when the last connection closes.
func (s *Store) dropWAL() {
	c, err := s.db.Conn(context.Background())
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
	q := "_pragma=busy_timeout(15000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if wal {
		q = "_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(67108864)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q}
	if !filepath.IsAbs(path) {
		// "./" keeps a file named ":memory:" a file, not an in-memory
		// database that would lose every write.
		u = url.URL{Scheme: "file", Opaque: (&url.URL{Path: "./" + path}).EscapedPath(), RawQuery: q}
	}
	return u.String()
}

// prepareFile creates the database file with safe modes when it is missing,
// and refuses a path that is not a regular file, not SQLite, or a SQLite
// database of another application, without writing to it.
func prepareFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return apikey.Runtimef("cannot create database directory %s: %v", dir, pathError(err))
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return prepareFile(path) // another process created it first
		}
		if err != nil {
			return apikey.Runtimef("cannot create database %s: %v", path, pathError(err))
		}
		return f.Close()
	case err != nil:
		return apikey.Runtimef("cannot open database %s: %v", path, pathError(err))
	case fi.IsDir():
		return apikey.Usagef("database %s is a directory", path)
	case !fi.Mode().IsRegular():
		return apikey.Usagef("database %s is not a regular file", path)
	case fi.Size() == 0:
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return apikey.Runtimef("cannot open database %s: %v", path, pathError(err))
	}
	defer f.Close()
	header := make([]byte, 100)
	if _, err := io.ReadFull(f, header); err != nil || !bytes.Equal(header[:16], sqliteMagic) {
		return apikey.Usagef("%s is not an apikey database", path).WithHint("it is not a SQLite file; nothing was changed")
	}
	appID := binary.BigEndian.Uint32(header[68:72])
	switch appID {
	case ApplicationID:
		return nil
	case 0:
		// A database created a moment ago may have its application_id still
		// in the write-ahead log, or this may be another program's database
		// that never set one: ask SQLite, through a read-only connection that
		// cannot change the file.
		return checkForeign(path)
	default:
		return foreignError(path)
	}
}

func foreignError(path string) error {
	return apikey.Usagef("%s is not an apikey database", path).WithHint("it belongs to another application; nothing was changed")
}

func checkForeign(path string) error {
	db, err := sql.Open("sqlite", dsn(path, false)+"&mode=ro")
	if err != nil {
		return apikey.Runtimef("cannot open database %s: %v", path, err)
	}
	defer db.Close()
	var appID, tables int64
	if err := db.QueryRow(`SELECT (SELECT application_id FROM pragma_application_id), (SELECT count(*) FROM sqlite_master)`).Scan(&appID, &tables); err != nil {
		return translate(path, err)
	}
	if appID != ApplicationID && (appID != 0 || tables > 0) {
		return foreignError(path)
	}
	return nil
}

func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// migrations returns the embedded migrations in order; migration i+1 brings
// the schema from user_version i to i+1.
func migrations() []string {
	entries, _ := fs.ReadDir(migrationFiles, "migrations")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		b, _ := migrationFiles.ReadFile("migrations/" + n)
		out[i] = string(b)
	}
	return out
}

// SchemaVersion is the schema version this build of apikey writes.
func SchemaVersion() int { return len(migrations()) }

// migrate applies pending migrations inside one immediate transaction,
// re-reading the version inside it so that concurrent processes opening a new
// database migrate it exactly once.
func (s *Store) migrate(ctx context.Context) error {
	all := migrations()
	// Nearly every open finds the schema current. Checking that with a plain
	// read first spares every command a write transaction, and so the wait
	// for a concurrent writer; whatever else it finds is decided again
	// inside the transaction below, where it cannot change.
	var appID, version int64
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)`).Scan(&appID, &version)
	if err != nil {
		return translate(s.path, err)
	}
	if appID == ApplicationID && version == int64(len(all)) {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var appID, version, tables int64
		err := tx.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)`).Scan(&appID, &version, &tables)
		if err != nil {
			return err
		}
		if appID != ApplicationID && (appID != 0 || tables > 0) {
			return foreignError(s.path)
		}
		if version > int64(len(all)) {
			return apikey.Usagef("database %s was made by a newer apikey (schema %d, this apikey knows %d)", s.path, version, len(all)).WithHint("upgrade apikey")
		}
		if version == int64(len(all)) {
			return nil
		}
		for i := version; i < int64(len(all)); i++ {
			if _, err := tx.ExecContext(ctx, all[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		// PRAGMA arguments cannot be bound; both values are integers of ours.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, len(all))); err != nil {
			return err
		}
		return nil
	})
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// tx runs fn in one immediate transaction and translates driver errors into
// errors a user can read.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(s.path, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return translate(s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return translate(s.path, err)
	}
	return nil
}

// readTx runs fn in a read-only transaction: one snapshot of the store
// and, unlike tx, no write lock, so that a reader neither waits for a writer
// nor keeps one waiting. Errors are the driver's; the caller translates.
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
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
	var de *apikey.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apikey.Runtimef("interrupted")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return apikey.Runtimef("database %s is busy", path).WithHint("another process held it too long; try again")
		case sqlite3.SQLITE_READONLY:
			return apikey.Runtimef("database %s is read-only", path)
		case sqlite3.SQLITE_CANTOPEN:
			return apikey.Runtimef("cannot open database %s", path).WithHint("check that its directory exists and is writable")
		case sqlite3.SQLITE_NOTADB:
			return apikey.Usagef("%s is not an apikey database", path)
		case sqlite3.SQLITE_CORRUPT:
			return apikey.Runtimef("database %s is corrupt", path)
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

// Timestamps are stored as fixed-width UTC text, so that they sort as strings
// and read the same in any SQL engine.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func fmtTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// parseTime reads a timestamp of timeLayout. Reading a key reads two to four
// of them, so the layout that fmtTime writes is read by hand; anything else,
// and days past the 28th whose range depends on the month, goes through
// time.Parse.
func parseTime(s string) time.Time {
	if len(s) == len(timeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[26] == 'Z' {
		year, ok1 := digits(s[0:4])
		month, ok2 := digits(s[5:7])
		day, ok3 := digits(s[8:10])
		hour, ok4 := digits(s[11:13])
		minute, ok5 := digits(s[14:16])
		sec, ok6 := digits(s[17:19])
		micro, ok7 := digits(s[20:26])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour < 24 && minute < 60 && sec < 60 {
			return time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
		}
	}
	t, _ := time.Parse(timeLayout, s)
	return t
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func parseTimePtr(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// IntegrityCheck runs SQLite's integrity check and returns its findings, nil
// when the database is sound.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return translate(s.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return translate(s.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return translate(s.path, err)
	}
	if len(problems) > 0 {
		return apikey.Runtimef("database %s is damaged: %s", s.path, strings.Join(problems, "; "))
	}
	return nil
}
