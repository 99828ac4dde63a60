package cmd

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// UpdateOptions are the inputs of `update`.
type UpdateOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time
	Actor string

	Key      string
	Company  string
	Name     *string
	Expires  string
	NoExpiry bool
	Scopes   []string
	Meta     []string
	Output   string
}

// NewCmdUpdate wires `update`.
func NewCmdUpdate(f *Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IO, Store: f.Store, Now: f.Now}
	var name string
	var scopesSet bool
	c := &cobra.Command{
		Use:   "update KEY [--name N] [--expires D | --no-expiry] [--scope S]... [--meta K=V]...",
		Short: "Change a key's name, expiry, scopes or metadata",
		Long: `Change a key. --scope replaces the key's scopes with those given (--scope ""
clears them); --meta K=V sets an entry and --meta K= removes it. The secret does
not change: use rotate for that.`,
		Example: `  apikey update 3f2a --name "PRUEBA 2"
  apikey update 3f2a --expires 2027-01-31
  apikey update 3f2a --no-expiry --scope invoices:read --scope invoices:write
  apikey update 3f2a --meta shop=example.com --meta old=`,
		Args: references("key", exactArgs(1, "key")),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company"); err != nil {
				return err
			}
			opts.Key = args[0]
			if cmd.Flags().Changed("name") {
				opts.Name = &name
			}
			scopesSet = cmd.Flags().Changed("scope")
			if scopesSet && opts.Scopes == nil {
				opts.Scopes = []string{}
			}
			if opts.Name == nil && opts.Expires == "" && !opts.NoExpiry && !scopesSet && len(opts.Meta) == 0 {
				return apikey.Usagef("nothing to change").WithHint("give --name, --expires, --no-expiry, --scope or --meta")
			}
			if opts.Expires != "" && opts.NoExpiry {
				return apikey.Usagef("--expires and --no-expiry cannot be used together")
			}
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return updateRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeKey(f),
	}
	fl := c.Flags()
	fl.StringVarP(&name, "name", "n", "", "new name")
	fl.StringVar(&opts.Expires, "expires", "", "new expiry: a duration (90d) or a date (2027-01-31, RFC 3339)")
	fl.BoolVar(&opts.NoExpiry, "no-expiry", false, "remove the expiry")
	fl.StringArrayVar(&opts.Scopes, "scope", nil, `scopes, replacing the current ones (repeatable; "" clears)`)
	fl.StringArrayVar(&opts.Meta, "meta", nil, "set metadata KEY=VALUE, or remove it with KEY= (repeatable)")
	fl.StringVarP(&opts.Company, "company", "c", "", "the company of KEY, when KEY is a name that several companies use")
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	addOutputFlag(fl, &opts.Output)
	return c
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	u := store.KeyUpdate{Name: opts.Name, ClearExpiry: opts.NoExpiry}
	if opts.Name != nil {
		if err := apikey.ValidateKeyName(*opts.Name); err != nil {
			return err
		}
	}
	if opts.Expires != "" {
		t, err := apikey.ParseExpiry(opts.Expires, opts.Now())
		if err != nil {
			return err
		}
		u.ExpiresAt = &t
	}
	if opts.Scopes != nil {
		u.Scopes = []string{}
		for _, s := range opts.Scopes {
			if s != "" {
				u.Scopes = append(u.Scopes, s)
			}
		}
		if err := apikey.ValidateScopes(u.Scopes); err != nil {
			return err
		}
	}
	if len(opts.Meta) > 0 {
		if u.Metadata, err = apikey.ParseMeta(opts.Meta); err != nil {
			return err
		}
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	k, err := st.UpdateKey(ctx, opts.Key, opts.Company, u, opts.Actor)
	if err != nil {
		return err
	}
	return p.Key(opts.IO.Out, k)
}
