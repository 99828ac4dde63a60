package docgen

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// The pages a user reads: the README and docs/, with the generated
// reference (the man pages say the same as the reference).
func userDocs(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..")
	paths := []string{filepath.Join(root, "README.md")}
	for _, pattern := range []string{"docs/*.md", "docs/reference/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	docs := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		docs[filepath.ToSlash(rel)] = string(b)
	}
	if len(docs) < 5 {
		t.Fatalf("found only %d pages", len(docs))
	}
	return docs
}

// secretLike is anything shaped like a secret: a prefix, an underscore and a
// long run of base62. Hints (ak_3f9Q…d9x2) and cut samples do not match.
var secretLike = regexp.MustCompile(`\b[a-z][a-z0-9_]{0,15}_[0-9A-Za-z]{20,}\b`)

// TestDocSecretsAreReal checks that every sample secret in the docs has the
// format and checksum of a real one, so that a reader who copies one into
// verify, a test or a scanner's configuration gets what a real key does.
func TestDocSecretsAreReal(t *testing.T) {
	n := 0
	for name, text := range userDocs(t) {
		for _, s := range secretLike.FindAllString(text, -1) {
			n++
			if err := apikey.CheckSecret(s); err != nil {
				t.Errorf("%s: sample secret %s (%d characters) is not a real one: %v; mint one with apikey.MintSecret", name, s, len(s), err)
			}
		}
	}
	if n == 0 {
		t.Error("no sample secret found: is the pattern still right?")
	}
}

// TestDocsCiteOnlyWhatShips checks that the docs send a reader only to pages
// that exist: relative links resolve to files in the repository, and no
// page cites the product specification, which is not part of it.
func TestDocsCiteOnlyWhatShips(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for name, text := range userDocs(t) {
		if m := regexp.MustCompile(`\bSPEC\b[^ ]*`).FindString(text); m != "" {
			t.Errorf("%s cites %q, which is not in the repository: cite the page of docs/ that says it", name, m)
		}
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := filepath.Join("..", "..", filepath.Dir(name), filepath.FromSlash(target))
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", name, m[1])
			}
		}
	}
}

// TestShellExamplesKeepFailures checks the shell examples that capture the
// output of a pipeline, or write it to a file: without pipefail the status
// of such a pipeline is the last command's, so `secret=$(apikey create ... |
// jq -r .key)` carries on with an empty secret when create fails. Such an
// example must set pipefail first.
func TestShellExamplesKeepFailures(t *testing.T) {
	captured := regexp.MustCompile(`\$\(.*\bapikey\b.*\|`)
	toFile := regexp.MustCompile(`\bapikey\b[^|#]*\|[^#]*[^2&>]>\s*[^\s/&]`)
	pipefail := regexp.MustCompile(`(?m)^\s*set -[a-z]*o pipefail\b|^\s*set -o pipefail\b`)
	n := 0
	for name, text := range userDocs(t) {
		for _, block := range codeBlocks(text) {
			if block.info != "sh" && block.info != "bash" && block.info != "" {
				continue
			}
			code := block.code
			for _, line := range strings.Split(code, "\n") {
				line = strings.TrimSpace(line)
				if strings.HasPrefix(line, "#") || !(captured.MatchString(line) || toFile.MatchString(line)) {
					continue
				}
				n++
				before, _, _ := strings.Cut(code, line)
				if !pipefail.MatchString(before) {
					t.Errorf("%s: %q loses a failure of apikey without 'set -o pipefail' before it", name, line)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no example pipes apikey into a variable or a file: is the pattern still right?")
	}
}

type codeBlock struct{ info, code string }

// codeBlocks returns the fenced code blocks of a Markdown text, with the
// word after the opening fence ("sh", "json"; "" for none).
func codeBlocks(text string) []codeBlock {
	var blocks []codeBlock
	var cur *codeBlock
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &codeBlock{info: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.code += line
		}
	}
	return blocks
}
