package postgres

import (
	"errors"
	"net"
	"strings"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/jackc/pgx/v5/pgconn"
)

// translate turns a driver error into a one-line error a user can act on,
// naming the store by its URL without the password. Errors that are already
// the domain's pass through.
func (e *Engine) translate(err error) error {
	if err == nil {
		return nil
	}
	if settled, ok := engine.Settled(err); ok {
		return settled
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return e.serverError(pe, err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return &apikey.Error{Kind: apikey.KindRuntime, Msg: "cannot connect to " + e.where, Hint: e.hide(connectProblem(ce)), Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || pgconn.SafeToRetry(err) || errors.Is(err, net.ErrClosed) {
		return &apikey.Error{Kind: apikey.KindRuntime, Msg: "lost the connection to " + e.where, Hint: "try again", Err: err}
	}
	return &apikey.Error{Kind: apikey.KindRuntime, Msg: e.where + ": " + e.hide(firstLine(err.Error())), Err: err}
}

// serverError translates an error the server sent, by its SQLSTATE.
func (e *Engine) serverError(pe *pgconn.PgError, err error) error {
	wrap := func(kind apikey.Kind, msg, hint string) error {
		return &apikey.Error{Kind: kind, Msg: msg, Hint: e.hide(hint), Err: err}
	}
	switch {
	case pe.Code == "23505" || pe.Code == "23503": // unique_violation, foreign_key_violation
		return wrap(apikey.KindConflict, "conflicting change", "another change was made at the same time; try again")
	case pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03": // serialization, deadlock, lock_not_available
		return wrap(apikey.KindRuntime, e.where+" is busy", "another process held it too long; try again")
	case pe.Code == "42501": // insufficient_privilege
		return wrap(apikey.KindRuntime, "permission denied on "+e.where, pe.Message+"; see docs/scaling.md for the roles apikey needs")
	case pe.Code == "25006": // read_only_sql_transaction: a standby
		return wrap(apikey.KindRuntime, e.where+" is read-only", "connect to the primary server")
	case pe.Code == "3D000": // invalid_catalog_name
		return wrap(apikey.KindRuntime, "cannot connect to "+e.where, pe.Message)
	case pe.Code == "42P01": // undefined_table
		return wrap(apikey.KindRuntime, e.where+" holds no apikey store", "check --db or APIKEY_DB")
	case strings.HasPrefix(pe.Code, "28"): // invalid authorization
		return wrap(apikey.KindRuntime, "cannot connect to "+e.where, pe.Message)
	case strings.HasPrefix(pe.Code, "53"): // insufficient resources
		return wrap(apikey.KindRuntime, e.where+" cannot take the request", pe.Message)
	case strings.HasPrefix(pe.Code, "57"), strings.HasPrefix(pe.Code, "08"): // operator intervention, connection exception
		return wrap(apikey.KindRuntime, "lost the connection to "+e.where, pe.Message)
	}
	return wrap(apikey.KindRuntime, e.where+": "+firstLine(pe.Message), "")
}

// connectProblem is why a connection failed, without pgx's preamble (which
// names the user and database the URL already shows).
func connectProblem(ce *pgconn.ConnectError) string {
	inner := errors.Unwrap(ce)
	if inner == nil {
		return "no reason given"
	}
	var pe *pgconn.PgError
	if errors.As(inner, &pe) {
		return pe.Message
	}
	msg := inner.Error()
	// "127.0.0.1:5432 (127.0.0.1): dial error: dial tcp ...: connect: connection refused"
	if i := strings.LastIndex(msg, ": "); i >= 0 && !strings.Contains(msg[i:], "server error") {
		msg = msg[i+2:]
	}
	return firstLine(msg)
}

func (e *Engine) hide(msg string) string { return hideSecret(msg, e.secret) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
