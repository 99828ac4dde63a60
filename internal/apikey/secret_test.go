package apikey

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestNewSecretFormat(t *testing.T) {
	for _, prefix := range []string{"ak", "a", "acme_live", "abcdefghijklmnop", "x9_"} {
		s, err := NewSecret(prefix)
		if err != nil {
			t.Fatalf("NewSecret(%q): %v", prefix, err)
		}
		if want := len(prefix) + 1 + 40 + 6; len(s) != want {
			t.Errorf("NewSecret(%q) = %q: length %d, want %d", prefix, s, len(s), want)
		}
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `_[0-9A-Za-z]{46}$`).MatchString(s) {
			t.Errorf("NewSecret(%q) = %q: not <prefix>_<46 base62>", prefix, s)
		}
		if err := CheckSecret(s); err != nil {
			t.Errorf("CheckSecret(%q) = %v for a fresh secret", s, err)
		}
		if len(s) > MaxSecretLen {
			t.Errorf("%q is longer than MaxSecretLen %d", s, MaxSecretLen)
		}
	}
}

func TestNewSecretRefusesBadPrefixes(t *testing.T) {
	for _, prefix := range []string{"", "A", "Ak", "1a", "_a", "a-b", "a b", "abcdefghijklmnopq", "ä"} {
		if s, err := NewSecret(prefix); err == nil {
			t.Errorf("NewSecret(%q) = %q, want an error", prefix, s)
		} else if KindOf(err) != KindUsage {
			t.Errorf("NewSecret(%q): kind %v, want usage", prefix, KindOf(err))
		}
		if ValidatePrefix(prefix) == nil {
			t.Errorf("ValidatePrefix(%q) accepted it", prefix)
		}
	}
}

func TestNewSecretsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s, err := NewSecret("ak")
		if err != nil {
			t.Fatal(err)
		}
		if seen[s] {
			t.Fatalf("secret %q issued twice", s)
		}
		seen[s] = true
	}
}

// TestCheckSecretRejectsEverySingleChange is the point of the checksum: any
// one character mistyped, in the prefix, the separator, the random part or
// the checksum itself, is caught without a store lookup.
func TestCheckSecretRejectsEverySingleChange(t *testing.T) {
	for _, prefix := range []string{"ak", "acme_live"} {
		s, err := NewSecret(prefix)
		if err != nil {
			t.Fatal(err)
		}
		replacements := base62Alphabet + "_-.+/ é"
		changes := 0
		for i := range len(s) {
			for _, r := range replacements {
				c := string(r)
				if c == s[i:i+1] {
					continue
				}
				changed := s[:i] + c + s[i+1:]
				changes++
				if CheckSecret(changed) == nil {
					t.Fatalf("CheckSecret accepted %q, %q with position %d changed to %q", changed, s, i, c)
				}
			}
		}
		for i := range len(s) - 1 {
			if s[i] == s[i+1] {
				continue
			}
			swapped := s[:i] + s[i+1:i+2] + s[i:i+1] + s[i+2:]
			if CheckSecret(swapped) == nil {
				t.Errorf("CheckSecret accepted %q, %q with positions %d and %d swapped", swapped, s, i, i+1)
			}
		}
		if changes < len(s)*60 {
			t.Fatalf("only %d changes tried", changes)
		}
	}
}

func TestCheckSecretRejectsMalformed(t *testing.T) {
	s, err := NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"", "ak_", "ak", "_" + s[3:], s[:len(s)-1], s + "x", s[1:], "x" + s,
		" " + s, s + "\n", strings.ToUpper(s), strings.Replace(s, "_", "-", 1),
		"ak_" + strings.Repeat("0", 46),
		"abcdefghijklmnopq_" + s[3:],
		strings.Repeat("a", 1000),
	} {
		err := CheckSecret(bad)
		if err == nil {
			t.Errorf("CheckSecret(%q) accepted it", bad)
			continue
		}
		if !errors.Is(err, ErrMalformed) || KindOf(err) != KindInvalid {
			t.Errorf("CheckSecret(%q) = %v, want ErrMalformed", bad, err)
		}
		if strings.Contains(err.Error(), s[3:15]) {
			t.Errorf("CheckSecret's error %q shows the secret", err)
		}
	}
}

// TestBase62Uniformity is a sanity check of the rejection sampling: with
// byte%62 and no rejection, the first 8 characters of the alphabet would be
// 25% likelier than the others, and the chi-square statistic would be in
// the hundreds.
func TestBase62Uniformity(t *testing.T) {
	const secrets = 2500
	counts := map[byte]int{}
	for range secrets {
		s, err := NewSecret("ak")
		if err != nil {
			t.Fatal(err)
		}
		random := s[3 : 3+40]
		for i := range len(random) {
			counts[random[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters in random parts, want 62", len(counts))
	}
	expected := float64(secrets*40) / 62
	chi2 := 0.0
	for _, n := range counts {
		d := float64(n) - expected
		chi2 += d * d / expected
	}
	// 61 degrees of freedom: mean 61; above 140 has a probability far below
	// one in a million for a uniform source.
	if chi2 > 140 {
		t.Errorf("chi-square %.1f over 61 degrees of freedom: characters are not uniform: %v", chi2, counts)
	}
}

func TestHintOf(t *testing.T) {
	s, err := NewSecret("acme_live")
	if err != nil {
		t.Fatal(err)
	}
	random := s[len("acme_live_"):]
	want := "acme_live_" + random[:4] + "…" + s[len(s)-4:]
	if got := HintOf(s); got != want {
		t.Errorf("HintOf(%q) = %q, want %q", s, got, want)
	}
	if strings.Contains(HintOf(s), random[:8]) {
		t.Errorf("hint %q shows more than 4 characters of the random part", HintOf(s))
	}
	for _, short := range []string{"", "ak", "ak_1234567", "nounderscore"} {
		if got := HintOf(short); got != "…" {
			t.Errorf("HintOf(%q) = %q, want …", short, got)
		}
	}
}

func TestMintSecret(t *testing.T) {
	secret, m, err := MintSecret("ak", "key-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash != HashSecret(secret) {
		t.Error("material hash is not the hash of the secret")
	}
	if m.Hint != HintOf(secret) {
		t.Errorf("hint %q, want %q", m.Hint, HintOf(secret))
	}
	if m.Sealed != nil {
		t.Error("sealed copy without a master key")
	}
	sealer := testSealer(t, 1)
	secret, m, err = MintSecret("ak", "key-1", sealer)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.Sealed), secret[3:]) {
		t.Error("sealed copy holds the secret in clear")
	}
	got, err := sealer.Open("key-1", m.Sealed)
	if err != nil || got != secret {
		t.Errorf("Open = %q, %v; want the secret", got, err)
	}
	if _, _, err := MintSecret("Bad", "key-1", nil); KindOf(err) != KindUsage {
		t.Errorf("MintSecret with a bad prefix: %v, want a usage error", err)
	}
}
