// Package testproc prepares the processes that tests start from their own
// binary (testscript's commands, the reliability tests' apikey processes).
package testproc

import (
	"os"
	"strings"
)

// NoRaceExitSleep sets GORACE, which child processes inherit, so that a
// process of a binary built with -race exits at once rather than sleeping a
// second for late reports (the race detector's atexit_sleep_ms): over the
// hundreds of commands the tests run, those seconds made README's
// `go test -race ./...` take 11 minutes for ./cmd/ alone instead of 2. A
// sleep the caller chose is kept.
func NoRaceExitSleep() {
	if !strings.Contains(os.Getenv("GORACE"), "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
}
