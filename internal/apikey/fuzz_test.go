package apikey

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzCheckSecret: no input makes CheckSecret panic; what it accepts has the
// form of a secret; and a minted secret is accepted while any one-character
// change of it is refused by the checksum alone.
func FuzzCheckSecret(f *testing.F) {
	for _, p := range []string{"ak", "acme", "a", "x_y_z", "abcdefghijklmnop"} {
		s, err := NewSecret(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s, 3, byte('A'))
	}
	f.Add("", 0, byte(0))
	f.Add("ak_", 1, byte('_'))
	f.Add(strings.Repeat("a", MaxSecretLen+1), 5, byte('z'))
	f.Add("AK_3f9QmZ1cW0pTq7Lr2VbXn8Ke4HsYd6Jf1Ga5Uc0Md9x2Q4kA7b", 2, byte('\xff'))
	f.Fuzz(func(t *testing.T, s string, pos int, c byte) {
		err := CheckSecret(s)
		if err == nil {
			if len(s) > MaxSecretLen || !utf8.ValidString(s) || strings.ContainsAny(s, " \r\n\t") {
				t.Fatalf("accepted %q", s)
			}
			// Any single change of an accepted secret must be refused.
			if pos < 0 {
				pos = -pos
			}
			i := pos % len(s)
			if s[i] != c {
				changed := s[:i] + string([]byte{c}) + s[i+1:]
				// CRC32 detects every burst of up to 32 bits, so no single-byte
				// change of the checked part gets through, and a change of the
				// checksum itself no longer matches.
				if CheckSecret(changed) == nil {
					t.Fatalf("a one-character change of %q was accepted: %q", s, changed)
				}
			}
			if h := HintOf(s); !strings.HasPrefix(s, strings.SplitN(h, "…", 2)[0]) {
				t.Fatalf("hint %q does not start the secret", h)
			}
		} else if KindOf(err) != KindInvalid {
			t.Fatalf("CheckSecret(%q) error of kind %v", s, KindOf(err))
		}
	})
}

// FuzzParseWhen: no input makes the parsers panic; an accepted time is UTC,
// and an accepted expiry lies in the future and before year 10000.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"90d", "12h", "2w", "1y", "1h30m", "2027-01-31", "2027-01-31T10:00:00+02:00", "-5d", "0s",
		"999999999y", "9223372036854775807ns", "2027-02-30", "", " 90d", "90D", "1e9h", "P1D"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		} else if err != nil && KindOf(err) != KindUsage {
			t.Fatalf("ParseDuration(%q): error of kind %v", s, KindOf(err))
		}
		if w, err := ParseWhen(s, now); err == nil && w.Location() != time.UTC {
			t.Fatalf("ParseWhen(%q) not UTC", s)
		}
		if e, err := ParseExpiry(s, now); err == nil {
			if !e.After(now) || e.Year() > 9999 {
				t.Fatalf("ParseExpiry(%q) = %v accepted", s, e)
			}
		} else if KindOf(err) != KindUsage {
			t.Fatalf("ParseExpiry(%q): error of kind %v", s, KindOf(err))
		}
	})
}

// FuzzValidate: validation never panics, and what it accepts can be shown on
// one line and in a header comment.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"Acme", "", " ", "a\nb", "Müller 株式会社", "x\u202e", "\xff", strings.Repeat("é", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateKeyName(s) == nil {
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\t\x00\x1b") || strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > MaxNameLen {
				t.Fatalf("accepted %q", s)
			}
		}
		_, _ = ParseMeta([]string{s})
		_ = ValidateScopes([]string{s})
	})
}
