package apikey

import (
	"strings"
	"testing"
)

func TestLegacySecrets(t *testing.T) {
	good, err := NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	typo := good[:len(good)-1] + map[bool]string{true: "0", false: "1"}[good[len(good)-1] != '0']
	for _, tc := range []struct {
		secret           string
		shape, candidate bool
		valid            string // "" when ValidateLegacySecret accepts it
	}{
		{good, true, false, ""},
		{typo, true, false, "the form of an apikey secret but not its checksum"},
		{"sk_live_0123456789abcdef", false, true, ""},
		{"0123456789abcdef", false, true, ""},
		{"0123456789abcde", false, false, "too short (15 characters)"},
		{strings.Repeat("x", 256), false, true, ""},
		{strings.Repeat("x", 257), false, false, "too long (257 characters)"},
		{"has a space 0000000", false, false, "holds a space"},
		{"tab\there-000000000", false, false, "holds a space"},
		{"ünïcödé-0000000000", false, false, "not printable ASCII"},
		{"", false, false, "empty"},
	} {
		if got := HasSecretShape(tc.secret); got != tc.shape {
			t.Errorf("HasSecretShape(%q) = %v", tc.secret, got)
		}
		if got := LegacyCandidate(tc.secret); got != tc.candidate {
			t.Errorf("LegacyCandidate(%q) = %v", tc.secret, got)
		}
		err := ValidateLegacySecret(tc.secret)
		switch {
		case tc.valid == "" && err != nil:
			t.Errorf("ValidateLegacySecret(%q): %v", tc.secret, err)
		case tc.valid != "" && (err == nil || !strings.Contains(err.Error(), tc.valid)):
			t.Errorf("ValidateLegacySecret(%q): %v, want %q", tc.secret, err, tc.valid)
		case err != nil && len(tc.secret) > 4 && strings.Contains(err.Error(), tc.secret):
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}

func TestLegacyHint(t *testing.T) {
	for secret, want := range map[string]string{
		"0123456789abcdef":                 "01…ef",
		"sk_live_0123456789abcdef":         "sk_…def",
		"sk_live_0123456789abcdef01234567": "sk_l…4567",
		strings.Repeat("x", 200) + "tail":  "xxxx…tail",
	} {
		if got := LegacyHint(secret); got != want {
			t.Errorf("LegacyHint(%q) = %q, want %q", secret, got, want)
		}
	}
	m := LegacyMaterial("0123456789abcdef")
	if m.Hash != HashSecret("0123456789abcdef") || !m.Legacy || m.Sealed != nil || m.Hint != "01…ef" {
		t.Errorf("material %+v", m)
	}
}

func TestValidateAction(t *testing.T) {
	for _, ok := range []string{"key.create", "store.import", "a", "x_y.z9"} {
		if err := ValidateAction(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Key.create", "key..create", "key.", ".key", "key create", strings.Repeat("a", 65), "9key"} {
		if ValidateAction(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
