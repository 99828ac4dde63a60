package apikey

import (
	"regexp"
	"testing"
)

// TestValidPrefixIsTheDocumentedPattern checks the hand-written check
// against the pattern it spells out, on every string of up to three
// characters over an alphabet of edge cases and on longer ones.
func TestValidPrefixIsTheDocumentedPattern(t *testing.T) {
	re := regexp.MustCompile(`^[a-z][a-z0-9_]{0,15}$`)
	alphabet := []string{"a", "z", "0", "9", "_", "A", "-", " ", "é", "`", "{", "/", ":", "\n"}
	cases := []string{"", "ak", "a234567890123456", "a2345678901234567", "ak_", "ak_live_2", "Ak", "ak\n", "a\x00"}
	for _, x := range alphabet {
		cases = append(cases, x)
		for _, y := range alphabet {
			cases = append(cases, x+y)
			for _, z := range alphabet {
				cases = append(cases, x+y+z)
			}
		}
	}
	for _, c := range cases {
		if got, want := validPrefix(c), re.MatchString(c); got != want {
			t.Errorf("validPrefix(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}
