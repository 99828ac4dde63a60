package cmd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// These tests run the real binary at a real pseudo-terminal, as an
// administrator would: the forms and confirmations of huh, the colours of
// the tables, and what --no-input and NO_COLOR change. They drive it by
// writing keystrokes and waiting for the prompts to appear; the deadlines
// are generous and only bound a hang, nothing is measured.

// ptyDeadline bounds each wait for a prompt or an exit. A loaded machine
// may be slow; a hang must still end the test.
const ptyDeadline = 60 * time.Second

// Keys as a terminal sends them.
const (
	keyEnter = "\r"
	keyDown  = "\x1b[B"
	keyLeft  = "\x1b[D"
)

func TestTerminal(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no pseudo-terminals here (/dev/ptmx):", err)
	}
	bin := buildApikey(t)

	t.Run("create asks for company, name and status", func(t *testing.T) {
		h := newPtyHome(t, bin)
		h.companies("PLAN PRUEBA II", "Acme")
		s := h.start(nil, "create")
		s.expect(`Company`)
		s.expect(`PLAN PRUEBA II`)
		s.send(keyDown) // the list is sorted by name: Acme, then PLAN PRUEBA II
		s.send(keyEnter)
		s.expect(`Key name`)
		s.send("PRUEBA 1")
		s.send(keyEnter)
		s.expect(`Status`)
		s.send(keyDown) // active, inactive
		s.send(keyEnter)
		s.expect(`Created key "PRUEBA 1"`)
		s.expectExit(0)
		k := h.onlyKey()
		if k.Name != "PRUEBA 1" || k.Company.Name != "PLAN PRUEBA II" || k.Status != "inactive" {
			t.Errorf("created %+v, want PRUEBA 1 of PLAN PRUEBA II, inactive", k)
		}
	})

	t.Run("delete answered no keeps the key", func(t *testing.T) {
		h := newPtyHome(t, bin)
		id := h.key("Acme", "billing sync")
		s := h.start(nil, "delete", id)
		s.expect(`About to delete 1 key`)
		s.expect(`billing sync`)
		s.expect(`Are you sure\?`)
		s.send(keyEnter) // the default is No
		s.expect(`not confirmed`)
		s.expectExit(2)
		h.keyCount(1)
	})

	t.Run("delete answered yes deletes", func(t *testing.T) {
		h := newPtyHome(t, bin)
		id := h.key("Acme", "billing sync")
		s := h.start(nil, "delete", id)
		s.expect(`Are you sure\?`)
		s.send(keyLeft) // from No to Yes
		s.send(keyEnter)
		s.expect(`Deleted 1 key`)
		s.expectExit(0)
		h.keyCount(0)
	})

	t.Run("scan --disable asks, and disables on yes", func(t *testing.T) {
		h := newPtyHome(t, bin)
		var k struct{ ID, Key string }
		if err := json.Unmarshal(h.run("create", "--company", "Acme", "--create-company", "--name", "billing sync", "-o", "json"), &k); err != nil {
			t.Fatal(err)
		}
		leak := filepath.Join(t.TempDir(), "app.env")
		if err := os.WriteFile(leak, []byte("API_KEY="+k.Key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := h.start(nil, "scan", leak, "--disable")
		s.expect(`About to disable 1 key whose secrets were found`)
		s.expect(`billing sync`)
		s.expect(`Are you sure\?`)
		s.send(keyEnter) // the default is No
		s.expect(`not confirmed: nothing was disabled`)
		s.expectExit(2)
		if k := h.onlyKey(); k.Status != "active" {
			t.Errorf("a refusal changed the key: %+v", k)
		}
		s = h.start(nil, "scan", leak, "--disable")
		s.expect(`Are you sure\?`)
		s.send(keyLeft) // from No to Yes
		s.send(keyEnter)
		s.expect(`Disabled 1 key`)
		s.expectExit(6)
		if k := h.onlyKey(); k.Status != "inactive" {
			t.Errorf("not disabled: %+v", k)
		}
		if strings.Contains(s.text(), k.Key) {
			t.Error("the secret was shown")
		}
	})

	t.Run("no-input never prompts", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  []string
			args []string
		}{
			{"flag", nil, []string{"--no-input"}},
			{"env", []string{"APIKEY_NO_INPUT=1"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := newPtyHome(t, bin)
				id := h.key("Acme", "billing sync")
				s := h.start(tc.env, append([]string{"delete", id}, tc.args...)...)
				s.expect(`--yes required when not running interactively`)
				s.expectExit(2)
				if strings.Contains(s.text(), "Are you sure") {
					t.Errorf("asked although told not to:\n%s", s.text())
				}
				h.keyCount(1)

				s = h.start(tc.env, append([]string{"create"}, tc.args...)...)
				s.expect(`--company and --name required when not running interactively`)
				s.expectExit(2)
			})
		}
	})

	t.Run("accessible confirm", func(t *testing.T) {
		h := newPtyHome(t, bin)
		id := h.key("Acme", "billing sync")
		acc := []string{"APIKEY_ACCESSIBLE=1"}

		s := h.start(acc, "delete", id)
		s.expect(`Are you sure\? \[y/N\]`)
		s.send("n" + keyEnter)
		s.expect(`not confirmed`)
		s.expectExit(2)
		h.keyCount(1)

		s = h.start(acc, "delete", id)
		s.expect(`Are you sure\? \[y/N\]`)
		s.send("maybe" + keyEnter) // not an answer: asked again
		s.expect(`please try again`)
		s.send("yes" + keyEnter)
		s.expect(`Deleted 1 key`)
		s.expectExit(0)
		h.keyCount(0)
	})

	t.Run("accessible create", func(t *testing.T) {
		h := newPtyHome(t, bin)
		h.companies("PLAN PRUEBA II", "Acme")
		s := h.start([]string{"APIKEY_ACCESSIBLE=1"}, "create")
		s.expect(`1\. Acme`)
		s.expect(`2\. PLAN PRUEBA II \(ref-PLAN PRUEBA II\)`)
		s.expect(`Enter a number between 1 and 2`)
		s.send("2" + keyEnter)
		s.expect(`Key name`)
		s.send(keyEnter) // empty: refused, asked again
		s.expect(`Key name`)
		s.send("PRUEBA 1" + keyEnter)
		s.expect(`Status`)
		s.expect(`Enter a number between 1 and 2`)
		s.send("2" + keyEnter)
		s.expect(`Created key "PRUEBA 1"`)
		s.expectExit(0)
		if regexp.MustCompile(`\x1b\[[0-9;?]*[A-HJKlh]`).MatchString(s.raw()) {
			t.Errorf("accessible mode moved the cursor or redrew the screen:\n%q", s.raw())
		}
		k := h.onlyKey()
		if k.Name != "PRUEBA 1" || k.Company.Name != "PLAN PRUEBA II" || k.Status != "inactive" {
			t.Errorf("created %+v, want PRUEBA 1 of PLAN PRUEBA II, inactive", k)
		}
	})

	t.Run("Ctrl-C cancels the form", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  []string
		}{{"normal", nil}, {"accessible", []string{"APIKEY_ACCESSIBLE=1"}}} {
			t.Run(tc.name, func(t *testing.T) {
				h := newPtyHome(t, bin)
				h.companies("Acme")
				s := h.start(tc.env, "create")
				s.expect(`Acme`)
				s.send("\x03")
				s.expect(`apikey: cancelled`)
				s.expectExit(2)
				h.keyCount(0)
			})
		}
	})

	// A terminal that never answers (script, expect, an editor's shell) must
	// not be asked anything, or the command waits for termenv's timeout:
	// only a prompt may talk to the terminal, and only when it prompts. The
	// check is on the bytes written, never on how long it took.
	t.Run("no command queries the terminal unless it prompts", func(t *testing.T) {
		h := newPtyHome(t, bin)
		h.key("Acme", "billing sync")
		for _, tc := range []struct {
			env  []string
			args []string
		}{
			{nil, []string{"version"}},
			{[]string{"NO_COLOR=1"}, []string{"version"}},
			{nil, []string{"--version"}},
			{nil, []string{"--help"}},
			{nil, []string{"list"}},
			{[]string{"NO_COLOR=1"}, []string{"list"}},
			{nil, []string{"list", "-o", "json"}},
			{nil, []string{"company", "list"}},
			{nil, []string{"config", "show"}},
			{nil, []string{"history"}},
			{nil, []string{"create", "--company", "Acme", "--name", "k2", "--inactive", "--expires", "30d", "--scope", "read", "--meta", "env=prod", "--format", "curl"}},
			{nil, []string{"create", "--company", "Globex", "--create-company", "--name", "k3", "-o", "json"}},
			{nil, []string{"show", "nosuchkey"}},
			{nil, []string{"delete", "--company", "Acme", "--all", "--yes", "--dry-run"}},
		} {
			s := h.startSilent(tc.env, tc.args...)
			s.waitExit()
			if q := terminalQuery.FindString(s.raw()); q != "" {
				t.Errorf("apikey %s (%v) queried the terminal with %q:\n%q", strings.Join(tc.args, " "), tc.env, q, s.raw())
			}
		}
	})

	t.Run("list colours the status at a terminal", func(t *testing.T) {
		h := newPtyHome(t, bin)
		h.key("Acme", "billing sync")
		// An empty NO_COLOR is no request (no-color.org).
		for _, env := range [][]string{nil, {"NO_COLOR="}} {
			s := h.start(env, "list")
			s.expect(`billing sync`)
			s.expectExit(0)
			if !regexp.MustCompile(`\x1b\[[0-9;]*m\s*active`).MatchString(s.raw()) {
				t.Errorf("%v: no colour on the status at a terminal:\n%q", env, s.raw())
			}
		}
	})

	t.Run("show gives dates beside relative times", func(t *testing.T) {
		h := newPtyHome(t, bin)
		id := h.key("Acme", "billing sync")
		h.run("update", id, "--expires", "2999-01-31")
		s := h.start(nil, "show", id)
		s.expect(`Created: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(just now\) by tester`)
		s.expect(`Updated: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(just now\)`)
		s.expect(`Expires: +2999-01-31T00:00:00Z\r?\n`)
		s.expect(`Last used: +never`)
		s.expectExit(0)

		s = h.start(nil, "company", "show", "Acme")
		s.expect(`Created: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(just now\)`)
		s.expectExit(0)
	})

	t.Run("NO_COLOR turns colour off", func(t *testing.T) {
		h := newPtyHome(t, bin)
		h.key("Acme", "billing sync")
		s := h.start([]string{"NO_COLOR=1"}, "list")
		s.expect(`billing sync`)
		s.expectExit(0)
		if regexp.MustCompile(`\x1b\[[0-9;]*m`).MatchString(s.raw()) {
			t.Errorf("colour despite NO_COLOR:\n%q", s.raw())
		}
	})
}

// buildApikey builds the binary once for all the terminal tests.
func buildApikey(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "apikey")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/apikeyhq/apikey")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// ptyHome is a user with their own home, database and configuration.
type ptyHome struct {
	t   *testing.T
	bin string
	env []string
}

func newPtyHome(t *testing.T, bin string) *ptyHome {
	dir := t.TempDir()
	return &ptyHome{t: t, bin: bin, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, ".local", "share"),
		"APIKEY_DB=" + filepath.Join(dir, "apikey.db"),
		"APIKEY_ACTOR=tester",
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
	}}
}

// run runs apikey without a terminal (to set up and to check) and returns
// its standard output.
func (h *ptyHome) run(args ...string) []byte {
	h.t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("apikey %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func (h *ptyHome) companies(names ...string) {
	for _, n := range names {
		h.run("company", "create", n, "--ref", "ref-"+n)
	}
}

// key creates a key (and its company) and returns its id.
func (h *ptyHome) key(company, name string) string {
	var k ptyKey
	if err := json.Unmarshal(h.run("create", "--company", company, "--create-company", "--name", name, "-o", "json"), &k); err != nil {
		h.t.Fatal(err)
	}
	return k.ID
}

type ptyKey struct {
	ID      string
	Name    string
	Status  string
	Company struct{ Name string }
}

func (h *ptyHome) keys() []ptyKey {
	var ks []ptyKey
	if err := json.Unmarshal(h.run("list", "-o", "json"), &ks); err != nil {
		h.t.Fatal(err)
	}
	return ks
}

func (h *ptyHome) keyCount(want int) {
	h.t.Helper()
	if ks := h.keys(); len(ks) != want {
		h.t.Errorf("%d keys in the store, want %d: %+v", len(ks), want, ks)
	}
}

func (h *ptyHome) onlyKey() ptyKey {
	h.t.Helper()
	ks := h.keys()
	if len(ks) != 1 {
		h.t.Fatalf("%d keys in the store, want 1: %+v", len(ks), ks)
	}
	return ks[0]
}

// start runs apikey with stdin, stdout and stderr on one pseudo-terminal, as
// a shell does, in a terminal emulator that answers its queries.
func (h *ptyHome) start(env []string, args ...string) *ptySession {
	h.t.Helper()
	return h.startAt(true, env, args...)
}

// startSilent runs apikey at a pseudo-terminal that never answers a query,
// as script(1), expect or an editor's shell.
func (h *ptyHome) startSilent(env []string, args ...string) *ptySession {
	h.t.Helper()
	return h.startAt(false, env, args...)
}

func (h *ptyHome) startAt(answers bool, env []string, args ...string) *ptySession {
	h.t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(append([]string{}, h.env...), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		h.t.Fatalf("start at a terminal: %v", err)
	}
	s := &ptySession{t: h.t, cmd: cmd, f: f, answers: answers, more: make(chan struct{}, 1), done: make(chan struct{})}
	go s.read()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	h.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		f.Close()
	})
	return s
}

// ptySession is one run of apikey at a terminal: what it has written so far,
// and how far the test has read it.
type ptySession struct {
	t       *testing.T
	cmd     *exec.Cmd
	f       *os.File
	answers bool // whether queries are answered, as a terminal emulator does
	mu      sync.Mutex
	out     []byte
	seen    int // expect matches only after what an earlier expect matched
	more    chan struct{}
	eof     bool

	done    chan struct{}
	waitErr error
}

func (s *ptySession) read() {
	buf := make([]byte, 4096)
	for {
		n, err := s.f.Read(buf)
		s.mu.Lock()
		s.out = append(s.out, buf[:n]...)
		if err != nil {
			s.eof = true
		}
		s.mu.Unlock()
		select {
		case s.more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
		if s.answers {
			s.answerQueries(buf[:n])
		}
	}
}

// answerQueries replies as a terminal emulator would to the queries that
// termenv sends when apikey starts (bubbletea's init asks for the background
// colour, then the cursor position as a sentinel), in the order they came,
// so that each reply is read by the query and none is left over as input.
func (s *ptySession) answerQueries(b []byte) {
	queries := regexp.MustCompile(`\x1b\]11;\?|\x1b\[6n`)
	for _, q := range queries.FindAll(b, -1) {
		if q[1] == ']' {
			_, _ = s.f.WriteString("\x1b]11;rgb:0000/0000/0000\x1b\\")
		} else {
			_, _ = s.f.WriteString("\x1b[1;1R")
		}
	}
}

// terminalQuery matches what asks a terminal to answer: OSC colour queries
// (ESC ] 10/11/12/4 ; ?), device status and cursor position reports
// (ESC [ 5n, 6n, ?6n), device attributes (ESC [ c, > c, = c), XTVERSION,
// mode reports (DECRQM), the kitty keyboard query, window reports and
// DCS requests (XTGETTCAP, DECRQSS).
var terminalQuery = regexp.MustCompile(`\x1b\]\d+;(\d+;)?\?|\x1b\[\??[56]n|\x1b\[[>=]?0?c|\x1b\[>0?q|\x1b\[\??\d+\$p|\x1b\[\?u|\x1b\[1[48]t|\x1bP[+$]q`)

var ansi = regexp.MustCompile(`\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHMNOZc])`)

// text is what the terminal showed, escape sequences removed.
func (s *ptySession) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(string(s.out), "")
}

func (s *ptySession) raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.out)
}

// expect waits until the output, after what was matched before, shows re.
func (s *ptySession) expect(re string) {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(ptyDeadline)
	for {
		s.mu.Lock()
		plain := ansi.ReplaceAllString(string(s.out), "")
		eof := s.eof
		s.mu.Unlock()
		if s.seen > len(plain) { // a redraw removed text that was matched
			s.seen = len(plain)
		}
		if loc := rx.FindStringIndex(plain[s.seen:]); loc != nil {
			s.seen += loc[1]
			return
		}
		if eof {
			s.t.Fatalf("apikey ended without showing %q; it showed:\n%s", re, plain)
		}
		select {
		case <-s.more:
		case <-deadline:
			s.t.Fatalf("gave up waiting for %q; the terminal shows:\n%s", re, plain)
		}
	}
}

func (s *ptySession) send(keys string) {
	s.t.Helper()
	if _, err := s.f.WriteString(keys); err != nil {
		s.t.Fatalf("type %q: %v", keys, err)
	}
}

// expectExit waits for apikey to end with the given exit status.
func (s *ptySession) expectExit(want int) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(ptyDeadline):
		s.t.Fatalf("apikey did not end; the terminal shows:\n%s", s.text())
	}
	got := 0
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		got = ee.ExitCode()
	} else if s.waitErr != nil {
		s.t.Fatalf("wait: %v", s.waitErr)
	}
	// What was written just before the exit may still be on its way.
	s.drain()
	if got != want {
		s.t.Fatalf("exit status %d, want %d; the terminal shows:\n%s", got, want, s.text())
	}
}

// waitExit waits for apikey to end, whatever its exit status, and for the
// last of its output.
func (s *ptySession) waitExit() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(ptyDeadline):
		s.t.Fatalf("apikey did not end; the terminal shows:\n%s", s.text())
	}
	s.drain()
}

// drain waits until the reader has seen the end of the output.
func (s *ptySession) drain() {
	deadline := time.After(ptyDeadline)
	for {
		s.mu.Lock()
		eof := s.eof
		s.mu.Unlock()
		if eof {
			return
		}
		select {
		case <-s.more:
		case <-deadline:
			return
		}
	}
}
