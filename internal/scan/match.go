package scan

import (
	"bytes"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// The shape of a secret (internal/apikey/secret.go): a prefix of
// [a-z][a-z0-9_]{0,15}, an underscore, 40 random and 6 checksum characters
// of base62.
const (
	bodyLen      = 46
	maxPrefixLen = 16
)

var isBase62, isPrefixChar = func() (b62, prefix [256]bool) {
	for c := '0'; c <= '9'; c++ {
		b62[c], prefix[c] = true, true
	}
	for c := 'a'; c <= 'z'; c++ {
		b62[c], prefix[c] = true, true
	}
	for c := 'A'; c <= 'Z'; c++ {
		b62[c] = true
	}
	prefix['_'] = true
	return b62, prefix
}()

// find calls fn with the start and end in b of each secret whose
// underscore (the one before its random part) is at from or after, and
// whose checksum is valid. It returns where to resume once more text
// follows b: the first underscore whose secret would end past b, else
// len(b). The prefix of a secret may start before from.
//
// It looks for underscores with bytes.IndexByte, which is vectorised, and
// gives up on one at the first character that cannot be part of a random
// part: most underscores in text (snake_case) fail within a few bytes. For
// the 46 base62 characters that follow an underscore, every prefix that
// ends there is tried, the longest first: "xak_…" tries "xak", then "ak".
// Any prefix of the allowed form counts, not only the configured one, so
// that keys issued under an earlier key_prefix, or by another apikey
// installation, are found too. The checksum (32 bits of CRC) decides: a
// random string passes with a chance of one in 5·10^10 per prefix tried.
func find(b []byte, from int, fn func(start, end int, secret string)) int {
	i := from
	for {
		j := bytes.IndexByte(b[i:], '_')
		if j < 0 {
			return len(b)
		}
		u := i + j
		end := u + 1 + bodyLen
		if end > len(b) {
			return u
		}
		k := u + 1
		for k < end && isBase62[b[k]] {
			k++
		}
		if k < end {
			// b[k] may be the next underscore: none lies between u and k.
			i = k
			continue
		}
		i = u + 1
		lo := u
		for lo > 0 && u-lo < maxPrefixLen && isPrefixChar[b[lo-1]] {
			lo--
		}
		if lo == u {
			continue
		}
		// One string per candidate, of which each prefix tried is a
		// substring: candidates are rare in text, and CheckSecret wants a
		// string.
		cand := string(b[lo:end])
		for s := lo; s < u; s++ {
			if b[s] < 'a' || b[s] > 'z' {
				continue
			}
			if secret := cand[s-lo:]; apikey.CheckSecret(secret) == nil {
				fn(s, end, secret)
				// A random part holds no underscore.
				i = end
				break
			}
		}
	}
}
