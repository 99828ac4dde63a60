// Package iostreams is the one place that decides whether apikey talks to a
// terminal: whether it may prompt, whether it may colour its output. Tests
// swap the streams for buffers.
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the standard streams and what is known of them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	neverPrompt                    bool
	noColor                        bool
	accessible                     bool
}

// System returns the process's streams.
func System() *IOStreams {
	// no-color.org: "when present and not an empty string".
	noColor := os.Getenv("NO_COLOR") != ""
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
		noColor:   noColor || os.Getenv("TERM") == "dumb",
	}
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Test returns streams over buffers, none of them a terminal.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

// SetTTY marks the streams as terminals or not (tests).
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// SetNeverPrompt forbids prompting (--no-input, APIKEY_NO_INPUT).
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverPrompt = v }

// SetAccessible asks for prompts that suit screen readers.
func (s *IOStreams) SetAccessible(v bool) { s.accessible = v }

// Accessible reports whether prompts should be plain text for screen readers.
func (s *IOStreams) Accessible() bool { return s.accessible }

// CanPrompt reports whether apikey may ask the user a question.
func (s *IOStreams) CanPrompt() bool { return !s.neverPrompt && s.stdinTTY && s.stdoutTTY }

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether standard output may be coloured.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// ColorEnabledErr reports whether standard error may be coloured.
func (s *IOStreams) ColorEnabledErr() bool { return s.stderrTTY && !s.noColor }

// ErrPrintf writes a message to standard error.
func (s *IOStreams) ErrPrintf(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, format, args...)
}
