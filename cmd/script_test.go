package cmd_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/testproc"
	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"
)

// TestMain lets the test binary be apikey itself: testscript puts a copy of
// it named apikey on PATH, for the scripts and for the tests that start real
// processes (process_test.go).
func TestMain(m *testing.M) {
	// Every command a script runs is a process of this binary; testscript
	// passes GORACE on to them.
	testproc.NoRaceExitSleep()
	testscript.Main(stopPostgres{m}, map[string]func(){
		"apikey": func() { os.Exit(cmd.Main()) },
	})
}

// stopPostgres runs the tests, then stops a throwaway PostgreSQL that they
// started (testscript.Main exits when the tests end).
type stopPostgres struct{ m *testing.M }

func (s stopPostgres) Run() int {
	defer pgtest.Stop()
	return s.m.Run()
}

// TestScripts runs the end-to-end scripts in testdata/script, each a user's
// session with the real command, once on each engine: on SQLite (the
// default store in the script's home) and on PostgreSQL (APIKEY_DB names a
// schema of the script's own). Scripts say [sqlite] or [postgres] where
// only one applies. UPDATE_SCRIPTS=1 rewrites the files that `cmp` compares
// against.
func TestScripts(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runScripts(t, "sqlite") })
	t.Run("postgres", func(t *testing.T) {
		pgtest.New(t) // skips, with how to enable it, when there is none
		runScripts(t, "postgres")
	})
}

func runScripts(t *testing.T, engine string) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(work, "data"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "config"))
			env.Setenv("APIKEY_ACTOR", "tester")
			env.Setenv("NO_COLOR", "1")
			env.Setenv("DB", filepath.Join(work, "data", "apikey", "apikey.db"))
			if engine == "postgres" {
				url, drop, err := pgtest.Schema(context.Background())
				if err != nil {
					return err
				}
				env.Defer(drop)
				env.Setenv("APIKEY_DB", url)
				env.Setenv("DB", url)
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "sqlite", "postgres":
				return cond == engine, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"json":     cmdJSON,
			"csv":      cmdCSV,
			"csvsafe":  cmdCSVSafe,
			"jsonenv":  cmdJSONEnv,
			"jsonfile": cmdJSONFile,
			"errline":  cmdErrLine,
			"exits":    cmdExits,
			"envq":     cmdEnvQ,
			"prefix":   cmdPrefix,
			"filemode": cmdFileMode,
			"sqlquery": cmdSQLQuery,
			"dbquery":  cmdDBQuery,
			"freeaddr": cmdFreeAddr,
			"http":     cmdHTTP,
		},
	})
}

// jsonAt parses the last stdout as one JSON document and returns the value at
// path: dot-separated object keys and array indexes ("" is the document).
func jsonAt(ts *testscript.TestScript, path string) (any, bool) {
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile("stdout")))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	if dec.More() {
		ts.Fatalf("stdout holds more than one JSON document")
	}
	if path == "" || path == "." {
		return doc, true
	}
	cur := doc
	for _, el := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[el]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(el)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// jsonText is how a JSON value is compared: a string as itself, anything else
// as compact JSON (null, 3, true, ["a"], {}).
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// json [-len|-re] PATH VALUE checks the value at PATH in the JSON document on
// stdout: equal to VALUE, of length VALUE (-len), or matching the regular
// expression VALUE (-re). With !, the value must differ or be missing.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	mode := ""
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: json [-len|-re] PATH VALUE")
	}
	path, want := args[0], args[1]
	v, found := jsonAt(ts, path)
	var got string
	var ok bool
	switch mode {
	case "":
		got = jsonText(v)
		ok = found && got == want
	case "-len":
		n := -1
		switch x := v.(type) {
		case []any:
			n = len(x)
		case map[string]any:
			n = len(x)
		}
		got = strconv.Itoa(n)
		ok = found && got == want
	case "-re":
		got = jsonText(v)
		ok = found && regexp.MustCompile(want).MatchString(got)
	default:
		ts.Fatalf("json: unknown flag %s", mode)
	}
	switch {
	case !found && !neg:
		ts.Fatalf("json: no value at %q", path)
	case !ok && !neg:
		ts.Fatalf("json %s %s: got %q, want %q", mode, path, got, want)
	case ok && neg:
		ts.Fatalf("json %s %s: unexpectedly %q", mode, path, got)
	}
}

// csvRows parses the last stdout as CSV: a header row, then records.
func csvRows(ts *testscript.TestScript) [][]string {
	rows, err := csv.NewReader(strings.NewReader(ts.ReadFile("stdout"))).ReadAll()
	if err != nil {
		ts.Fatalf("stdout is not CSV: %v", err)
	}
	if len(rows) == 0 {
		ts.Fatalf("stdout has no CSV header row")
	}
	return rows
}

// csv ROW COLUMN VALUE checks the cell of the CSV on stdout in record ROW
// (1 is the first after the header) under the header COLUMN. With !, the
// cell must differ.
func cmdCSV(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: csv ROW COLUMN VALUE")
	}
	rows := csvRows(ts)
	row, err := strconv.Atoi(args[0])
	ts.Check(err)
	if row < 1 || row >= len(rows) {
		ts.Fatalf("csv: no record %d (%d records)", row, len(rows)-1)
	}
	col := slices.Index(rows[0], args[1])
	if col < 0 {
		ts.Fatalf("csv: no column %q in %q", args[1], rows[0])
	}
	if got := rows[row][col]; (got == args[2]) == neg {
		ts.Fatalf("csv %s %s: got %q, want %s%q", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// csvsafe checks that no cell of the CSV on stdout starts with a character
// that makes a spreadsheet read it as a formula (OWASP, "CSV Injection").
func cmdCSVSafe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: csvsafe")
	}
	for i, r := range csvRows(ts) {
		for j, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				ts.Fatalf("csvsafe: row %d, cell %d is read as a formula: %q", i, j+1, cell)
			}
		}
	}
}

// jsonenv NAME PATH sets the environment variable NAME to the value at PATH.
func cmdJSONEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonenv NAME PATH")
	}
	v, ok := jsonAt(ts, args[1])
	if !ok {
		ts.Fatalf("jsonenv: no value at %q", args[1])
	}
	ts.Setenv(args[0], jsonText(v))
}

// jsonfile FILE PATH writes the value at PATH and a newline to FILE, for
// `stdin FILE`.
func cmdJSONFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonfile FILE PATH")
	}
	v, ok := jsonAt(ts, args[1])
	if !ok {
		ts.Fatalf("jsonfile: no value at %q", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(jsonText(v)+"\n"), 0o600))
}

// exits CODE PROGRAM [ARGS...] runs PROGRAM like exec and checks that it
// exits with CODE: the exit codes are part of the contract.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// jargon is what a user must never read in an error: driver and runtime
// words, Go parse errors. ("not a SQLite file" is plain English and allowed.)
var jargon = regexp.MustCompile(`\bsql:|sqlite|SQLITE_|SQLSTATE|pgconn|pgx|failed to connect to|(?i:panic|goroutine|runtime error|nil pointer)|strconv\.|\.go:\d`)

// errline [REGEXP] checks that the last command's standard error is one line,
// `apikey: ...`, without driver or Go jargon (warnings aside), matching
// REGEXP when given.
func cmdErrLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: errline [REGEXP]")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(ts.ReadFile("stderr"), "\n"), "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "apikey: ") {
		ts.Fatalf("stderr is not one line starting with 'apikey: ': %q", ts.ReadFile("stderr"))
	}
	if m := jargon.FindString(lines[0]); m != "" {
		ts.Fatalf("error shows jargon %q: %s", m, lines[0])
	}
	if len(args) == 1 && !regexp.MustCompile(args[0]).MatchString(lines[0]) {
		ts.Fatalf("error %q does not match %q", lines[0], args[0])
	}
}

// envq NAME QUOTED sets NAME to a Go-quoted string ("a\tb", "\xff"), so that
// scripts can pass control characters and invalid UTF-8 as arguments.
func cmdEnvQ(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envq NAME QUOTED")
	}
	s, err := strconv.Unquote(args[1])
	ts.Check(err)
	ts.Setenv(args[0], s)
}

// prefix NAME N VALUE sets NAME to the first N bytes of VALUE: id prefixes.
func cmdPrefix(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: prefix NAME N VALUE")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n > len(args[2]) {
		ts.Fatalf("prefix: %q is shorter than %d", args[2], n)
	}
	ts.Setenv(args[0], args[2][:n])
}

// filemode PATH MODE checks a file's permission bits (octal).
func cmdFileMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode PATH MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o, want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// sqlquery DB SQL runs SQL on a SQLite file directly (no apikey code) and
// prints the rows, tab-separated, for stdout checks. It makes foreign
// databases and reaches into apikey's own.
func cmdSQLQuery(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sqlquery DB SQL")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query(args[1])
	ts.Check(err)
	defer rows.Close()
	cols, err := rows.Columns()
	ts.Check(err)
	var out bytes.Buffer
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ts.Check(rows.Scan(ptrs...))
		cells := make([]string, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				cells[i] = "NULL"
			case []byte:
				cells[i] = hex.EncodeToString(x)
			default:
				cells[i] = fmt.Sprint(x)
			}
		}
		out.WriteString(strings.Join(cells, "\t") + "\n")
	}
	ts.Check(rows.Err())
	fmt.Fprint(ts.Stdout(), out.String())
}

// dbquery SQL changes the script's own store behind apikey's back, on
// whichever engine it is ($DB: a SQLite file or a PostgreSQL URL), to give
// rows awkward ids or times. On PostgreSQL the statements run with foreign
// keys and triggers off for the transaction, as SQLite's plain connection
// runs them, so that ids can be changed one table at a time.
func cmdDBQuery(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dbquery SQL")
	}
	db := ts.Getenv("DB")
	if !store.IsPostgres(db) {
		cmdSQLQuery(ts, false, []string{db, args[0]})
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	ts.Check(err)
	defer conn.Close(ctx)
	ts.Check(pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, args[0])
		return err
	}))
}
