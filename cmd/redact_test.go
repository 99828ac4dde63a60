package cmd

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// TestRedactSecrets pins down what "shaped like a secret" means in an error:
// real secrets with any prefix, and the near misses a user pastes or types
// (a character changed, dropped, added or foreign, the prefix lost), are
// masked; ids, names and paths are not.
func TestRedactSecrets(t *testing.T) {
	real, err := apikey.NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	custom, err := apikey.NewSecret("acme_live_eu")
	if err != nil {
		t.Fatal(err)
	}
	body := real[3:]
	masked := []string{
		real,
		custom,
		"ak_" + body[:20] + "-" + body[21:], // a typo that is not base62
		"ak_" + body[:20] + "." + body[20:], // a character too many
		"ak_" + body[:10] + "/" + body[11:30] + "+" + body[31:],
		"ak_" + body[:20] + "\\xff" + body[21:], // a bad byte, as %q shows it
		"ak_" + body[:20] + "…" + body[21:],
		"ak_" + body[:36],    // cut short by ten
		"ak_" + body[:30],    // cut short by a third
		"ak_" + body + "XYZ", // too long
		body,                 // the prefix lost
		"ak-" + body,         // the underscore mistyped
		"AK_" + body,         // the prefix in capitals
		"ak__" + body,        // an underscore too many
		"APIKEY_KEY=" + real, // in an assignment
		"https://x.test/?key=" + real,
		"acme_live_" + body[:20] + "-" + body[21:],
	}
	for _, s := range masked {
		for _, msg := range []string{s, `key "` + s + `" not found`, "unknown command " + s + ": see 'apikey --help'"} {
			got := redactSecrets(msg)
			if strings.Contains(got, body[8:20]) || strings.Contains(got, body[20:32]) || strings.Contains(got, body[30:42]) {
				t.Errorf("redactSecrets(%q) = %q: shows the middle of the secret", msg, got)
			}
			if !utf8.ValidString(got) && utf8.ValidString(msg) {
				t.Errorf("redactSecrets(%q) = %q: not UTF-8", msg, got)
			}
			if !strings.Contains(got, "…") {
				t.Errorf("redactSecrets(%q) = %q: nothing masked", msg, got)
			}
		}
	}
	if got, want := redactSecrets(`key "`+real+`" not found`), `key "ak_`+body[:4]+"…"+body[42:]+`" not found`; got != want {
		t.Errorf("a real secret is masked to %q, want its hint %q", got, want)
	}

	kept := []string{
		`key "23aee342-eccd-4fed-8553-7eb6092cea70" not found`,
		`key reference "abcd" is ambiguous: it matches abcd1111-0000-4000-8000-000000000001 (one, Acme Inc), abcd2222-0000-4000-8000-000000000002 (two, Globex)`,
		`key "billing_sync_production_europe_west1" not found`,
		`invalid key_prefix "Acme" (from APIKEY_KEY_PREFIX): it must match [a-z][a-z0-9_]{0,15}`,
		`cannot open /home/someone/.local/share/apikey/apikey.db: permission denied`,
		`key "ak_` + body[:4] + `…` + body[42:] + `" was disabled`, // a hint
		`company "Müller & Söhne 株式会社" not found`,
		"ak_" + body[:20], // too little of a secret to matter
	}
	for _, msg := range kept {
		if got := redactSecrets(msg); got != msg {
			t.Errorf("redactSecrets(%q) = %q, want it unchanged", msg, got)
		}
	}
}
