package cmd

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/spf13/cobra"
)

// RotateOptions are the inputs of `rotate`.
type RotateOptions struct {
	IO     *iostreams.IOStreams
	Store  func(context.Context) (Store, error)
	Now    func() time.Time
	Sealer func() (*apikey.Sealer, error)

	// From the configuration (or the --actor flag).
	Actor     string
	KeyPrefix string
	Snippet   SnippetSettings

	Key       string
	Company   string
	Grace     string
	Format    string
	FormatSet bool
	Output    string
}

// NewCmdRotate wires `rotate`.
func NewCmdRotate(f *Factory, runF func(context.Context, *RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{IO: f.IO, Store: f.Store, Now: f.Now, Sealer: f.Sealer}
	c := &cobra.Command{
		Use:   "rotate KEY [--grace D]",
		Short: "Give a key a new secret",
		Long: `Give a key a new secret and print its credential snippet. The key keeps its id,
name, company and settings. The old secret stops working at once, or, with
--grace, when the grace period ends, so that clients can switch over. Secrets
still in the grace of an earlier rotation stop then too, at the latest: a
rotation without --grace leaves no old secret working.`,
		Example: `  apikey rotate 3f2a
  apikey rotate 3f2a --grace 24h --format env
  apikey rotate 3f2a -o json | jq -r .key`,
		Args: references("key", exactArgs(1, "key")),
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
			opts.Actor, opts.KeyPrefix, opts.Snippet = cfg.Get("actor"), cfg.Get("key_prefix"), snippetSettings(cfg)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rotateRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeKey(f),
	}
	c.Flags().StringVar(&opts.Grace, "grace", "0", "how long the old secret keeps working (e.g. 24h, 7d)")
	c.Flags().StringVar(&opts.Format, "format", "headers", "snippet format: headers, curl, env, http or json")
	c.Flags().StringVarP(&opts.Company, "company", "c", "", "the company of KEY, when KEY is a name that several companies use")
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	addOutputFlag(c.Flags(), &opts.Output)
	c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(output.SnippetFormats, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func rotateRun(ctx context.Context, opts *RotateOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	format, err := snippetFormat(p, opts.Format, opts.FormatSet)
	if err != nil {
		return err
	}
	var grace time.Duration
	if opts.Grace != "" && opts.Grace != "0" {
		if grace, err = apikey.ParseDuration(opts.Grace); err != nil {
			return err
		}
	}
	sealer, err := opts.Sealer()
	if err != nil {
		return err
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	k, err := st.Key(ctx, opts.Key, opts.Company)
	if err != nil {
		return err
	}
	secret, material, err := apikey.MintSecret(opts.KeyPrefix, k.ID, sealer)
	if err != nil {
		return err
	}
	if k, err = st.RotateKey(ctx, k.ID, material, grace, opts.Actor); err != nil {
		return err
	}
	if grace > 0 {
		opts.IO.ErrPrintf("The old secret keeps working until %s.\n", opts.Now().Add(grace).UTC().Format(time.RFC3339))
	}
	return printIssued(opts.IO, p, opts.Snippet.snippet(k, secret), format, sealer != nil, "Rotated")
}
