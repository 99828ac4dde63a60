package reliability

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
)

// inProcess runs apikey in this process with the given environment (on top
// of a clean one) and standard input.
func inProcess(env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	ios, in, out, errb := iostreams.Test()
	in.WriteString(stdin)
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	code = cmd.Run(args, ios, lookup)
	return code, out.String(), errb.String()
}

// snapshot is everything a user can see of a store, to prove that a failed
// command changed nothing.
func snapshot(t *testing.T, db string) string {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	cs, err := st.ListCompanies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []apikey.Key
	if err := st.EachKey(ctx, store.KeyFilter{Now: time.Now()}, func(k apikey.Key) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	es, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{cs, keys, es})
	return string(b)
}

// TestHostileInput tries input meant to break apikey against every command.
// Each must fail with one line on stderr, the right exit code, and leave the
// store exactly as it was.
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "hostile.db")
	env := map[string]string{"APIKEY_DB": db, "APIKEY_ACTOR": "tester", "HOME": dir, "XDG_CONFIG_HOME": dir}
	mustRun := func(args ...string) string {
		code, out, errs := inProcess(env, "", args...)
		if code != 0 {
			t.Fatalf("apikey %v: exit %d: %s", args, code, errs)
		}
		return out
	}
	mustRun("company", "create", "Acme", "--ref", "B-1")
	var k struct{ ID, Key string }
	json.Unmarshal([]byte(mustRun("create", "--company", "Acme", "--name", "main", "-o", "json")), &k)
	if k.ID == "" {
		t.Fatal("no key created")
	}
	mustRun("company", "create", "Empty")

	long := strings.Repeat("x", 201)
	notDir := filepath.Join(dir, "a-directory")
	os.Mkdir(notDir, 0o700)
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("db: [unclosed\n  key_prefix: : :\n"), 0o600)

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"empty company name", nil, []string{"company", "create", ""}, 2},
		{"blank company name", nil, []string{"company", "create", "   "}, 2},
		{"over-long company name", nil, []string{"company", "create", long}, 2},
		{"newline in company name", nil, []string{"company", "create", "Acme\nX-Evil: 1"}, 2},
		{"CRLF header injection in key name", nil, []string{"create", "--company", "Acme", "--name", "k\r\nX-Company: other"}, 2},
		{"tab in key name", nil, []string{"create", "--company", "Acme", "--name", "a\tb"}, 2},
		{"escape sequence in key name", nil, []string{"create", "--company", "Acme", "--name", "\x1b[31mred"}, 2},
		{"invalid UTF-8 in key name", nil, []string{"create", "--company", "Acme", "--name", "bad\xff\xfe"}, 2},
		{"zero-width and bidi controls", nil, []string{"create", "--company", "Acme", "--name", "abc\u202edef"}, 2},
		{"leading space", nil, []string{"company", "create", " Acme2"}, 2},
		{"duplicate company in other case", nil, []string{"company", "create", "ACME"}, 5},
		{"duplicate ref", nil, []string{"company", "create", "Other", "--ref", "B-1"}, 5},
		{"duplicate key name", nil, []string{"create", "--company", "Acme", "--name", "main"}, 5},
		{"company still owns keys", nil, []string{"company", "delete", "Acme", "--yes"}, 5},
		{"unknown company", nil, []string{"create", "--company", "'; DROP TABLE keys; --", "--name", "x"}, 3},
		{"unknown key", nil, []string{"disable", "ffffffff"}, 3},
		{"unknown among known", nil, []string{"disable", k.ID, "ffffffff"}, 3},
		{"SQL in key reference", nil, []string{"show", "' OR 1=1 --"}, 3},
		{"LIKE wildcard as key reference", nil, []string{"delete", "%%%%", "--yes"}, 3},
		{"key prefix too short", nil, []string{"show", "ab"}, 2},
		{"negative duration", nil, []string{"create", "--company", "Acme", "--name", "n", "--expires", "-5d"}, 2},
		{"overflowing duration", nil, []string{"create", "--company", "Acme", "--name", "n", "--expires", "999999999y"}, 2},
		{"overflowing Go duration", nil, []string{"rotate", k.ID, "--grace", "9999999999999h"}, 2},
		{"past date", nil, []string{"update", k.ID, "--expires", "2001-01-01"}, 2},
		{"bad date", nil, []string{"update", k.ID, "--expires", "2027-02-30"}, 2},
		{"negative limit", nil, []string{"list", "--limit", "-1"}, 2},
		{"overflowing limit", nil, []string{"list", "--limit", "99999999999999999999999"}, 2},
		{"negative history limit", nil, []string{"history", "--limit", "-5"}, 2},
		{"unknown status", nil, []string{"list", "--status", "deleted"}, 2},
		{"unknown output", nil, []string{"list", "-o", "yaml"}, 2},
		{"unknown snippet format", nil, []string{"show", k.ID, "--format", "xml"}, 2},
		{"unknown flag", nil, []string{"list", "--bogus"}, 2},
		{"unknown command", nil, []string{"frobnicate"}, 2},
		{"metadata without =", nil, []string{"update", k.ID, "--meta", "novalue"}, 2},
		{"metadata with control character", nil, []string{"update", k.ID, "--meta", "a=b\nc"}, 2},
		{"scope with space", nil, []string{"update", k.ID, "--scope", "read write"}, 2},
		{"nothing to update", nil, []string{"update", k.ID}, 2},
		{"delete without --yes and no terminal", nil, []string{"delete", k.ID}, 2},
		{"company delete without --yes", nil, []string{"company", "delete", "Empty"}, 2},
		{"batch delete without --all", nil, []string{"delete", "--company", "Acme", "--yes"}, 2},
		{"invalid key prefix in config", map[string]string{"APIKEY_KEY_PREFIX": "AK-1"}, []string{"create", "--company", "Acme", "--name", "p"}, 2},
		{"invalid header name in config", map[string]string{"APIKEY_HEADERS_KEY": "X Api\r\nKey"}, []string{"create", "--company", "Acme", "--name", "h"}, 2},
		{"same header twice in config", map[string]string{"APIKEY_HEADERS_COMPANY": "x-api-key"}, []string{"show", k.ID}, 2},
		{"config file that does not parse", map[string]string{"APIKEY_CONFIG": badYAML}, []string{"create", "--company", "Acme", "--name", "c"}, 2},
		{"missing config file", map[string]string{"APIKEY_CONFIG": filepath.Join(dir, "nope.yaml")}, []string{"list"}, 2},
		{"malformed master key", map[string]string{"APIKEY_MASTER_KEY": "c2hvcnQ="}, []string{"create", "--company", "Acme", "--name", "m"}, 2},
		{"reveal without master key", nil, []string{"show", k.ID, "--reveal"}, 2},
		{"database is a directory", map[string]string{"APIKEY_DB": notDir}, []string{"list"}, 2},
		{"database is a special file", map[string]string{"APIKEY_DB": "/dev/null"}, []string{"list"}, 2},
	}
	before := snapshot(t, db)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range c.env {
				e[k] = v
			}
			code, out, errs := inProcess(e, "", c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %q", code, c.code, errs)
			}
			checkOneLineError(t, errs)
			if k.Key != "" && (strings.Contains(out, k.Key) || strings.Contains(errs, k.Key)) {
				t.Errorf("the secret leaked into the output")
			}
			if after := snapshot(t, db); after != before {
				t.Errorf("the store changed")
			}
		})
	}
}

// checkOneLineError checks the form of every error: one line, prefixed,
// without Go or driver jargon.
func checkOneLineError(t *testing.T, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "apikey: ") {
		t.Errorf("error not of the form 'apikey: ...': %q", stderr)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "apikey: ") && l != last {
			t.Errorf("more than one error line: %q", stderr)
		}
	}
	for _, jargon := range []string{"sql:", "sqlite", "SQLITE_", "panic", "goroutine", "runtime error", "no rows"} {
		if strings.Contains(strings.ToLower(last), strings.ToLower(jargon)) {
			t.Errorf("error shows jargon %q: %q", jargon, last)
		}
	}
}

// TestStrangeButLegitimate checks that odd but valid strings are stored and
// printed literally.
func TestStrangeButLegitimate(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"APIKEY_DB": filepath.Join(dir, "s.db"), "APIKEY_ACTOR": "tester", "HOME": dir, "XDG_CONFIG_HOME": dir}
	for _, name := range []string{
		`O'Brien "Quotes" & Sons`,
		`Robert'); DROP TABLE companies;--`,
		`100% _wild_ \ backslash`,
		"Müller & Söhne 株式会社",
		"مرحبا بالعالم",
		"emoji 🔑👩‍💻",
		"<script>alert(1)</script>",
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := inProcess(env, "", "company", "create", name, "-o", "json")
			if code != 0 {
				t.Fatalf("company create %q: exit %d: %s", name, code, errs)
			}
			var c struct{ Name string }
			if err := json.Unmarshal([]byte(out), &c); err != nil || c.Name != name {
				t.Fatalf("stored %q, printed %q (%v)", name, c.Name, err)
			}
			code, out, errs = inProcess(env, "", "create", "--company", name, "--name", name, "-o", "json")
			if code != 0 {
				t.Fatalf("create: exit %d: %s", code, errs)
			}
			var k struct {
				Name    string
				Company struct{ Name string }
			}
			if err := json.Unmarshal([]byte(out), &k); err != nil || k.Name != name || k.Company.Name != name {
				t.Fatalf("key printed as %+v (%v)", k, err)
			}
			code, out, _ = inProcess(env, "", "list", "--search", name, "-o", "json")
			if code != 0 || !strings.Contains(out, jsonString(name)) {
				t.Errorf("list --search %q did not find it: %s", name, out)
			}
			code, out, _ = inProcess(env, "", "company", "show", strings.ToUpper(name))
			if code != 0 || !strings.Contains(out, name) {
				t.Errorf("company show by upper-cased name: exit %d: %s", code, out)
			}
		})
	}
}

func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSpace(b.String())
}
