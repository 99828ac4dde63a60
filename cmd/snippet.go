package cmd

import (
	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/config"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
)

// SnippetSettings are the settings a credential snippet is written with.
type SnippetSettings struct {
	KeyHeader     string // headers.key
	CompanyHeader string // headers.company
	APIURL        string // api_url, the base URL of curl and http snippets
}

func snippetSettings(cfg *config.Config) SnippetSettings {
	return SnippetSettings{KeyHeader: cfg.Get("headers.key"), CompanyHeader: cfg.Get("headers.company"), APIURL: cfg.Get("api_url")}
}

// snippet is the credential snippet of k with secret (or its hint).
func (s SnippetSettings) snippet(k apikey.Key, secret string) output.Snippet {
	return output.Snippet{KeyHeader: s.KeyHeader, CompanyHeader: s.CompanyHeader, Secret: secret, Key: k, APIURL: s.APIURL}
}

// snippetFormat checks the --format of create, rotate and show against their
// -o. The snippet is what the table output prints; -o json and -o csv print
// the key instead, so a --format given with them would be silently ignored,
// and a script that redirects the output would get a document it did not ask
// for. set says whether the user gave --format.
func snippetFormat(p *output.Printer, format string, set bool) (output.SnippetFormat, error) {
	ft, err := output.ParseSnippetFormat(format)
	if err != nil {
		return "", err
	}
	if set && p.Format != output.Table {
		return "", apikey.Usagef("--format cannot be combined with -o %s", p.Format).
			WithHint("--format chooses the credential snippet of the table output; -o " + string(p.Format) + " prints the key")
	}
	return ft, nil
}

// writeSnippet prints a credential snippet on standard output. A curl or http
// snippet without api_url targets a placeholder host, which a user could take
// for the real one: a warning on stderr says so and how to set it.
func writeSnippet(ios *iostreams.IOStreams, sn output.Snippet, format output.SnippetFormat) error {
	if output.NeedsURL(format) && sn.APIURL == "" {
		warn(ios, "api_url is not set: the snippet targets %s; set APIKEY_API_URL or api_url in the config file", output.PlaceholderAPIURL)
	}
	return sn.Write(ios.Out, format)
}
