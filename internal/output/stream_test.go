package output

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// A table longer than one chunk keeps one header, aligned columns and no
// trailing blanks, and a later, wider cell widens its column.
func TestStreamTableChunks(t *testing.T) {
	var b bytes.Buffer
	s := newStreamTable(&b, "ID", "NAME", "STATUS")
	n := streamChunk*2 + 7
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("key-%04d", i)
		if i == n-1 {
			name = "a much longer name than any before"
		}
		if err := s.row(fmt.Sprint(i), name, "active"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != n+1 {
		t.Fatalf("%d lines, want %d", len(lines), n+1)
	}
	if !strings.HasPrefix(lines[0], "ID") || strings.Count(b.String(), "STATUS") != 1 {
		t.Fatalf("want exactly one header, got first line %q", lines[0])
	}
	col := strings.Index(lines[0], "STATUS")
	for i, l := range lines[:n] {
		if strings.HasSuffix(l, " ") {
			t.Fatalf("line %d has trailing blanks: %q", i, l)
		}
		if i > 0 && i <= 2*streamChunk && strings.Index(l, "active") != col {
			t.Fatalf("line %d not aligned with its header: %q", i, l)
		}
	}
	if last := lines[n]; !strings.Contains(last, "a much longer name than any before   active") {
		t.Fatalf("the last chunk did not widen its column: %q", last)
	}
}
