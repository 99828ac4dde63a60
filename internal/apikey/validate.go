package apikey

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits on what users may type. Names are shown in tables and put in snippet
// comments, so they are kept to one printable line of reasonable length.
const (
	MaxNameLen  = 200
	MaxRefLen   = 100
	MaxScopeLen = 100
	MaxScopes   = 100
	MaxMetaKey  = 100
	MaxMetaVal  = 1000
	MaxMeta     = 50
)

// checkText validates a free-text value of the given label: valid UTF-8, no
// control characters, no leading or trailing space, not blank, at most max runes.
func checkText(label, s string, max int) error {
	if blank(s) {
		return Usagef("%s must not be empty", label)
	}
	if !utf8.ValidString(s) {
		return Usagef("%s is not valid UTF-8", label)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return Usagef("%s is too long (%d characters)", label, n).WithHint("at most " + itoa(max))
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) && r != '\u200d' {
			return Usagef("%s must not contain control characters", label)
		}
	}
	if s != strings.TrimSpace(s) {
		return Usagef("%s must not start or end with spaces", label)
	}
	return nil
}

// blank reports whether s shows nothing: only spaces and characters that
// are invisible by definition (format characters such as zero-width spaces
// and joiners, variation selectors, fillers such as U+3164). A value made of
// them would read as empty in a table yet differ from every other.
func blank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) && !unicode.Is(unicode.Variation_Selector, r) {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// ValidateCompanyName checks a company name.
func ValidateCompanyName(s string) error { return checkText("company name", s, MaxNameLen) }

// ValidateRef checks a company's external identifier.
func ValidateRef(s string) error { return checkText("ref", s, MaxRefLen) }

// ValidateKeyName checks a key name.
func ValidateKeyName(s string) error { return checkText("key name", s, MaxNameLen) }

// ValidateActor checks who the audit trail records (--actor, APIKEY_ACTOR,
// config actor, else the operating-system user): it is printed in tables and
// CSV like a name, so it is held to the same rules.
func ValidateActor(s string) error { return checkText("actor", s, MaxNameLen) }

// ValidateScopes checks a list of scopes: each a non-empty token without spaces.
func ValidateScopes(scopes []string) error {
	if len(scopes) > MaxScopes {
		return Usagef("too many scopes (%d)", len(scopes)).WithHint("at most " + itoa(MaxScopes))
	}
	for _, s := range scopes {
		if err := checkText("scope", s, MaxScopeLen); err != nil {
			return err
		}
		if strings.ContainsAny(s, " \t,") {
			return Usagef("scope %q must not contain spaces or commas", s)
		}
	}
	return nil
}

// ParseMeta parses K=V pairs into a map. An empty value deletes the key when
// the map is applied as an update.
func ParseMeta(pairs []string) (map[string]string, error) {
	if len(pairs) > MaxMeta {
		return nil, Usagef("too many metadata entries (%d)", len(pairs)).WithHint("at most " + itoa(MaxMeta))
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, Usagef("invalid metadata %q", p).WithHint("use KEY=VALUE")
		}
		if err := checkText("metadata key", k, MaxMetaKey); err != nil {
			return nil, err
		}
		if v != "" {
			if err := checkText("metadata value", v, MaxMetaVal); err != nil {
				return nil, err
			}
		}
		m[k] = v
	}
	return m, nil
}

// Fold is the form under which names, refs and searches compare: Unicode
// case folding of the composed (NFC) form, so that "ÜBER", "über" and an
// "über" typed with a combining diaeresis are one name, and "STRASSE"
// matches "Straße", on every database engine alike. It is computed here,
// never by a database, whose lower() may know only ASCII or depend on a
// locale.
func Fold(s string) string {
	// A Caser keeps state: one per call.
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(s)))
}

// NameKey is the form of a company name under which uniqueness is checked.
func NameKey(name string) string { return Fold(name) }

// ValidateMetadata checks a key's metadata as a whole, as ParseMeta checks
// what a user types: a file being imported holds a map, not K=V pairs.
func ValidateMetadata(m map[string]string) error {
	if len(m) > MaxMeta {
		return Usagef("too many metadata entries (%d)", len(m)).WithHint("at most " + itoa(MaxMeta))
	}
	for k, v := range m {
		if err := checkText("metadata key", k, MaxMetaKey); err != nil {
			return err
		}
		if err := checkText("metadata value", v, MaxMetaVal); err != nil {
			return err
		}
	}
	return nil
}

// ValidateHint checks a key's hint as a file being imported gives it: it
// is printed wherever the key is, like a name.
func ValidateHint(s string) error { return checkText("hint", s, 100) }

// ValidateAction checks an action of the audit trail as a file being
// imported gives it: words of lower-case letters, digits and underscores,
// joined by dots (key.create, store.import).
func ValidateAction(s string) error {
	ok := len(s) > 0 && len(s) <= 64 && s[0] >= 'a' && s[0] <= 'z' && s[len(s)-1] != '.'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' && s[i-1] != '.'
	}
	if !ok {
		return Usagef("invalid action %q", s).WithHint("an action is words of a-z, 0-9 and _ joined by dots, like key.create")
	}
	return nil
}
