// Package output prints companies, keys and events as tables, JSON or CSV,
// and renders credential snippets. It never queries the store.
package output

import (
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// Format is how records are printed.
type Format string

const (
	Table Format = "table"
	JSON  Format = "json"
	CSV   Format = "csv"
)

// Formats lists the output formats, for help and completion.
var Formats = []string{string(Table), string(JSON), string(CSV)}

// ParseFormat checks an --output value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case Table, JSON, CSV:
		return Format(s), nil
	}
	return "", apikey.Usagef("invalid output format %q", s).WithHint("use table, json or csv")
}

// Printer prints records in one format to one writer.
type Printer struct {
	Format Format
	Color  bool      // colour statuses (a terminal without NO_COLOR)
	TTY    bool      // times relative to now, for people
	Now    time.Time // what "expired" and relative times are measured against
}

// when is a time in a table: relative to now at a terminal, to keep columns
// narrow, and RFC 3339 UTC for scripts.
func (p *Printer) when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	if p.TTY {
		return relative(p.Now, *t)
	}
	return t.UTC().Format(time.RFC3339)
}

// whenDetail is a time in the fields of one record (show, company show):
// always the date itself, which "3 days ago" alone does not give, and at a
// terminal the relative time beside it while it is near enough to help.
func (p *Printer) whenDetail(t *time.Time) string {
	if t == nil {
		return "never"
	}
	s := t.UTC().Format(time.RFC3339)
	if p.TTY && near(p.Now, *t) {
		s += " (" + relative(p.Now, *t) + ")"
	}
	return s
}

// relativeSpan is how far from now a time is still told relatively; beyond
// it, a date says more than "400 days ago".
const relativeSpan = 60 * 24 * time.Hour

// near reports whether t is within relativeSpan of now. It compares times,
// not their difference: a time.Duration cannot hold the 973 years to an
// expiry in 2999.
func near(now, t time.Time) bool {
	return t.After(now.Add(-relativeSpan)) && t.Before(now.Add(relativeSpan))
}

func relative(now, t time.Time) string {
	if !near(now, t) {
		return t.UTC().Format("2006-01-02")
	}
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	switch {
	case d < time.Minute:
		if suffix == "ago" {
			return "just now"
		}
		return "in less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " " + suffix
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " " + suffix
	}
	return plural(int(d/(24*time.Hour)), "day") + " " + suffix
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return itoa(n) + " " + unit + "s"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

func (p *Printer) status(s apikey.Status) string {
	if !p.Color {
		return string(s)
	}
	switch s {
	case apikey.StatusActive:
		return green + string(s) + reset
	case apikey.StatusInactive:
		return red + string(s) + reset
	}
	return yellow + string(s) + reset
}
