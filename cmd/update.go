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

	RateLimit   string   // N/s, N/m or N/h; "" leaves the limit alone
	NoRateLimit bool     // remove the limit
	AllowIPs    []string // the new allowlist; none leaves it alone
	AnyIP       bool     // remove the allowlist
}

// NewCmdUpdate wires `update`.
func NewCmdUpdate(f *Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IO, Store: f.Store, Now: f.Now}
	var name string
	var scopesSet bool
	c := &cobra.Command{
		Use:   "update KEY [--name N] [--expires D | --no-expiry] [--scope S]... [--meta K=V]... [--rate-limit LIMIT | --no-rate-limit] [--allow-ip CIDR]... [--any-ip]",
		Short: "Change a key's name, expiry, scopes, metadata, rate limit or allowlist",
		Long: `Change a key. --scope replaces the key's scopes with those given (--scope ""
clears them); --meta K=V sets an entry and --meta K= removes it. --allow-ip
replaces the key's allowlist with the addresses given, and --any-ip removes it.
The secret does not change: use rotate for that.

'apikey serve' applies a new rate limit or allowlist within a second.`,
		Example: `  apikey update 3f2a --name "PRUEBA 2"
  apikey update 3f2a --expires 2027-01-31
  apikey update 3f2a --no-expiry --scope invoices:read --scope invoices:write
  apikey update 3f2a --meta shop=example.com --meta old=
  apikey update 3f2a --rate-limit 10/s --allow-ip 203.0.113.0/24 --allow-ip 198.51.100.7
  apikey update 3f2a --no-rate-limit --any-ip`,
		Args: references("key", exactArgs(1, "key")),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company", "rate-limit"); err != nil {
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
			if opts.Name == nil && opts.Expires == "" && !opts.NoExpiry && !scopesSet && len(opts.Meta) == 0 &&
				opts.RateLimit == "" && !opts.NoRateLimit && len(opts.AllowIPs) == 0 && !opts.AnyIP {
				return apikey.Usagef("nothing to change").WithHint("give --name, --expires, --no-expiry, --scope, --meta, --rate-limit, --no-rate-limit, --allow-ip or --any-ip")
			}
			switch {
			case opts.Expires != "" && opts.NoExpiry:
				return apikey.Usagef("--expires and --no-expiry cannot be used together")
			case opts.RateLimit != "" && opts.NoRateLimit:
				return apikey.Usagef("--rate-limit and --no-rate-limit cannot be used together")
			case len(opts.AllowIPs) > 0 && opts.AnyIP:
				return apikey.Usagef("--allow-ip and --any-ip cannot be used together")
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
	fl.StringVar(&opts.RateLimit, "rate-limit", "", "new rate limit per server: N/s, N/m or N/h (e.g. 100/m)")
	fl.BoolVar(&opts.NoRateLimit, "no-rate-limit", false, "remove the rate limit")
	fl.StringArrayVar(&opts.AllowIPs, "allow-ip", nil, "address or CIDR the key may be used from, replacing the allowlist (repeatable)")
	fl.BoolVar(&opts.AnyIP, "any-ip", false, "remove the allowlist: any address may use the key")
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
	switch {
	case opts.NoRateLimit:
		u.RateLimit = new(string)
	case opts.RateLimit != "":
		limit, err := apikey.ParseRateLimit(opts.RateLimit)
		if err != nil {
			return err
		}
		canonical := limit.String()
		u.RateLimit = &canonical
	}
	switch {
	case opts.AnyIP:
		u.AllowedIPs = []string{}
	case len(opts.AllowIPs) > 0:
		if u.AllowedIPs, err = apikey.ParseAllowedIPs(opts.AllowIPs); err != nil {
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
