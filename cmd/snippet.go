package cmd

import (
	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/output"
)

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
func writeSnippet(f *Factory, sn output.Snippet, format output.SnippetFormat) error {
	if output.NeedsURL(format) && sn.APIURL == "" {
		f.warn("api_url is not set: the snippet targets %s; set APIKEY_API_URL or api_url in the config file", output.PlaceholderAPIURL)
	}
	return sn.Write(f.IO.Out, format)
}
