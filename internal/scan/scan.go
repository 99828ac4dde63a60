// Package scan finds apikey secrets in files, directory trees and streams:
// text shaped like a secret whose checksum is valid, so that random
// strings of the same shape are not reported. It knows nothing of stores:
// a finding carries the hash under which a store would keep the secret,
// and its hint, never the secret itself.
package scan

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// Stdin is the path that names standard input.
const Stdin = "-"

// Finding is one secret found. The secret itself is not part of it.
type Finding struct {
	Path   string // as given, or as walked under a directory given; "-" for standard input
	Line   int    // from 1
	Column int    // from 1, in characters (Unicode code points)
	Length int    // of the secret, in characters (it is ASCII)
	Hash   apikey.Hash
	Hint   string
}

// Stats says what a scan read and what it left aside.
type Stats struct {
	Files  int   // files and streams read
	Bytes  int64 // bytes read
	Binary int   // files not read further than their start: binary
	Links  int   // symbolic links met in a tree: not followed
	Other  int   // FIFOs, sockets and devices met in a tree: not read
	Failed int   // files and directories that could not be read
}

// Scanner scans paths. Its zero value scans nothing useful: set Found.
type Scanner struct {
	// Found is told of each finding, in order: the paths as given, the
	// files of a tree in lexical order, then by line and column. An error
	// it returns stops the scan, and Scan returns it.
	Found func(Finding) error
	// Failed is told of each file or directory that could not be read,
	// with the reason (without the path); the scan goes on.
	Failed func(path string, err error)
	// Stdin is what the path "-" reads.
	Stdin io.Reader
	// Workers is how many files are read at once (0: one per CPU, at
	// least 4, as reading a small file is mostly waiting for the system).
	Workers int

	Stats Stats
}

// A job is one path to read, or to tell of, in the order of the walk.
type job struct {
	path  string
	stdin bool
	what  skip
	err   error

	binary bool
	bytes  int64
	found  []Finding
	done   chan struct{}
}

type skip int

const (
	read skip = iota
	link
	other
)

// Scan scans each path: "-" reads Stdin; a directory is walked, without
// following the symbolic links in it (a link given as a path is
// followed), and without entering directories named .git; any other file
// is read unless it is binary. Files are read by several workers at once;
// findings are told in order all the same.
func (s *Scanner) Scan(ctx context.Context, paths []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := s.Workers
	if workers <= 0 {
		workers = max(runtime.GOMAXPROCS(0), 4)
	}
	jobs := make(chan *job)
	// order bounds how far reading runs ahead of telling: the findings
	// of at most this many files wait in memory.
	order := make(chan *job, 256)
	for range workers {
		go func() {
			buf := make([]byte, bufSize)
			for j := range jobs {
				if ctx.Err() == nil {
					s.read(ctx, j, buf)
				}
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		s.walk(ctx, paths, func(j *job) bool {
			j.done = make(chan struct{})
			select {
			case order <- j:
			case <-ctx.Done():
				return false
			}
			if j.what != read || j.err != nil {
				close(j.done)
				return true
			}
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				close(j.done)
				return false
			}
		})
	}()
	var stop error
	for j := range order {
		<-j.done
		if stop != nil || ctx.Err() != nil {
			continue
		}
		st := &s.Stats
		switch {
		case j.err != nil:
			st.Failed++
			if s.Failed != nil {
				s.Failed(j.path, j.err)
			}
		case j.what == link:
			st.Links++
		case j.what == other:
			st.Other++
		case j.binary:
			st.Binary++
		default:
			st.Files++
			st.Bytes += j.bytes
			for _, f := range j.found {
				if err := s.Found(f); err != nil {
					stop = err
					cancel()
					break
				}
			}
		}
	}
	if stop != nil {
		return stop
	}
	return ctx.Err()
}

// read reads one file, or standard input, into j.
func (s *Scanner) read(ctx context.Context, j *job, buf []byte) {
	emit := func(f Finding) { j.found = append(j.found, f) }
	if j.stdin {
		if s.Stdin == nil {
			j.err = errors.New("no standard input")
			return
		}
		_, j.bytes, j.err = scanStream(ctxReader{ctx, s.Stdin}, Stdin, buf, false, emit)
		return
	}
	f, err := os.Open(j.path)
	if err != nil {
		j.err = cause(err)
		return
	}
	defer f.Close()
	j.binary, j.bytes, err = scanStream(ctxReader{ctx, f}, j.path, buf, true, emit)
	j.err = cause(err)
}

// walk hands each path, and each entry of each directory tree, to add,
// until add returns false.
func (s *Scanner) walk(ctx context.Context, paths []string, add func(*job) bool) {
	for _, p := range paths {
		if p == Stdin {
			if !add(&job{path: p, stdin: true}) {
				return
			}
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			if !add(&job{path: p, err: cause(err)}) {
				return
			}
			continue
		}
		if !fi.IsDir() {
			// A file given by name is read whatever its type: a FIFO
			// is how a shell's <(git diff) arrives.
			if !add(&job{path: p}) {
				return
			}
			continue
		}
		root := p
		if lfi, err := os.Lstat(p); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			// WalkDir does not enter a root that is a link to a
			// directory; through a trailing separator, it does.
			root = p + string(filepath.Separator)
		}
		stopped := false
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				stopped = true
				return filepath.SkipAll
			}
			j := &job{path: path}
			switch {
			case err != nil:
				j.err = cause(err)
			case d.Name() == ".git" && path != root:
				// A repository's objects are compressed: nothing would be
				// found there. A .git file is a link to one.
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			case d.IsDir():
				return nil
			case d.Type()&fs.ModeSymlink != 0:
				j.what = link
			case !d.Type().IsRegular():
				j.what = other
			}
			if !add(j) {
				stopped = true
				return filepath.SkipAll
			}
			return nil
		})
		if stopped {
			return
		}
	}
}

// cause is the reason of a file error, without the operation and path that
// the caller names itself.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ctxReader stops reading when ctx is done: a first Ctrl-C ends a scan of
// a long stream.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
