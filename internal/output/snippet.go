package output

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// SnippetFormat is how a credential snippet is written.
type SnippetFormat string

// SnippetFormats lists the snippet formats, for help and completion.
var SnippetFormats = []string{"headers", "curl", "env", "http", "json"}

// ParseSnippetFormat checks a --format value.
func ParseSnippetFormat(s string) (SnippetFormat, error) {
	for _, f := range SnippetFormats {
		if s == f {
			return SnippetFormat(s), nil
		}
	}
	return "", apikey.Usagef("invalid snippet format %q", s).WithHint("use " + strings.Join(SnippetFormats, ", "))
}

// Snippet is what an API client needs to authenticate: the two headers.
type Snippet struct {
	KeyHeader     string
	CompanyHeader string
	Secret        string // the secret, or its hint when it is not to be shown
	Key           apikey.Key
	APIURL        string // base URL for the curl and http forms; "" for a placeholder
}

// Headers returns header name -> value.
func (s Snippet) Headers() map[string]string {
	return map[string]string{s.KeyHeader: s.Secret, s.CompanyHeader: s.Key.Company.ID}
}

// title names the key on the comment line of a snippet. %q escapes what
// the key name could hide; the company's name and ref go through oneLine.
func (s Snippet) title() string {
	t := fmt.Sprintf("API key %q of %s", s.Key.Name, oneLine(s.Key.Company.Name))
	if s.Key.Company.Ref != "" {
		t += " (" + oneLine(s.Key.Company.Ref) + ")"
	}
	return t
}

// oneLine escapes, Go-style, what could end a comment line or disguise it:
// control characters (line feed, carriage return, NEL), line and paragraph
// separators, format characters such as bidi overrides, and bytes that are
// not UTF-8. Validation keeps them out of names today; a snippet is pasted
// into shells and configuration files, so it does not rely on that.
func oneLine(s string) string {
	clean := true
	for _, r := range s {
		if hidden(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case hidden(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// hidden reports whether r is a rune that oneLine escapes. The zero-width
// joiner is kept, as validation keeps it: emoji sequences need it.
func hidden(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) ||
		unicode.Is(unicode.Cf, r) && r != '\u200d'
}

// PlaceholderAPIURL is what the curl and http snippets target when no
// api_url is configured.
const PlaceholderAPIURL = "https://api.example.com/"

// NeedsURL reports whether a snippet of format f holds the API's URL.
func NeedsURL(f SnippetFormat) bool { return f == "curl" || f == "http" }

func (s Snippet) url() string {
	if s.APIURL == "" {
		return PlaceholderAPIURL
	}
	return s.APIURL
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Write renders the snippet. Every value in a shell snippet (curl, env) is
// single-quoted, and names sit only on the comment line, escaped by title:
// sourcing or running a snippet sets variables or runs curl, nothing else,
// whatever the names hold.
func (s Snippet) Write(w io.Writer, f SnippetFormat) error {
	var b strings.Builder
	switch f {
	case "curl":
		fmt.Fprintf(&b, "# %s\n", s.title())
		fmt.Fprintf(&b, "curl -H %s \\\n     -H %s \\\n     %s\n",
			shellQuote(s.KeyHeader+": "+s.Secret), shellQuote(s.CompanyHeader+": "+s.Key.Company.ID), shellQuote(s.url()))
	case "env":
		fmt.Fprintf(&b, "# %s\n", s.title())
		fmt.Fprintf(&b, "APIKEY_KEY=%s\nAPIKEY_COMPANY=%s\n", shellQuote(s.Secret), shellQuote(s.Key.Company.ID))
	case "http":
		u, err := url.Parse(s.url())
		if err != nil || u.Host == "" {
			u = &url.URL{Scheme: "https", Host: "api.example.com", Path: "/"}
		}
		path := u.RequestURI()
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\n%s: %s\r\n\r\n", path, u.Host, s.KeyHeader, s.Secret, s.CompanyHeader, s.Key.Company.ID)
	case "json":
		return WriteJSON(w, s.Headers())
	default:
		fmt.Fprintf(&b, "// %s\n", s.title())
		fmt.Fprintf(&b, "%s: %s\n%s: %s\n", s.KeyHeader, s.Secret, s.CompanyHeader, s.Key.Company.ID)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
