package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
)

// Exit codes of SPEC.md.
const (
	ExitOK       = 0
	ExitRuntime  = 1
	ExitUsage    = 2
	ExitNotFound = 3
	ExitInvalid  = 4
	ExitConflict = 5
)

// Main runs apikey with the process's arguments and streams and returns its
// exit code. It is the only place that decides one.
func Main() int {
	return Run(os.Args[1:], iostreams.System(), lookupEnv)
}

// Run runs apikey with the given arguments, streams and environment.
func Run(args []string, ios *iostreams.IOStreams, env func(string) (string, bool)) int {
	f := NewFactory(ios, env)
	defer f.Close()
	root := NewCmdRoot(f)
	root.SetArgs(args)
	// cobra writes help, usage and __complete answers to these; without them
	// it would use the process's streams and bypass ios.
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	// A first Ctrl-C cancels the command's context: a transaction under way
	// rolls back and the store is left as it was.
	// A second Ctrl-C ends the process at once: the first one unregisters the
	// handler.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	f.ctx = ctx
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	return reportError(ios.ErrOut, err, f.started)
}

// silentError carries an exit code for a failure that has already been
// reported (verify prints its own verdict).
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// secretLike matches what may be a secret pasted where a key id, a name or a
// command was expected (apikey show ak_..., apikey verify ak_...): an
// underscore and 40 or more base62 characters. Ids have dashes and never match.
// It is compiled on first use: only failing commands need it.
var secretLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`_[0-9A-Za-z]{40,}`) })

// redactSecrets masks anything secret-like in an error message down to its
// hint, since error messages end up in logs and CI output.
func redactSecrets(s string) string {
	return secretLike().ReplaceAllStringFunc(s, func(m string) string { return m[:5] + "…" + m[len(m)-4:] })
}

func reportError(w io.Writer, err error, started bool) int {
	var silent silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	msg := redactSecrets(strings.Join(strings.Fields(err.Error()), " "))
	if strings.HasPrefix(msg, "unknown command ") {
		msg += ": see 'apikey --help'"
	}
	fmt.Fprintf(w, "apikey: %s\n", msg)
	var de *apikey.Error
	if !errors.As(err, &de) {
		if !started {
			return ExitUsage // cobra's own: unknown command, flag or argument count
		}
		return ExitRuntime
	}
	switch de.Kind {
	case apikey.KindUsage:
		return ExitUsage
	case apikey.KindNotFound:
		return ExitNotFound
	case apikey.KindInvalid:
		return ExitInvalid
	case apikey.KindConflict:
		return ExitConflict
	}
	return ExitRuntime
}
