package apikey

import (
	"math"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// durationPattern is compiled on first use, not at start-up: most commands
// never read a duration, and every command pays for what init does.
var durationPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+)(s|m|h|d|w|y)$`) })

var durationUnits = map[string]time.Duration{
	"s": time.Second,
	"m": time.Minute,
	"h": time.Hour,
	"d": 24 * time.Hour,
	"w": 7 * 24 * time.Hour,
	"y": 365 * 24 * time.Hour,
}

// ParseDuration reads a duration as users write it: 90d, 12h, 2w, 1y, or any
// Go duration (1h30m). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	if m := durationPattern().FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := durationUnits[m[2]]
		if err != nil || n > math.MaxInt64/int64(unit) {
			return 0, Usagef("duration %q is too long", s)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Usagef("invalid duration %q", s).WithHint("use e.g. 90d, 12h, 2w or 1h30m")
	}
	if d < 0 {
		return 0, Usagef("duration %q is negative", s)
	}
	return d, nil
}

// ParseWhen reads a point in time given as a duration from now (90d) or a date
// (2027-01-31, midnight UTC) or an RFC 3339 time.
func ParseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	d, err := ParseDuration(s)
	if err != nil && durationPattern().MatchString(s) {
		return time.Time{}, err
	}
	if err != nil {
		if durationPattern().MatchString(s) { // well formed, only too long
			return time.Time{}, err
		}
		return time.Time{}, Usagef("invalid time %q", s).WithHint("use a duration (90d, 12h, 2w) or a date (2027-01-31, RFC 3339)")
	}
	t := now.Add(d)
	if t.Before(now) { // overflow
		return time.Time{}, Usagef("duration %q is too long", s)
	}
	return t.UTC(), nil
}

// ParseExpiry reads an --expires value, which must lie in the future.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	t, err := ParseWhen(s, now)
	if err != nil {
		return t, err
	}
	if !t.After(now) {
		return time.Time{}, Usagef("expiry %q is not in the future", s)
	}
	if t.Year() > 9999 {
		return time.Time{}, Usagef("expiry %q is too far in the future", s)
	}
	return t, nil
}
