package cmd_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apikeyhq/apikey/internal/store"
)

// apikeyProc runs the apikey that testscript.Main put on PATH (the test
// binary under another name) as a real process, in an environment of its
// own: nothing of the caller's APIKEY_* leaks in.
type apikeyProc struct {
	t   *testing.T
	dir string
	env []string
}

func newApikey(t *testing.T, extraEnv ...string) *apikeyProc {
	t.Helper()
	if _, err := exec.LookPath("apikey"); err != nil {
		t.Fatalf("apikey is not on PATH (TestMain sets it up): %v", err)
	}
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"APIKEY_ACTOR=tester",
		"NO_COLOR=1",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return &apikeyProc{t: t, dir: dir, env: append(env, extraEnv...)}
}

// db is where the store lives by default.
func (a *apikeyProc) db() string { return filepath.Join(a.dir, "data", "apikey", "apikey.db") }

type result struct {
	stdout, stderr string
	code           int
}

// run runs apikey with args and stdin, and returns what it printed and its
// exit code. It never fails the test itself, so that goroutines may call it.
func (a *apikeyProc) run(stdin string, args ...string) (result, error) {
	c := exec.Command("apikey", args...)
	c.Env = a.env
	c.Dir = a.dir
	c.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code, err = ee.ExitCode(), nil
	}
	return r, err
}

// must runs apikey and fails the test unless it exits 0.
func (a *apikeyProc) must(args ...string) result {
	a.t.Helper()
	r, err := a.run("", args...)
	if err != nil {
		a.t.Fatalf("apikey %s: %v", strings.Join(args, " "), err)
	}
	if r.code != 0 {
		a.t.Fatalf("apikey %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// TestConcurrentCompanyCreate starts 8 processes that create companies in the
// same store, which none of them finds existing: each must succeed, migrate
// or wait its turn, and no write may be lost.
func TestConcurrentCompanyCreate(t *testing.T) {
	a := newApikey(t)
	const n = 8
	var wg sync.WaitGroup
	results := make([]result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = a.run("", "company", "create", fmt.Sprintf("Company %d", i), "-o", "json")
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		if results[i].code != 0 || results[i].stderr != "" {
			t.Errorf("process %d: exit %d, stderr %q", i, results[i].code, results[i].stderr)
		}
	}
	companies := decode[[]struct{ Name string }](t, a.must("company", "list", "-o", "json").stdout)
	names := map[string]bool{}
	for _, c := range companies {
		names[c.Name] = true
	}
	for i := range n {
		if !names[fmt.Sprintf("Company %d", i)] {
			t.Errorf("Company %d is missing; have %v", i, names)
		}
	}
	if len(companies) != n {
		t.Errorf("%d companies, want %d", len(companies), n)
	}
}

// TestConcurrentKeyCreate starts 8 processes, each issuing several keys in
// one store (one of them creating the shared company on the way): none may
// fail with "database is locked", and every key and its event must be there.
func TestConcurrentKeyCreate(t *testing.T) {
	a := newApikey(t)
	const procs, perProc = 8, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	ids := map[string]bool{}
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perProc {
				r, err := a.run("", "create", "--company", "Shared", "--create-company", "--name", fmt.Sprintf("key %d-%d", p, k), "-o", "json")
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case r.code != 0:
					failures = append(failures, fmt.Sprintf("key %d-%d: exit %d: %s", p, k, r.code, r.stderr))
				default:
					var v struct{ ID string }
					if json.Unmarshal([]byte(r.stdout), &v) != nil || v.ID == "" {
						failures = append(failures, "no id in "+r.stdout)
					}
					ids[v.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	keys := decode[[]struct{ ID, Name string }](t, a.must("list", "-o", "json").stdout)
	if len(keys) != procs*perProc {
		t.Fatalf("%d keys listed, want %d", len(keys), procs*perProc)
	}
	for _, k := range keys {
		if !ids[k.ID] {
			t.Errorf("key %s (%s) listed but never reported created", k.ID, k.Name)
		}
	}
	companies := decode[[]struct{ Keys int }](t, a.must("company", "list", "-o", "json").stdout)
	if len(companies) != 1 || companies[0].Keys != procs*perProc {
		t.Errorf("companies %+v, want one with %d keys", companies, procs*perProc)
	}
	events := decode[[]struct{ Action string }](t, a.must("history", "--limit", "0", "-o", "json").stdout)
	if len(events) != procs*perProc+1 {
		t.Errorf("%d events, want %d key.create and one company.create", len(events), procs*perProc)
	}
}

// TestFileModes checks that the database and its WAL and shared-memory files
// are readable by their owner only, and the directory apikey made is 0700.
// The -wal and -shm files are looked at with the store held open, when they
// certainly exist (they are also kept after it closes: see persistWAL).
func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "made", "by", "apikey", "apikey.db")
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateCompany(ctx, "Acme", "", "tester"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	for _, d := range []string{"made", "made/by", "made/by/apikey"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %#o, want 0700", d, fi.Mode().Perm())
		}
	}

	// The same through a real process, whose umask is the usual one.
	a := newApikey(t)
	a.must("company", "create", "Acme")
	for _, p := range []string{a.db(), filepath.Dir(a.db())} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
	}
}

var secretPattern = regexp.MustCompile(`ak_[0-9A-Za-z]{46}`)

// secretParts is what must never be seen of a secret: the secret, its random
// part, and every 12-character piece of that part.
func secretParts(secret string) []string {
	random := secret[strings.LastIndexByte(secret, '_')+1:][:40]
	parts := []string{secret, random}
	for i := 0; i+12 <= len(random); i++ {
		parts = append(parts, random[i:i+12])
	}
	return parts
}

func leaks(data []byte, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		for _, p := range secretParts(s) {
			if bytes.Contains(data, []byte(p)) {
				found = append(found, p)
				break
			}
		}
	}
	return found
}

// TestSecretsAtRest issues, rotates and reveals secrets with and without a
// master key, then reads the raw bytes of the database, its WAL and its
// shared-memory file, and the output and errors of every reading command:
// no secret, nor any piece of its random part, may appear.
func TestSecretsAtRest(t *testing.T) {
	plain := newApikey(t)
	sealed := &apikeyProc{t: t, dir: plain.dir, env: append(append([]string{}, plain.env...), "APIKEY_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")}

	// Hold a connection to the store so that the WAL outlives each process
	// and can be read too. (A pooled connection would be closed when idle,
	// and the last process to close would remove the WAL.)
	plain.must("company", "create", "Acme")
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+plain.db()+"?_pragma=busy_timeout(15000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var companies int
	if err := held.QueryRowContext(ctx, `SELECT count(*) FROM companies`).Scan(&companies); err != nil || companies != 1 {
		t.Fatalf("holding the store: %d companies, %v", companies, err)
	}

	var secrets, ids []string
	issue := func(a *apikeyProc, args ...string) {
		t.Helper()
		r := a.must(append(args, "-o", "json")...)
		v := decode[struct{ ID, Key string }](t, r.stdout)
		if v.Key == "" {
			t.Fatalf("no secret in %s", r.stdout)
		}
		secrets = append(secrets, v.Key)
		if !slices.Contains(ids, v.ID) {
			ids = append(ids, v.ID)
		}
	}
	issue(plain, "create", "-c", "Acme", "-n", "plain", "--scope", "read", "--meta", "env=prod")
	issue(sealed, "create", "-c", "Acme", "-n", "sealed")
	issue(sealed, "create", "-c", "Globex", "--create-company", "-n", "sealed2", "--expires", "90d")
	issue(plain, "rotate", ids[0], "--grace", "1h")
	issue(sealed, "rotate", ids[1], "--grace", "1h")
	issue(sealed, "rotate", ids[2])
	for _, f := range []string{"headers", "curl", "env", "http", "json"} {
		r := plain.must("create", "-c", "Acme", "-n", "fmt "+f, "--format", f)
		s := secretPattern.FindString(r.stdout)
		if s == "" {
			t.Fatalf("no secret in the %s snippet:\n%s", f, r.stdout)
		}
		secrets = append(secrets, s)
	}
	if len(secrets) != 11 {
		t.Fatalf("collected %d secrets, want 11", len(secrets))
	}
	revealed := decode[struct{ Key string }](t, sealed.must("show", ids[1], "--reveal", "-o", "json").stdout)
	if revealed.Key != secrets[4] {
		t.Fatalf("reveal gave %q, want the rotated secret", revealed.Key)
	}
	plain.must("disable", ids[0])

	// What apikey prints when asked to read.
	checkedOutputs := 0
	read := func(a *apikeyProc, stdin string, wantCode int, args ...string) {
		t.Helper()
		r, err := a.run(stdin, args...)
		if err != nil {
			t.Fatal(err)
		}
		if r.code != wantCode {
			t.Errorf("apikey %s: exit %d, want %d: %s", strings.Join(args, " "), r.code, wantCode, r.stderr)
		}
		if found := leaks([]byte(r.stdout+r.stderr), secrets); len(found) > 0 {
			t.Errorf("apikey %s shows a secret (%q):\n%s%s", strings.Join(args, " "), found[0], r.stdout, r.stderr)
		}
		checkedOutputs++
	}
	for _, o := range []string{"table", "json", "csv"} {
		read(sealed, "", 0, "list", "-o", o)
		read(sealed, "", 0, "history", "--limit", "0", "-o", o)
		read(sealed, "", 0, "company", "show", "Acme", "-o", o)
		read(sealed, "", 0, "company", "list", "-o", o)
		for _, id := range ids {
			read(sealed, "", 0, "show", id, "-o", o)
		}
	}
	for _, f := range []string{"headers", "curl", "env", "http", "json"} {
		read(sealed, "", 0, "show", ids[1], "--format", f)
	}
	read(sealed, secrets[4]+"\n", 0, "verify", "-o", "json")
	read(sealed, secrets[3]+"\n", 4, "verify", "-o", "json")
	read(sealed, secrets[0]+"\n", 4, "verify")
	read(sealed, secrets[0][:len(secrets[0])-1]+"x\n", 4, "verify")
	// Secrets given where they do not belong are not echoed by the errors.
	read(sealed, "", 3, "show", secrets[1])
	read(sealed, "", 2, "verify", secrets[1])
	read(sealed, "", 2, secrets[1])
	read(sealed, "", 3, "list", "--company", secrets[1])
	read(sealed, "", 3, "history", secrets[1])
	read(sealed, "", 3, "delete", secrets[1], "--yes")
	read(sealed, "", 2, "update", ids[1], "--meta", secrets[1])

	// The bytes at rest.
	checked := 0
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(plain.db() + suffix)
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		if len(data) == 0 {
			t.Fatalf("apikey.db%s is empty", suffix)
		}
		checked += len(data)
		if found := leaks(data, secrets); len(found) > 0 {
			t.Errorf("apikey.db%s holds secret material %q", suffix, found[0])
		}
	}
	t.Logf("%d secrets checked against %d outputs and %d bytes at rest", len(secrets), checkedOutputs, checked)
}
