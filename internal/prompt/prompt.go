// Package prompt asks the user questions at a terminal. Commands depend on the
// Prompter interface, so that tests can answer for the user.
package prompt

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/termprobe"
	"github.com/charmbracelet/huh"
)

// Option is one choice of a Select: what is shown and the value returned.
type Option struct {
	Label string
	Value string
}

// Prompter asks questions. Every method returns a usage error when the user
// cancels (Ctrl-C or Esc).
type Prompter interface {
	// Confirm asks a yes/no question whose default is no.
	Confirm(title, description string) (bool, error)
	// Input asks for a line of text, re-asking until validate accepts it.
	Input(title, placeholder string, validate func(string) error) (string, error)
	// Select asks to pick one of options and returns its value.
	Select(title string, options []Option) (string, error)
}

// Huh is the Prompter of a real terminal, built on charmbracelet/huh.
type Huh struct {
	ctx        context.Context
	in         io.Reader
	out        io.Writer
	accessible bool
}

// New returns a Prompter that reads in and draws on out (standard error, so
// that standard output carries only the requested document). In accessible
// mode questions are plain lines of text, for screen readers. A question
// still open when ctx is cancelled (Ctrl-C) is answered with a cancel.
func New(ctx context.Context, in io.Reader, out io.Writer, accessible bool) *Huh {
	if accessible {
		// huh reads each accessible answer with a fresh bufio.Scanner, which
		// would swallow the answers that follow from a pipe; feed it a byte
		// at a time so each scanner stops at its own line.
		in = byteReader{in}
	}
	return &Huh{ctx: ctx, in: in, out: out, accessible: accessible}
}

type byteReader struct{ r io.Reader }

func (b byteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return b.r.Read(p)
}

func (h *Huh) run(f huh.Field) error {
	// Only now, with a question to ask, may the terminal be asked what its
	// background is (see termprobe).
	termprobe.Detect(h.out)
	form := huh.NewForm(huh.NewGroup(f)).
		WithInput(h.in).
		WithOutput(h.out).
		WithAccessible(h.accessible).
		WithShowHelp(!h.accessible)
	var err error
	if h.accessible {
		// Accessible mode leaves the terminal in line mode, where Ctrl-C is a
		// SIGINT that apikey catches to cancel ctx, and huh reads it with no
		// regard for ctx: without this, Ctrl-C would leave the user stuck at
		// the question. The read left behind ends with the process.
		done := make(chan error, 1)
		go func() { done <- form.Run() }()
		select {
		case err = <-done:
		case <-h.ctx.Done():
			fmt.Fprintln(h.out) // end the line the ^C was echoed on
		}
	} else {
		err = form.RunWithContext(h.ctx)
	}
	if errors.Is(err, huh.ErrUserAborted) || h.ctx.Err() != nil {
		return apikey.Usagef("cancelled")
	}
	if err != nil {
		return apikey.Runtimef("cannot prompt: %v", err)
	}
	return nil
}

// Confirm implements Prompter.
func (h *Huh) Confirm(title, description string) (bool, error) {
	var ok bool
	c := huh.NewConfirm().Title(title).Affirmative("Yes").Negative("No").Value(&ok)
	if description != "" {
		c = c.Description(description)
	}
	return ok, h.run(c)
}

// Input implements Prompter.
func (h *Huh) Input(title, placeholder string, validate func(string) error) (string, error) {
	var v string
	f := huh.NewInput().Title(title).Placeholder(placeholder).Value(&v)
	if validate != nil {
		f = f.Validate(validate)
	}
	if err := h.run(f); err != nil {
		return "", err
	}
	// Accessible mode does not run the validator on the final answer when
	// input ends early; check again so nothing invalid gets through.
	if validate != nil {
		if err := validate(v); err != nil {
			return "", err
		}
	}
	return v, nil
}

// Select implements Prompter.
func (h *Huh) Select(title string, options []Option) (string, error) {
	if len(options) == 0 {
		return "", apikey.Usagef("nothing to choose from for %q", title)
	}
	opts := make([]huh.Option[string], len(options))
	for i, o := range options {
		opts[i] = huh.NewOption(o.Label, o.Value)
	}
	v := options[0].Value
	return v, h.run(huh.NewSelect[string]().Title(title).Options(opts...).Value(&v))
}
