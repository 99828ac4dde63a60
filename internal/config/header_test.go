package config

import (
	"regexp"
	"strings"
	"testing"
)

// TestHeaderNameIsTheTokenGrammar checks the hand-written check against the
// RFC 9110 token pattern it spells out, for every byte and for lengths
// around the limit.
func TestHeaderNameIsTheTokenGrammar(t *testing.T) {
	re := regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
	cases := []string{"", "X-Api-Key", "X-Company", strings.Repeat("a", 64), strings.Repeat("a", 65), "X Api", "é", "X-Ünï"}
	for b := 0; b < 256; b++ {
		cases = append(cases, string([]byte{byte(b)}), "X"+string([]byte{byte(b)}))
	}
	for _, c := range cases {
		if got, want := headerName(c), re.MatchString(c); got != want {
			t.Errorf("headerName(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}
