package apikey

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func testKey(fill byte) []byte { return bytes.Repeat([]byte{fill}, 32) }

func testSealer(t *testing.T, fill byte) *Sealer {
	t.Helper()
	s, err := ParseMasterKey(base64.StdEncoding.EncodeToString(testKey(fill)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseMasterKeyEncodings(t *testing.T) {
	raw := []byte("\xfb\xff\xfe0123456789abcdefghijklmnopq\xff\xfe")
	if len(raw) != 32 {
		t.Fatalf("test key is %d bytes", len(raw))
	}
	for name, enc := range map[string]*base64.Encoding{
		"std": base64.StdEncoding, "raw std": base64.RawStdEncoding,
		"url": base64.URLEncoding, "raw url": base64.RawURLEncoding,
	} {
		text := enc.EncodeToString(raw)
		for _, s := range []string{text, " " + text + "\n"} {
			sealer, err := ParseMasterKey(s)
			if err != nil {
				t.Errorf("%s %q: %v", name, s, err)
				continue
			}
			// Every encoding of the same bytes is the same key.
			sealed, err := sealer.Seal("k", "secret")
			if err != nil {
				t.Fatal(err)
			}
			std, _ := ParseMasterKey(base64.StdEncoding.EncodeToString(raw))
			if got, err := std.Open("k", sealed); err != nil || got != "secret" {
				t.Errorf("%s: sealed copy does not open with the same key in std encoding: %v", name, err)
			}
		}
	}
}

func TestParseMasterKeyRefuses(t *testing.T) {
	for _, s := range []string{
		"", "not base64!", "short",
		base64.StdEncoding.EncodeToString(make([]byte, 31)),
		base64.StdEncoding.EncodeToString(make([]byte, 33)),
		base64.StdEncoding.EncodeToString(make([]byte, 16)),
		strings.Repeat("A", 44) + "==",
	} {
		_, err := ParseMasterKey(s)
		if err == nil {
			t.Errorf("ParseMasterKey(%q) accepted it", s)
			continue
		}
		if KindOf(err) != KindUsage {
			t.Errorf("ParseMasterKey(%q): kind %v, want usage", s, KindOf(err))
		}
		if !strings.Contains(err.Error(), MasterKeyEnv) || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("ParseMasterKey(%q) = %q: should name %s and how to make one", s, err, MasterKeyEnv)
		}
		if s != "" && len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Errorf("ParseMasterKey's error shows the key: %q", err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	s := testSealer(t, 7)
	secret := "ak_" + strings.Repeat("Z", 46)
	a, err := s.Seal("key-a", secret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal("key-a", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two seals of the same secret are equal: the nonce is not fresh")
	}
	if bytes.Contains(a, []byte(secret[3:])) {
		t.Error("sealed copy holds the secret in clear")
	}
	for _, sealed := range [][]byte{a, b} {
		got, err := s.Open("key-a", sealed)
		if err != nil || got != secret {
			t.Fatalf("Open = %q, %v; want the secret", got, err)
		}
	}

	// A wrong master key, another key's id, a tampered or cut copy: refused,
	// without the secret in the error.
	other := testSealer(t, 8)
	tampered := append([]byte{}, a...)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name   string
		sealer *Sealer
		keyID  string
		sealed []byte
		kind   Kind
	}{
		{"wrong master key", other, "key-a", a, KindUsage},
		{"moved to another key", s, "key-b", a, KindUsage},
		{"tampered", s, "key-a", tampered, KindUsage},
		{"cut short", s, "key-a", a[:5], KindRuntime},
		{"empty", s, "key-a", nil, KindRuntime},
	}
	for _, c := range cases {
		got, err := c.sealer.Open(c.keyID, c.sealed)
		if err == nil {
			t.Errorf("%s: opened to %q", c.name, got)
			continue
		}
		if KindOf(err) != c.kind {
			t.Errorf("%s: kind %v, want %v (%v)", c.name, KindOf(err), c.kind, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the secret", c.name)
		}
	}
}
