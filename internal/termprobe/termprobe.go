// Package termprobe decides when apikey asks the terminal about itself:
// only when a prompt is about to be drawn, never merely because a command
// started at a terminal.
//
// bubbletea, with which huh draws its forms, asks lipgloss for the terminal's
// background colour in a package init function (tea_init.go in bubbletea
// v1), so that termenv's query (OSC 11, then a cursor position report, DSR,
// as a sentinel) is answered before a form takes the terminal over. That ran
// in every apikey process whose standard output is a terminal, for
// `apikey version` as for `apikey list` and with NO_COLOR, and a terminal
// that does not answer (script, expect, an editor's shell) held the command
// for termenv's five-second timeout.
//
// This package's init tells lipgloss that the background is already known,
// so that bubbletea's init asks nothing. It runs first because Go
// initialises, among the packages whose imports are ready, the one whose
// import path sorts first (the Go spec, "Package initialization"):
// github.com/apikeyhq/... sorts before github.com/charmbracelet/bubbletea,
// and this package imports nothing that bubbletea does not import before it
// (lipgloss, termenv). internal/prompt imports it; cmd's terminal test
// checks the bytes a command writes to a terminal that never answers.
package termprobe

import (
	"io"
	"sync"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func init() {
	// Dark until asked: the guess lipgloss makes of a terminal that does
	// not answer.
	lipgloss.SetHasDarkBackground(true)
}

var detect sync.Once

// Detect asks the terminal behind w for its background colour, once per
// process, so that a form picks colours that can be read on it. Call it just
// before a form is drawn, and before the form reads its input, which would
// otherwise swallow the answer. A terminal that does not answer costs up to
// termenv's timeout (five seconds); w that is not a terminal costs nothing.
func Detect(w io.Writer) {
	detect.Do(func() {
		lipgloss.SetHasDarkBackground(termenv.NewOutput(w).HasDarkBackground())
	})
}
