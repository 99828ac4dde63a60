package apikey

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidateNames(t *testing.T) {
	for _, c := range []struct {
		in  string
		err string // "" for valid
	}{
		{"Acme", ""},
		{"PLAN PRUEBA II", ""},
		{"Müller & Söhne 株式会社", ""},
		{`O'Brien "Quoted" <Ltd>`, ""},
		{"Robert'); DROP TABLE companies; --", ""},
		{"👩‍💻 Devs", ""}, // the zero-width joiner of an emoji is allowed
		{"100%_off", ""},
		{"-", ""},
		{strings.Repeat("x", 200), ""},
		{strings.Repeat("ü", 200), ""},
		{"", "must not be empty"},
		{"   ", "must not be empty"},
		{"\t", "must not be empty"},
		{" Acme", "must not start or end with spaces"},
		{"Acme ", "must not start or end with spaces"},
		{"Acme\u00a0", "must not start or end with spaces"},
		{strings.Repeat("x", 201), "too long (201 characters): at most 200"},
		{strings.Repeat("ü", 201), "too long (201 characters)"},
		{"Acme\nEvil", "control characters"},
		{"Acme\rEvil", "control characters"},
		{"Acme\tInc", "control characters"},
		{"Acme\x00", "control characters"},
		{"Acme\x1b[31m", "control characters"},
		{"Acme\u0085", "control characters"},
		{"Acme\u2028", "control characters"},
		{"Acme\u2029", "control characters"},
		{"Ac\u200bme", "control characters"},
		{"Acme\u202egnp.exe", "control characters"},
		{"\ufeffAcme", "control characters"},
		{"Acme\xff", "not valid UTF-8"},
		{"\xc3\x28", "not valid UTF-8"},
		// Nothing visible: zero-width characters, fillers, variation
		// selectors, alone or with spaces, read as empty in a table.
		{"\u200b", "must not be empty"},
		{"\u200d", "must not be empty"},
		{"\u2060\ufeff", "must not be empty"},
		{" \u200d ", "must not be empty"},
		{"\u3164", "must not be empty"},
		{"\ufe0f", "must not be empty"},
		{"\u00ad", "must not be empty"},
		{"\u0099", "control characters"},
		{"ops\u202d", "control characters"},
	} {
		for name, validate := range map[string]func(string) error{
			"company name": ValidateCompanyName,
			"key name":     ValidateKeyName,
			"actor":        ValidateActor,
		} {
			err := validate(c.in)
			switch {
			case c.err == "" && err != nil:
				t.Errorf("%s %q: %v", name, c.in, err)
			case c.err != "" && err == nil:
				t.Errorf("%s %q accepted, want %q", name, c.in, c.err)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Errorf("%s %q: %v, want %q", name, c.in, err, c.err)
			case c.err != "" && !strings.HasPrefix(err.Error(), name):
				t.Errorf("%s %q: %q does not say what was wrong", name, c.in, err)
			case c.err != "" && KindOf(err) != KindUsage:
				t.Errorf("%s %q: kind %v, want usage", name, c.in, KindOf(err))
			}
		}
	}
}

func TestValidateRef(t *testing.T) {
	for in, ok := range map[string]bool{
		"273-542-26244":          true,
		"B-12345678":             true,
		strings.Repeat("r", 100): true,
		strings.Repeat("r", 101): false,
		"":                       false,
		"a\nb":                   false,
	} {
		if err := ValidateRef(in); (err == nil) != ok {
			t.Errorf("ValidateRef(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestValidateScopes(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = "s"
	}
	for _, c := range []struct {
		in  []string
		err string
	}{
		{nil, ""},
		{[]string{}, ""},
		{[]string{"invoices:read", "invoices:write", "admin"}, ""},
		{many[:100], ""},
		{many, "too many scopes (101)"},
		{[]string{"a b"}, `scope "a b" must not contain spaces or commas`},
		{[]string{"a,b"}, "must not contain spaces or commas"},
		{[]string{""}, "scope must not be empty"},
		{[]string{"a\tb"}, "control characters"},
		{[]string{strings.Repeat("s", 101)}, "too long"},
	} {
		err := ValidateScopes(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ValidateScopes(%q): %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ValidateScopes(%q) = %v, want %q", c.in, err, c.err)
		}
	}
}

func TestParseMeta(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want map[string]string
		err  string
	}{
		{nil, map[string]string{}, ""},
		{[]string{"shop=example.com", "tier=gold"}, map[string]string{"shop": "example.com", "tier": "gold"}, ""},
		{[]string{"url=https://x.test/?a=b"}, map[string]string{"url": "https://x.test/?a=b"}, ""},
		{[]string{"gone="}, map[string]string{"gone": ""}, ""},
		{[]string{"k=1", "k=2"}, map[string]string{"k": "2"}, ""},
		{[]string{"clé=ünïcode 値"}, map[string]string{"clé": "ünïcode 値"}, ""},
		{[]string{"novalue"}, nil, `invalid metadata "novalue": use KEY=VALUE`},
		{[]string{"=v"}, nil, "metadata key must not be empty"},
		{[]string{"k=a\nb"}, nil, "metadata value must not contain control characters"},
		{[]string{"k\t=v"}, nil, "metadata key must not contain control characters"},
		{[]string{"k=" + strings.Repeat("v", 1001)}, nil, "metadata value is too long"},
		{make([]string, 51), nil, "too many metadata entries (51)"},
	} {
		got, err := ParseMeta(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseMeta(%q): %v", c.in, err)
		case c.err == "" && !reflect.DeepEqual(got, c.want):
			t.Errorf("ParseMeta(%q) = %v, want %v", c.in, got, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseMeta(%q) = %v, %v; want %q", c.in, got, err, c.err)
		}
	}
}

func TestNameKey(t *testing.T) {
	for _, pair := range [][2]string{
		{"Acme", "ACME"},
		{"Müller & Söhne", "MÜLLER & SÖHNE"},
		{"ΑΘΗΝΑ", "αθηνα"},
		{"Straße", "STRAßE"},
	} {
		if NameKey(pair[0]) != NameKey(pair[1]) {
			t.Errorf("NameKey(%q) = %q, NameKey(%q) = %q: should be equal", pair[0], NameKey(pair[0]), pair[1], NameKey(pair[1]))
		}
	}
	if NameKey("Acme") == NameKey("Acme Inc") {
		t.Error("different names share a key")
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range []string{"active", "inactive", "expired"} {
		if got, err := ParseStatus(s); err != nil || string(got) != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Active", "enabled", "deleted"} {
		if _, err := ParseStatus(s); err == nil || KindOf(err) != KindUsage {
			t.Errorf("ParseStatus(%q) = %v, want a usage error", s, err)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind Kind
		text string
	}{
		{Usagef("bad %s", "flag"), KindUsage, "bad flag"},
		{NotFoundf("key %q not found", "x").WithHint("try list"), KindNotFound, `key "x" not found: try list`},
		{Conflictf("dup"), KindConflict, "dup"},
		{Runtimef("disk"), KindRuntime, "disk"},
		{ErrMalformed, KindInvalid, "malformed key"},
		{strings.NewReader("").UnreadByte(), KindRuntime, "strings.Reader.UnreadByte: at beginning of string"},
	} {
		if KindOf(c.err) != c.kind {
			t.Errorf("KindOf(%v) = %v, want %v", c.err, KindOf(c.err), c.kind)
		}
		if c.err.Error() != c.text {
			t.Errorf("Error() = %q, want %q", c.err.Error(), c.text)
		}
	}
	base := Usagef("x")
	if base.WithHint("h"); base.Hint != "" {
		t.Error("WithHint changed the original error")
	}
}
