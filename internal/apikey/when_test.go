package apikey

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string // substring of the error; "" for success
	}{
		{"90d", 90 * day, ""},
		{"12h", 12 * time.Hour, ""},
		{"2w", 14 * day, ""},
		{"1y", 365 * day, ""},
		{"30s", 30 * time.Second, ""},
		{"5m", 5 * time.Minute, ""},
		{"0", 0, ""},
		{"0d", 0, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"292y", 292 * 365 * day, ""},
		{"-1h", 0, "negative"},
		{"-5d", 0, "invalid duration"},
		{"99999999999d", 0, "too long"},
		{"9000y", 0, "too long"},
		{"99999999999999999999999s", 0, "too long"},
		{"", 0, "invalid duration"},
		{"d", 0, "invalid duration"},
		{"90", 0, "invalid duration"},
		{"90D", 0, "invalid duration"},
		{" 90d", 0, "invalid duration"},
		{"90 d", 0, "invalid duration"},
		{"+5d", 0, "invalid duration"},
		{"1e3d", 0, "invalid duration"},
		{"forever", 0, "invalid duration"},
	} {
		got, err := ParseDuration(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseDuration(%q): %v", c.in, err)
		case c.err == "" && got != c.want:
			t.Errorf("ParseDuration(%q) = %v, want %v", c.in, got, c.want)
		case c.err != "" && err == nil:
			t.Errorf("ParseDuration(%q) = %v, want an error with %q", c.in, got, c.err)
		case c.err != "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("ParseDuration(%q) = %v, want an error with %q", c.in, err, c.err)
		case c.err != "" && KindOf(err) != KindUsage:
			t.Errorf("ParseDuration(%q): kind %v, want usage", c.in, KindOf(err))
		}
	}
}

var testNow = time.Date(2026, 3, 15, 12, 30, 0, 0, time.FixedZone("CET", 3600))

func TestParseWhen(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"90d", testNow.Add(90 * 24 * time.Hour).UTC(), ""},
		{"1h30m", testNow.Add(90 * time.Minute).UTC(), ""},
		{"0s", testNow.UTC(), ""},
		{"2027-01-31", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), ""},
		{"2020-01-01", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2027-01-31T10:00:00Z", time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC), ""},
		{"2027-01-31T10:00:00+02:00", time.Date(2027, 1, 31, 8, 0, 0, 0, time.UTC), ""},
		{"2027-01-31T10:00:00.5-03:30", time.Date(2027, 1, 31, 13, 30, 0, 5e8, time.UTC), ""},
		{"2027-13-01", time.Time{}, "invalid time"},
		{"2027-02-30", time.Time{}, "invalid time"},
		{"31/01/2027", time.Time{}, "invalid time"},
		{"2027-01-31 10:00", time.Time{}, "invalid time"},
		{"tomorrow", time.Time{}, "invalid time"},
		{"-5d", time.Time{}, "invalid time"},
		{"", time.Time{}, "invalid time"},
		{"99999999999d", time.Time{}, "too long"},
		{"292y", testNow.Add(292 * 365 * 24 * time.Hour).UTC(), ""},
	} {
		got, err := ParseWhen(c.in, testNow)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseWhen(%q): %v", c.in, err)
		case c.err == "" && !got.Equal(c.want):
			t.Errorf("ParseWhen(%q) = %v, want %v", c.in, got, c.want)
		case c.err == "" && got.Location() != time.UTC:
			t.Errorf("ParseWhen(%q) = %v, not in UTC", c.in, got)
		case c.err != "" && err == nil:
			t.Errorf("ParseWhen(%q) = %v, want an error with %q", c.in, got, c.err)
		case c.err != "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("ParseWhen(%q) = %v, want an error with %q", c.in, err, c.err)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	for _, c := range []struct {
		in  string
		err string
	}{
		{"90d", ""},
		{"1s", ""},
		{"2099-12-31", ""},
		{"9999-12-31T23:59:59Z", ""},
		{"0s", "not in the future"},
		{"0d", "not in the future"},
		{"2020-01-01", "not in the future"},
		{"2026-03-15T11:30:00Z", "not in the future"}, // testNow itself, in UTC
		{"2026-03-15", "not in the future"},
		{"10000-01-01", "invalid time"},
		{"200y", ""},
		{"99999999999d", "too long"},
		{"-1d", "invalid time"},
	} {
		got, err := ParseExpiry(c.in, testNow)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseExpiry(%q): %v", c.in, err)
		case c.err == "" && !got.After(testNow):
			t.Errorf("ParseExpiry(%q) = %v, not after now", c.in, got)
		case c.err != "" && err == nil:
			t.Errorf("ParseExpiry(%q) = %v, want an error with %q", c.in, got, c.err)
		case c.err != "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("ParseExpiry(%q) = %v, want an error with %q", c.in, err, c.err)
		case c.err != "" && KindOf(err) != KindUsage:
			t.Errorf("ParseExpiry(%q): kind %v, want usage", c.in, KindOf(err))
		}
	}
}
