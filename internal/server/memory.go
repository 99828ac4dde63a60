package server

import (
	"os"
	"runtime/debug"
)

// The garbage collector lets the heap grow by GOGC percent (100 by default)
// of what was live after a collection before it collects again. Most of
// what a server with many keys holds is its directory, which is never
// garbage: by default a server with a million keys (about 130 MiB of
// directory) would grow by as much again in the garbage of requests before
// each collection. The server sets the percent so that about gcHeadroom of
// garbage builds up between collections however big the directory, and
// keeps it lower while it loads one (the heap then holds the directory
// being built and the one in service). A collection costs little here,
// since the directory holds no pointer for the collector to follow.
// GOGC or GOMEMLIMIT in the environment, an operator's choice, are left
// alone.
const (
	gcHeadroom       = 32 << 20
	gcPercentLoading = 20
)

// gcTuned reports whether the server may set the collector's percent.
func gcTuned() bool { return os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" }

// tuneGC sets the collector's percent for live bytes that stay, from 10
// (a collection for every tenth of live bytes allocated) to the default 100.
func tuneGC(live int64) {
	if !gcTuned() {
		return
	}
	p := int64(100)
	if live > 0 {
		p = min(100, max(10, gcHeadroom*100/live))
	}
	debug.SetGCPercent(int(p))
}

// tuneGCForLoad lowers the collector's percent while a directory loads.
func tuneGCForLoad() {
	if gcTuned() {
		debug.SetGCPercent(gcPercentLoading)
	}
}
