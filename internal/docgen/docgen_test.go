package docgen

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocsUpToDate fails when docs/reference or docs/man differ from what the
// commands generate: a flag, a help text or a command changed without the
// docs being regenerated.
func TestDocsUpToDate(t *testing.T) {
	committed := filepath.Join("..", "..", "docs")
	fresh := t.TempDir()
	if err := Generate(Root(), fresh); err != nil {
		t.Fatal(err)
	}
	want, err := Files(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Files(committed)
	if err != nil {
		t.Fatal(err)
	}
	const fix = "run 'go generate ./...' at the repository root and commit docs/"
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("docs/%s is missing: %s", f, fix)
		}
	}
	for _, f := range got {
		if !slices.Contains(want, f) {
			t.Errorf("docs/%s is for a command that no longer exists: %s", f, fix)
		}
	}
	for _, f := range want {
		if !slices.Contains(got, f) {
			continue
		}
		a, err := os.ReadFile(filepath.Join(committed, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(fresh, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("docs/%s is out of date (first difference at line %d): %s", f, firstDiffLine(a, b), fix)
		}
	}
}

// TestGenerateIsDeterministic guards the drift test itself: two runs must
// write the same bytes, or the test would fail on a clean tree.
func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := Generate(Root(), d); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Files(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("nothing generated")
	}
	for _, f := range files {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", f)
		}
	}
}

// TestEveryCommandHasAnExample keeps the promise of the reference: each page
// shows how the command is used.
func TestEveryCommandHasAnExample(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(Root(), dir); err != nil {
		t.Fatal(err)
	}
	files, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Contains(b, []byte("### Examples")) {
			t.Errorf("%s has no Examples section: give its command an Example", f)
		}
	}
}

// TestManPagesCarryNoDate: a date in a man page would make every
// regeneration a change.
func TestManPagesCarryNoDate(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(Root(), dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ManDir, "apikey.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`.TH "APIKEY" "1" "" "apikey" "apikey manual"`)) {
		t.Errorf("apikey.1 header is not the undated one:\n%s", firstLines(b, 3))
	}
	if bytes.Contains(b, []byte("Auto generated")) {
		t.Error("apikey.1 carries cobra's dated auto-generated tag")
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
