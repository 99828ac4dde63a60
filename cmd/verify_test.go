package cmd_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
)

// keyWorld is a store in a temporary directory and the environment that
// points apikey at it, for tests that run the CLI in-process.
type keyWorld struct {
	t   *testing.T
	dir string
	env map[string]string
}

func newKeyWorld(t *testing.T) *keyWorld {
	t.Helper()
	dir := t.TempDir()
	return &keyWorld{t: t, dir: dir, env: map[string]string{
		"HOME":            dir,
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"XDG_DATA_HOME":   filepath.Join(dir, "data"),
		"APIKEY_DB":       filepath.Join(dir, "apikey.db"),
		"APIKEY_ACTOR":    "test",
		"NO_COLOR":        "1",
	}}
}

func (w *keyWorld) lookup(extra map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := extra[k]; ok {
			return v, true
		}
		v, ok := w.env[k]
		return v, ok
	}
}

// run runs apikey in-process with stdin and extra environment.
func (w *keyWorld) run(stdin string, extra map[string]string, args ...string) (code int, stdout, stderr string) {
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	code = cmd.Run(args, ios, w.lookup(extra))
	return code, out.String(), errOut.String()
}

// issued is what create and rotate print with -o json.
type issued struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Company struct {
		ID   string  `json:"id"`
		Name string  `json:"name"`
		Ref  *string `json:"ref"`
	} `json:"company"`
}

func (w *keyWorld) mustIssue(args ...string) issued {
	w.t.Helper()
	code, out, errOut := w.run("", nil, append(args, "-o", "json")...)
	if code != 0 {
		w.t.Fatalf("apikey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	var k issued
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		w.t.Fatalf("apikey %s printed %q: %v", strings.Join(args, " "), out, err)
	}
	return k
}

func (w *keyWorld) mustRun(args ...string) string {
	w.t.Helper()
	code, out, errOut := w.run("", nil, args...)
	if code != 0 {
		w.t.Fatalf("apikey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// expire moves a key's expiry into the past, which the CLI refuses to do.
func (w *keyWorld) expire(id string) {
	w.t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, w.env["APIKEY_DB"])
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	past := time.Now().Add(-time.Hour)
	if _, err := st.UpdateKey(ctx, id, "", store.KeyUpdate{ExpiresAt: &past}, "test"); err != nil {
		w.t.Fatal(err)
	}
}

func tamperSecret(s string) string {
	if s[len(s)-1] == 'A' {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

func TestVerify(t *testing.T) {
	w := newKeyWorld(t)
	w.mustRun("company", "create", "Globex", "--ref", "555-01")
	good := w.mustIssue("create", "--company", "Acme", "--create-company", "--name", "billing")
	w.mustRun("company", "update", good.Company.ID, "--ref", "273-542-26244")
	off := w.mustIssue("create", "--company", "Acme", "--name", "off", "--inactive")
	expiring := w.mustIssue("create", "--company", "Acme", "--name", "expiring", "--expires", "1h")
	w.expire(expiring.ID)
	theirs := w.mustIssue("create", "--company", "Globex", "--name", "theirs")
	rotated := w.mustIssue("create", "--company", "Acme", "--name", "rotated")
	w.mustIssue("rotate", rotated.ID)

	for _, tc := range []struct {
		name   string
		stdin  string
		env    map[string]string
		args   []string
		code   int
		reason string
	}{
		{"valid from stdin", good.Key + "\n", nil, nil, 0, ""},
		{"valid from APIKEY_KEY", "", map[string]string{"APIKEY_KEY": good.Key}, nil, 0, ""},
		{"company by id", good.Key, nil, []string{"--company", good.Company.ID}, 0, ""},
		{"company by name", good.Key, nil, []string{"--company", "acme"}, 0, ""},
		{"company by ref", good.Key, nil, []string{"--company", "273-542-26244"}, 0, ""},
		{"missing", "", nil, nil, 4, "missing_key"},
		{"blank line", "\n", nil, nil, 4, "missing_key"},
		{"malformed", "hello\n", nil, nil, 4, "malformed"},
		{"bad checksum", tamperSecret(good.Key), nil, nil, 4, "malformed"},
		{"inactive", off.Key, nil, nil, 4, "inactive"},
		{"expired", expiring.Key, nil, nil, 4, "expired"},
		{"rotated away", rotated.Key, nil, nil, 4, "invalid"},
		{"other company's key", theirs.Key, nil, []string{"--company", good.Company.ID}, 4, "invalid"},
		{"other company's inactive key", off.Key, nil, []string{"--company", "Globex"}, 4, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := w.run(tc.stdin, tc.env, append([]string{"verify", "-o", "json"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errOut)
			}
			var v struct {
				Valid  bool   `json:"valid"`
				Reason string `json:"reason"`
				Key    *struct {
					ID string `json:"id"`
				} `json:"key"`
			}
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("stdout %q: %v", out, err)
			}
			if v.Valid != (tc.code == 0) || v.Reason != tc.reason {
				t.Errorf("got %s", out)
			}
			if tc.code == 0 && (v.Key == nil || v.Key.ID != good.ID) {
				t.Errorf("valid answer without the key: %s", out)
			}
			if tc.code != 0 && errOut != "apikey: key is not valid: "+tc.reason+"\n" {
				t.Errorf("stderr %q", errOut)
			}
			if strings.Contains(out+errOut, tc.stdin) && tc.stdin != "" && tc.stdin != "\n" && tc.code != 0 {
				t.Errorf("a refused secret was printed: %s %s", out, errOut)
			}
		})
	}

	// Another company's key and a deleted one read the same.
	other := w.mustIssue("create", "--company", "Acme", "--name", "deleted")
	w.mustRun("delete", other.ID, "--yes")
	c1, o1, e1 := w.run(theirs.Key, nil, "verify", "--company", good.Company.ID)
	c2, o2, e2 := w.run(other.Key, nil, "verify", "--company", good.Company.ID)
	if c1 != c2 || o1 != o2 || e1 != e2 {
		t.Errorf("other company's key: %d %q %q; deleted key: %d %q %q", c1, o1, e1, c2, o2, e2)
	}

	// The table form names the key and its company.
	code, out, _ := w.run(good.Key, nil, "verify")
	if code != 0 || !strings.Contains(out, `"billing"`) || !strings.Contains(out, good.Company.ID) || !strings.Contains(out, "Acme (273-542-26244)") {
		t.Errorf("table answer: %d %q", code, out)
	}
	if code, _, errOut := w.run(good.Key, nil, "verify", "extra"); code != 2 || !strings.HasPrefix(errOut, "apikey: ") {
		t.Errorf("verify with an argument: %d %q", code, errOut)
	}

	// Verifying never writes: no last use is recorded.
	show := w.mustRun("show", good.ID, "-o", "json")
	if !strings.Contains(show, `"last_used_at": null`) {
		t.Errorf("verify wrote a last use:\n%s", show)
	}
}
