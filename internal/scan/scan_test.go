package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// secret mints a real secret with the given prefix.
func secret(t testing.TB, prefix string) string {
	t.Helper()
	s, err := apikey.NewSecret(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// at is where a finding is, and which secret: what the tests compare.
type at struct {
	Path         string
	Line, Column int
	Hint         string
}

func (a at) String() string { return fmt.Sprintf("%s:%d:%d %s", a.Path, a.Line, a.Column, a.Hint) }

func where(p string, line, col int, secret string) at {
	return at{p, line, col, apikey.HintOf(secret)}
}

// findIn scans one stream and returns its findings, checking that each
// carries the hash and length of the secret it names.
func findIn(t *testing.T, text string, secrets ...string) []at {
	t.Helper()
	byHint := map[string]string{}
	for _, s := range secrets {
		byHint[apikey.HintOf(s)] = s
	}
	var got []at
	binary, n, err := scanStream(strings.NewReader(text), "-", make([]byte, bufSize), false, func(f Finding) {
		if s, ok := byHint[f.Hint]; ok && (f.Hash != apikey.HashSecret(s) || f.Length != len(s)) {
			t.Errorf("finding %+v: wrong hash or length", f)
		}
		got = append(got, at{f.Path, f.Line, f.Column, f.Hint})
	})
	if err != nil || binary || n != int64(len(text)) {
		t.Fatalf("scanStream: binary %v, read %d of %d, %v", binary, n, len(text), err)
	}
	return got
}

func wantFound(t *testing.T, got []at, want ...at) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found\n  %v\nwant\n  %v", got, want)
	}
}

func TestFindsOnlyValidChecksums(t *testing.T) {
	s := secret(t, "ak")
	wantFound(t, findIn(t, "key: "+s+"\n", s), where("-", 1, 6, s))
	// Every character changed, one at a time, to another that the
	// format allows there: none is reported.
	for i := range s {
		b := []byte(s)
		switch {
		case s[i] == '_':
			continue
		case i < 2 && s[i] != 'q':
			b[i] = 'q'
		case i < 2:
			b[i] = 'r'
		case s[i] != '0':
			b[i] = '0'
		default:
			b[i] = 'Z'
		}
		if got := findIn(t, "key: "+string(b)+"\n"); len(got) > 0 {
			t.Errorf("%s with character %d changed: found %v", s, i, got)
		}
	}
	// Cut short, or with a character missing in the middle.
	for _, bad := range []string{s[:len(s)-1], s[:20] + s[21:], strings.ToUpper(s[:2]) + s[2:]} {
		if got := findIn(t, bad+"\n"); len(got) > 0 {
			t.Errorf("%q: found %v", bad, got)
		}
	}
	// Random strings of the same shape: none.
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "ak_%040d%06d\n", i, i)
		r := secret(t, "ak")
		b.WriteString(r[:len(r)-6] + "AAAAAA\n")
	}
	if got := findIn(t, b.String()); len(got) > 0 {
		t.Errorf("look-alikes found: %v", got)
	}
}

func TestFindsAnyPrefix(t *testing.T) {
	ak, long, under, one := secret(t, "ak"), secret(t, "acme_prod_eu_01x"), secret(t, "my_app"), secret(t, "x")
	text := "A=" + ak + " B=\"" + long + "\" C='" + under + "'\n" +
		"export X_" + one + "\n" +
		// Letters glued before a secret are not its prefix: the checksum says where it starts.
		"zzzzzzzzzzzzzzzzzzz" + ak + "\n" +
		"KEY_" + ak + "\n" +
		"url?key=" + under + "&x=1\n"
	got := findIn(t, text, ak, long, under, one)
	wantFound(t, got,
		where("-", 1, 3, ak), where("-", 1, 3+len(ak)+4, long), where("-", 1, 3+len(ak)+4+len(long)+5, under),
		where("-", 2, 10, one),
		where("-", 3, 20, ak),
		where("-", 4, 5, ak),
		where("-", 5, 9, under),
	)
}

func TestLines(t *testing.T) {
	a, b := secret(t, "ak"), secret(t, "ak")
	t.Run("CRLF", func(t *testing.T) {
		wantFound(t, findIn(t, "one\r\nkey="+a+"\r\n\r\n"+b+"\r\n", a, b), where("-", 2, 5, a), where("-", 4, 1, b))
	})
	t.Run("at the edges of lines", func(t *testing.T) {
		wantFound(t, findIn(t, a+"\n"+b, a, b), where("-", 1, 1, a), where("-", 2, 1, b))
		wantFound(t, findIn(t, "\n\n"+a+b+"\n", a, b), where("-", 3, 1, a), where("-", 3, 1+len(a), b))
		wantFound(t, findIn(t, a, a), where("-", 1, 1, a))
	})
	t.Run("columns count characters", func(t *testing.T) {
		wantFound(t, findIn(t, "clé → ünïcode: "+a+"\n", a), where("-", 1, 16, a))
		wantFound(t, findIn(t, "\t"+a+"\n", a), where("-", 1, 2, a))
	})
	t.Run("a secret split by a newline is none", func(t *testing.T) {
		wantFound(t, findIn(t, a[:30]+"\n"+a[30:]+"\n"))
	})
}

// TestBufferEdges puts a secret at every offset around the edge of the
// stream's buffer, after text that is all prefix characters (so that the
// prefix search runs into the kept bytes) or none.
func TestBufferEdges(t *testing.T) {
	s := secret(t, "acme_prod")
	for _, fill := range []string{"x", " ", "é"} {
		for off := bufSize - 80; off <= bufSize+10; off++ {
			pad := strings.Repeat(fill, off)
			if fill == "é" {
				pad = strings.Repeat(fill, off/2) + strings.Repeat(" ", off%2)
			}
			text := pad + s + " tail\nnext " + s + "\n"
			got := findIn(t, text, s)
			col := chars([]byte(pad)) + 1
			wantFound(t, got, where("-", 1, col, s), where("-", 2, 6, s))
			if t.Failed() {
				t.Fatalf("fill %q, offset %d", fill, off)
			}
		}
	}
}

// TestLongLines reads lines far longer than the buffer, with secrets
// inside and after them, in memory that does not grow with the line.
func TestLongLines(t *testing.T) {
	s := secret(t, "ak")
	const lineLen = 50 << 20
	r := io.MultiReader(
		strings.NewReader("first\n"),
		io.LimitReader(repeat('y'), lineLen),
		strings.NewReader(" "+s+" "),
		io.LimitReader(repeat('z'), lineLen),
		strings.NewReader("\nlast "+s+"\n"),
	)
	var got []at
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, n, err := scanStream(r, "big", make([]byte, bufSize), true, func(f Finding) {
		got = append(got, at{f.Path, f.Line, f.Column, f.Hint})
	})
	runtime.ReadMemStats(&after)
	if err != nil || n != 2*lineLen+int64(len(s))*2+15 {
		t.Fatalf("read %d, %v", n, err)
	}
	wantFound(t, got, where("big", 2, lineLen+2, s), where("big", 3, 6, s))
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("reading 100 MB in two lines allocated %d bytes", alloc)
	}
}

type repeat byte

func (c repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// tree writes files under a new directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scanPaths scans paths from dir and returns the findings and the
// failures.
func scanPaths(t *testing.T, dir string, stdin io.Reader, paths ...string) ([]at, []string, Stats) {
	t.Helper()
	t.Chdir(dir)
	var got []at
	var failed []string
	s := &Scanner{
		Found:  func(f Finding) error { got = append(got, at{f.Path, f.Line, f.Column, f.Hint}); return nil },
		Failed: func(p string, err error) { failed = append(failed, p+": "+err.Error()) },
		Stdin:  stdin,
	}
	if err := s.Scan(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	return got, failed, s.Stats
}

func TestTree(t *testing.T) {
	a, b, c := secret(t, "ak"), secret(t, "ak"), secret(t, "ak")
	// One character of a changed, so that its checksum fails: to another
	// character than the one there (X, one time in 62, left a unchanged).
	other := "X"
	if a[10] == 'X' {
		other = "Y"
	}
	dir := tree(t, map[string]string{
		"README.md":            "nothing here\n",
		"config/app.env":       "# app\nAPI_KEY=" + a + "\n",
		"config/z/deep.yaml":   "a:\n  b: " + b + "\n",
		"bin/tool":             "\x7fELF\x00\x01" + a + "\n",
		"late-nul.txt":         strings.Repeat("x", binarySniff) + "\x00 " + c + "\n",
		".git/config":          a + "\n",
		".git/objects/ab/cdef": a + "\n",
		"sub/.git":             "gitdir: " + b + "\n",
		"sub/.gitignore":       c + "\n",
		"docs/.github/ci.yml":  "token: " + c + "\n",
		"changed-by-one.txt":   a[:10] + other + a[11:] + "\n",
		"empty":                "",
	})
	outside := tree(t, map[string]string{"secret.txt": b + "\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, failed, st := scanPaths(t, dir, nil, ".")
	wantFound(t, got,
		where("config/app.env", 2, 9, a),
		where("config/z/deep.yaml", 2, 6, b),
		where("docs/.github/ci.yml", 1, 8, c),
		where("late-nul.txt", 1, binarySniff+3, c),
		where("sub/.gitignore", 1, 1, c),
	)
	if len(failed) > 0 {
		t.Errorf("failed: %q", failed)
	}
	want := Stats{Files: 8, Binary: 1, Links: 2, Other: 1}
	st.Bytes = 0
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}

	// A link given by name is followed, as is a directory behind one.
	got, _, _ = scanPaths(t, dir, nil, "link.txt", "linkdir", "config/app.env")
	wantFound(t, got, where("link.txt", 1, 1, b), where("linkdir/secret.txt", 1, 1, b), where("config/app.env", 2, 9, a))
	// A .git directory given by name is read.
	got, _, _ = scanPaths(t, dir, nil, ".git")
	wantFound(t, got, where(".git/config", 1, 1, a), where(".git/objects/ab/cdef", 1, 1, a))
}

func TestStdinAndFailures(t *testing.T) {
	a, b := secret(t, "ak"), secret(t, "ak")
	dir := tree(t, map[string]string{"f.txt": b + "\n"})
	diff := "diff --git a/x b/x\n+++ b/x\n@@ -1 +1,2 @@\n+KEY=" + a + "\n"
	got, failed, st := scanPaths(t, dir, strings.NewReader(diff), "missing", "-", "f.txt")
	wantFound(t, got, where("-", 4, 6, a), where("f.txt", 1, 1, b))
	if len(failed) != 1 || failed[0] != "missing: no such file or directory" {
		t.Errorf("failed %q", failed)
	}
	if st.Failed != 1 || st.Files != 2 {
		t.Errorf("stats %+v", st)
	}
	// Standard input is read even when it looks binary: the user chose it.
	got, _, _ = scanPaths(t, dir, strings.NewReader("\x00\x01"+a+"\n"), "-")
	wantFound(t, got, where("-", 1, 3, a))
}

// TestOrder reads many files with several workers and tells the findings
// in the order of the walk all the same; an error from Found stops it.
func TestOrder(t *testing.T) {
	files := map[string]string{}
	var want []at
	for i := range 500 {
		s := secret(t, "ak")
		name := fmt.Sprintf("d%d/f%03d.txt", i%3, i)
		files[name] = strings.Repeat("filler line\n", i%7) + s + "\n"
		want = append(want, where(name, i%7+1, 1, s))
	}
	dir := tree(t, files)
	got, _, _ := scanPaths(t, dir, nil, ".")
	// The walk is lexical: d0/..., d1/..., d2/...
	var sorted []at
	for d := range 3 {
		for _, w := range want {
			if strings.HasPrefix(w.Path, fmt.Sprintf("d%d/", d)) {
				sorted = append(sorted, w)
			}
		}
	}
	wantFound(t, got, sorted...)

	stop := errors.New("stop")
	n := 0
	s := &Scanner{Workers: 3, Found: func(Finding) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	}}
	if err := s.Scan(context.Background(), []string{"."}); err != stop || n != 10 {
		t.Errorf("stopped after %d findings: %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = &Scanner{Found: func(Finding) error { t.Error("found after cancel"); return nil }}
	if err := s.Scan(ctx, []string{"."}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
}

// The matcher as a regular expression, for BenchmarkFind to compare with.
// (It would also miss "xak_…": the leftmost match takes the x.)
var asRegexp = regexp.MustCompile(`[a-z][a-z0-9_]{0,15}_[0-9A-Za-z]{46}`)

// BenchmarkFind compares find with a compiled regular expression of the
// same shape, on Go source (camelCase: few underscores) and on generated
// constants of the syscall package (SNAKE_CASE: an underscore every few
// bytes), each with one secret.
func BenchmarkFind(b *testing.B) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skip("no go command to find Go's source with:", err)
	}
	for _, corpus := range []struct{ name, glob string }{
		{"camel", "src/net/http/*.go"},
		{"snake", "src/syscall/z*_linux_amd64.go"},
	} {
		var text []byte
		files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(goroot)), filepath.FromSlash(corpus.glob)))
		for _, f := range files {
			c, _ := os.ReadFile(f)
			text = append(text, c...)
		}
		if len(text) == 0 {
			b.Skip("no Go source to read")
		}
		s := secret(b, "ak")
		text = append(text, []byte("\nconst key = \""+s+"\"\n")...)
		b.Run(corpus.name+"/index", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				n := 0
				find(text, 0, func(int, int, string) { n++ })
				if n != 1 {
					b.Fatalf("found %d", n)
				}
			}
		})
		b.Run(corpus.name+"/regexp", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				n := 0
				for _, m := range asRegexp.FindAllIndex(text, -1) {
					if apikey.CheckSecret(string(text[m[0]:m[1]])) == nil {
						n++
					}
				}
				if n != 1 {
					b.Fatalf("found %d", n)
				}
			}
		})
		b.Run(corpus.name+"/stream", func(b *testing.B) {
			buf := make([]byte, bufSize)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				scanStream(bytes.NewReader(text), "x", buf, true, func(Finding) {})
			}
		})
	}
}
