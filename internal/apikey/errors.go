// Package apikey is the domain of apikey: companies, keys, events, the secret
// format, validation of what users type, and the typed errors that the command
// layer maps to exit codes.
package apikey

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the user should do about it; each kind has
// its own exit code (see cmd.Main).
type Kind int

const (
	KindRuntime  Kind = iota // store or I/O failure: exit 1
	KindUsage                // bad flag, bad value, refused confirmation: exit 2
	KindNotFound             // unknown company or key: exit 3
	KindInvalid              // verification failed: exit 4
	KindConflict             // duplicate name or ref, company still owns keys: exit 5
)

// Error is an error a user can act on. Msg never contains a secret.
type Error struct {
	Kind Kind
	Msg  string
	Hint string // optional: what to do about it
	Err  error  // optional: the underlying cause, never shown
}

func (e *Error) Error() string {
	if e.Hint != "" {
		return e.Msg + ": " + e.Hint
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// WithHint returns a copy of e with hint set.
func (e *Error) WithHint(hint string) *Error {
	c := *e
	c.Hint = hint
	return &c
}

func newError(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Usagef reports a bad flag or value (exit 2).
func Usagef(format string, args ...any) *Error { return newError(KindUsage, format, args...) }

// NotFoundf reports an unknown company or key (exit 3).
func NotFoundf(format string, args ...any) *Error { return newError(KindNotFound, format, args...) }

// Conflictf reports a duplicate or a refused deletion (exit 5).
func Conflictf(format string, args ...any) *Error { return newError(KindConflict, format, args...) }

// Runtimef reports a failure of the store or of I/O (exit 1).
func Runtimef(format string, args ...any) *Error { return newError(KindRuntime, format, args...) }

// KindOf returns the kind of err, KindRuntime when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindRuntime
}
