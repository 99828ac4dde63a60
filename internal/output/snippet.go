package output

import (
	"fmt"
	"io"
	"net/url"
	"strings"

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

func (s Snippet) title() string {
	t := fmt.Sprintf("API key %q of %s", s.Key.Name, s.Key.Company.Name)
	if s.Key.Company.Ref != "" {
		t += " (" + s.Key.Company.Ref + ")"
	}
	return t
}

func (s Snippet) url() string {
	if s.APIURL == "" {
		return "https://api.example.com/"
	}
	return s.APIURL
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Write renders the snippet. Names come from validated input (no control
// characters), so they cannot break out of the comment line they sit on.
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
