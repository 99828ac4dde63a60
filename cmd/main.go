package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	ExitLeaked   = 6 // scan found secrets
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

// redactSecrets masks whatever in an error message may be one of our secrets,
// typed right or not, since error messages end up in logs and CI output. A
// word (text between spaces and quotes) is secret-shaped where it holds:
//
//   - after an underscore (where a prefix ends), at least 30 letters and
//     digits in runs broken by at most three other characters: a secret with
//     any prefix, cut short or too long by a few characters, or with a
//     mistyped character inside (ak_3f9Q…-…d9x2, the \xff of a bad byte);
//   - anywhere, 40 or more letters and digits in a row: a secret that lost
//     its prefix.
//
// Each such stretch is shown as its first and last four characters around
// "…", like a hint; docs/security.md says why these bounds. Names, UUIDs and
// paths do not have that shape; a name that does is masked too, which is
// the safer mistake.
func redactSecrets(s string) string {
	var b strings.Builder
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && !wordEnd(s[end]) {
			end++
		}
		if end == start {
			b.WriteByte(s[start])
			start++
			continue
		}
		b.WriteString(redactWord(s[start:end]))
		start = end
	}
	return b.String()
}

func wordEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '`'
}

func alnum(r rune) bool { return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// Bounds of redactSecrets. A secret's random part and checksum are 46
// characters; the least of them in a stretch worth masking leaves room for a
// secret cut short by a third, and ordinary snake_case names rarely reach it.
const (
	secretAfterUnderscore = 30
	secretStrays          = 3
	secretBare            = 40
)

// redactWord masks the secret-shaped stretches of one word. It counts
// characters, not bytes, so that a mask never cuts one in two.
func redactWord(word string) string {
	if len(word) < secretAfterUnderscore {
		return word
	}
	w := []rune(word)
	masked := make([]bool, len(w))
	found := false
	mark := func(from, to int) {
		for i := from; i < to; i++ {
			masked[i] = true
		}
		found = true
	}
	for u := range w {
		if w[u] != '_' {
			continue
		}
		// From here on: letters and digits, broken by at most a few other
		// characters. The stretch starts and ends with a letter or digit.
		letters, strays, from, to := 0, 0, -1, 0
		for i := u + 1; i < len(w); i++ {
			if alnum(w[i]) {
				letters++
				if from < 0 {
					from = i
				}
				to = i + 1
				continue
			}
			if strays++; strays > secretStrays {
				break
			}
		}
		if letters >= secretAfterUnderscore {
			mark(from, to)
		}
	}
	for i := 0; i < len(w); {
		j := i
		for j < len(w) && alnum(w[j]) {
			j++
		}
		if j-i >= secretBare {
			mark(i, j)
		}
		i = max(j, i+1)
	}
	if !found {
		return word
	}
	var b strings.Builder
	for i := 0; i < len(w); {
		if !masked[i] {
			b.WriteRune(w[i])
			i++
			continue
		}
		j := i
		for j < len(w) && masked[j] {
			j++
		}
		b.WriteString(string(w[i : i+4]))
		b.WriteString("…")
		b.WriteString(string(w[j-4 : j]))
		i = j
	}
	return b.String()
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
