package apikey

import (
	"hash/crc32"
	"regexp"
	"strings"
	"testing"
)

// The table-driven checks of CheckSecret must agree with the definitions
// they replace: the prefix pattern and crc32.ChecksumIEEE.
func TestCheckSecretAgreesWithTheFormat(t *testing.T) {
	pattern := regexp.MustCompile(`^[a-z][a-z0-9_]{0,15}$`)
	for _, p := range []string{"", "a", "ak", "z9_", "acme_live", "a234567890123456", "a2345678901234567", "Ak", "9a", "_a", "a-b", "añ", "a b"} {
		if got, want := validPrefix(p), pattern.MatchString(p); got != want {
			t.Errorf("validPrefix(%q) = %v, pattern says %v", p, got, want)
		}
	}
	for i := range 300 {
		s, err := NewSecret("ak")
		if err != nil {
			t.Fatal(err)
		}
		prefix := s[:i%len(s)]
		v := crc32.ChecksumIEEE([]byte(prefix))
		var want [checksumLen]byte
		for j := checksumLen - 1; j >= 0; j-- {
			want[j] = base62Alphabet[v%62]
			v /= 62
		}
		if got := checksumOf(prefix); got != want {
			t.Fatalf("checksumOf(%q) = %s, want %s", prefix, got[:], want[:])
		}
		if CheckSecret(s) != nil {
			t.Fatalf("CheckSecret refuses a new secret %q", s)
		}
		// Every one-character change is caught.
		for j := range len(s) {
			for _, c := range []byte{'a', 'Z', '0', '_', '-', 0xc3} {
				if c == s[j] {
					continue
				}
				if bad := s[:j] + string(c) + s[j+1:]; CheckSecret(bad) == nil {
					t.Fatalf("CheckSecret accepts %q, a change of %q", bad, s)
				}
			}
		}
	}
	if CheckSecret("acme_live_"+strings.Repeat("a", 46)) == nil {
		t.Error("a bad checksum passed")
	}
	if HashSecret("ak_x") != HashSecret(strings.Clone("ak_x")) || HashSecret(strings.Repeat("a", 500)) == HashSecret(strings.Repeat("a", 499)) {
		t.Error("HashSecret is not a function of its input")
	}
}

func BenchmarkCheckSecret(b *testing.B) {
	s, _ := NewSecret("ak")
	b.ReportAllocs()
	for b.Loop() {
		if CheckSecret(s) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkHashSecret(b *testing.B) {
	s, _ := NewSecret("ak")
	b.ReportAllocs()
	for b.Loop() {
		HashSecret(s)
	}
}
