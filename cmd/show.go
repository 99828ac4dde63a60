package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of `show`.
type ShowOptions struct {
	IO     *iostreams.IOStreams
	Store  func(context.Context) (Store, error)
	Now    func() time.Time
	Sealer func() (*apikey.Sealer, error)

	// From the configuration (or the --actor flag). The actor is recorded
	// when the secret is revealed.
	Actor   string
	Snippet SnippetSettings

	Key     string
	Company string
	Reveal  bool
	Format  string
	// FormatSet says that --format was given: stdout is then the snippet
	// alone, something to redirect into a file or pipe into jq.
	FormatSet bool
	Output    string
}

// NewCmdShow wires `show`.
func NewCmdShow(f *Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now, Sealer: f.Sealer}
	c := &cobra.Command{
		Use:   "show KEY [--reveal] [--format F]",
		Short: "Show a key and its credential snippet",
		Long: `Show all fields of a key, then its credential snippet with the secret masked
by its hint. --reveal prints the secret itself; it needs the master key
(APIKEY_MASTER_KEY) the key was created under, and is recorded in the audit
trail.

With --format, standard output holds the snippet alone, ready to be
redirected into a file or piped into jq; -o json prints the key as one
JSON document instead (the two cannot be combined).`,
		Example: `  apikey show 3f2a
  apikey show 3f2a --format curl
  apikey show 3f2a -o json | jq '{status, expires_at, last_used_at}'

  # with the master key the secret was sealed under
  export APIKEY_MASTER_KEY="$(cat /etc/apikey/master.key)"
  apikey show 3f2a --reveal --format env > .env`,
		Args: exactArgs(1, "key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company"); err != nil {
				return err
			}
			opts.Key = args[0]
			opts.FormatSet = cmd.Flags().Changed("format")
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Actor, opts.Snippet = cfg.Get("actor"), snippetSettings(cfg)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeKey(f),
	}
	c.Flags().BoolVar(&opts.Reveal, "reveal", false, "print the secret (needs the master key)")
	c.Flags().StringVar(&opts.Format, "format", "headers", "snippet format: headers, curl, env, http or json")
	c.Flags().StringVarP(&opts.Company, "company", "c", "", "the company of KEY, when KEY is a name that several companies use")
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	addOutputFlag(c.Flags(), &opts.Output)
	c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(output.SnippetFormats, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	format, err := snippetFormat(p, opts.Format, opts.FormatSet)
	if err != nil {
		return err
	}
	var sealer *apikey.Sealer
	if opts.Reveal {
		if sealer, err = opts.Sealer(); err != nil {
			return err
		}
		if sealer == nil {
			return apikey.Usagef("cannot reveal the secret: no master key is set").WithHint("only hashes are stored; set " + apikey.MasterKeyEnv + " to the master key the key was created under")
		}
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	k, err := st.Key(ctx, opts.Key, opts.Company)
	if err != nil {
		return err
	}
	sn := opts.Snippet.snippet(k, k.Hint)
	if opts.Reveal {
		sn.Secret, err = st.SealedSecret(ctx, k.ID, opts.Actor, func(sealed []byte) (string, error) { return sealer.Open(k.ID, sealed) })
		if err != nil {
			return err
		}
		if p.Format != output.Table {
			return p.IssuedKey(opts.IO.Out, k, sn)
		}
	}
	if p.Format != output.Table {
		return p.Key(opts.IO.Out, k)
	}
	// The fields are for a person reading the terminal. With --format the
	// snippet is asked for by name, typically to be redirected into a .env
	// file or piped into jq, so it comes alone.
	if !opts.FormatSet {
		if err := p.Key(opts.IO.Out, k); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.Out)
	}
	return writeSnippet(opts.IO, sn, format)
}
