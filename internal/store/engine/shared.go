package engine

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"sort"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// Migrations reads an engine's migrations from dir of fsys, in the order of
// their names: migration i+1 brings the schema from version i to i+1.
func Migrations(fsys fs.FS, dir string) []string {
	entries, _ := fs.ReadDir(fsys, dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		b, _ := fs.ReadFile(fsys, path.Join(dir, n))
		out[i] = string(b)
	}
	return out
}

// Settled is the part of error translation that is the same on every
// engine: an error that is already apikey's passes through, an interrupted
// one says so. ok is false when the engine must translate err itself.
func Settled(err error) (settled error, ok bool) {
	var de *apikey.Error
	if errors.As(err, &de) {
		return err, true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apikey.Runtimef("interrupted"), true
	}
	return nil, false
}
