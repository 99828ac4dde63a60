// Package docgen writes apikey's command reference (Markdown) and man pages
// from the cobra command tree, so that docs/ can never say something the
// commands do not do. `go generate ./...` runs it; a test fails when the
// committed docs differ from what the commands generate.
package docgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Where the generated files go, below the docs directory.
const (
	ReferenceDir = "reference"
	ManDir       = "man"
)

// Root returns apikey's command tree as a user sees it, built over streams
// and an environment that are empty, so that nothing of the machine that
// generates the docs (its user, paths, terminal) ends up in them.
func Root() *cobra.Command {
	ios, _, _, _ := iostreams.Test()
	root := cmd.NewCmdRoot(cmd.NewFactory(ios, func(string) (string, bool) { return "", false }))
	root.DisableAutoGenTag = true
	return root
}

// Generate writes the reference pages into dir/reference and the man pages
// into dir/man, replacing what was there, so that a removed command leaves
// no page behind.
func Generate(root *cobra.Command, dir string) error {
	ref, man := filepath.Join(dir, ReferenceDir), filepath.Join(dir, ManDir)
	for _, d := range []struct{ path, ext string }{{ref, ".md"}, {man, ".1"}} {
		if err := os.MkdirAll(d.path, 0o755); err != nil {
			return err
		}
		old, err := filepath.Glob(filepath.Join(d.path, "*"+d.ext))
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	if err := doc.GenMarkdownTreeCustom(root, ref, func(string) string { return "" }, func(s string) string { return s }); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	// An empty title makes each page's title its command (APIKEY\-COMPANY\-CREATE).
	header := &doc.GenManHeader{Section: "1", Source: "apikey", Manual: "apikey manual", Date: &manDate}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	return undateManPages(man)
}

// manDate is a placeholder that undateManPages removes: a man page generated
// today and one generated next year from the same commands must not differ,
// or the drift test would fail for no reason.
var manDate = time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC)

var thLine = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*" )"` + regexp.QuoteMeta(manDate.Format("Jan 2006")) + `"`)

func undateManPages(dir string) error {
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return err
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		undated := thLine.ReplaceAll(b, []byte(`$1""`))
		if bytes.Equal(undated, b) {
			return fmt.Errorf("man page %s: no .TH line with the placeholder date", filepath.Base(p))
		}
		if err := os.WriteFile(p, undated, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Files returns the generated files below dir, relative to it and sorted:
// what Generate writes and the drift test compares.
func Files(dir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{filepath.Join(ReferenceDir, "*.md"), filepath.Join(ManDir, "*.1")} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		for _, f := range m {
			rel, err := filepath.Rel(dir, f)
			if err != nil {
				return nil, err
			}
			out = append(out, filepath.ToSlash(rel))
		}
	}
	sort.Strings(out)
	return out, nil
}
