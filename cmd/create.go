package cmd

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// CreateOptions are the inputs of `create`.
type CreateOptions struct {
	IO       *iostreams.IOStreams
	Store    func(context.Context) (Store, error)
	Prompter func() prompt.Prompter
	Now      func() time.Time
	Sealer   func() (*apikey.Sealer, error)

	// From the configuration (or the --actor flag).
	Actor     string
	KeyPrefix string
	Snippet   SnippetSettings

	Company       string
	Name          string
	Inactive      bool
	InactiveSet   bool
	Expires       string
	Scopes        []string
	Meta          []string
	RateLimit     string   // N/s, N/m or N/h; "" for none
	AllowIPs      []string // addresses or CIDRs; none: any address
	CreateCompany bool
	Format        string
	FormatSet     bool
	Output        string
}

// NewCmdCreate wires `create`.
func NewCmdCreate(f *Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IO, Store: f.Store, Prompter: f.Prompter, Now: f.Now, Sealer: f.Sealer}
	c := &cobra.Command{
		Use:   "create --company COMPANY --name NAME",
		Short: "Issue a key and print its credential snippet",
		Long: `Issue a key for a company and print its credential snippet: the key header and
the company header that the company's API client must send. The secret is
printed this once; only its hash is stored (and, with APIKEY_MASTER_KEY set, a
sealed copy that 'show --reveal' can open).

--rate-limit and --allow-ip are enforced by 'apikey serve': a key over its
limit is answered 429, one used from an address outside its allowlist 403.
The limit is per server; docs/serve.md says how to divide it among several.

At a terminal, what is missing is asked for: the company (picked from a list),
the name and the status. In scripts, give --company and --name.`,
		Example: `  # at a terminal: pick the company, type the name, choose the status
  apikey create

  apikey create --company "PLAN PRUEBA II" --name "PRUEBA 1"
  apikey create --company Acme --create-company --name "billing sync" --expires 90d --scope invoices:read
  apikey create --company Acme --name staging --inactive --meta env=staging --meta owner=ops@acme.example
  apikey create --company Acme --name erp --rate-limit 100/m --allow-ip 203.0.113.0/24 --allow-ip 2001:db8::7

  # in CI: keep the secret out of the log, store it where the client reads it
  # (pipefail: a failed create fails the job instead of writing an empty file)
  set -o pipefail
  apikey create --company Acme --name ci -o json | jq -r .key > acme-ci.key
  apikey create --company Acme --name shop --format curl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "rate-limit"); err != nil {
				return err
			}
			opts.InactiveSet = cmd.Flags().Changed("inactive")
			opts.FormatSet = cmd.Flags().Changed("format")
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Actor, opts.KeyPrefix, opts.Snippet = cfg.Get("actor"), cfg.Get("key_prefix"), snippetSettings(cfg)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&opts.Company, "company", "c", "", "company that owns the key (id, id prefix, name or ref)")
	fl.StringVarP(&opts.Name, "name", "n", "", "key name, unique within its company")
	fl.BoolVar(&opts.Inactive, "inactive", false, "create the key switched off")
	fl.StringVar(&opts.Expires, "expires", "", "expiry: a duration (90d, 12h, 2w) or a date (2027-01-31, RFC 3339)")
	fl.StringArrayVar(&opts.Scopes, "scope", nil, "a scope the key grants (repeatable)")
	fl.StringArrayVar(&opts.Meta, "meta", nil, "metadata KEY=VALUE (repeatable)")
	fl.StringVar(&opts.RateLimit, "rate-limit", "", "requests allowed per server: N/s, N/m or N/h (e.g. 100/m)")
	fl.StringArrayVar(&opts.AllowIPs, "allow-ip", nil, "address or CIDR the key may be used from (repeatable; default any)")
	fl.BoolVar(&opts.CreateCompany, "create-company", false, "create the company when it does not exist")
	fl.StringVar(&opts.Format, "format", "headers", "snippet format: headers, curl, env, http or json")
	addOutputFlag(fl, &opts.Output)
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(output.SnippetFormats, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	format, err := snippetFormat(p, opts.Format, opts.FormatSet)
	if err != nil {
		return err
	}
	now := opts.Now()
	var expires *time.Time
	if opts.Expires != "" {
		t, err := apikey.ParseExpiry(opts.Expires, now)
		if err != nil {
			return err
		}
		expires = &t
	}
	if err := apikey.ValidateScopes(opts.Scopes); err != nil {
		return err
	}
	meta, err := apikey.ParseMeta(opts.Meta)
	if err != nil {
		return err
	}
	for k, v := range meta {
		if v == "" {
			return apikey.Usagef("metadata %q has no value", k).WithHint("use KEY=VALUE")
		}
	}
	limit, err := apikey.ParseRateLimit(opts.RateLimit)
	if err != nil {
		return err
	}
	allowed, err := apikey.ParseAllowedIPs(opts.AllowIPs)
	if err != nil {
		return err
	}
	sealer, err := opts.Sealer()
	if err != nil {
		return err
	}
	if opts.Name != "" { // check what was given before asking for the rest
		if err := apikey.ValidateKeyName(opts.Name); err != nil {
			return err
		}
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	status := apikey.StatusActive
	if opts.Inactive {
		status = apikey.StatusInactive
	}
	if opts.Company == "" || opts.Name == "" {
		if !opts.IO.CanPrompt() {
			return apikey.Usagef("--company and --name required when not running interactively")
		}
		if status, err = askCreate(ctx, opts.Prompter(), st, opts, status); err != nil {
			return err
		}
	}
	id := uuid.NewString()
	secret, material, err := apikey.MintSecret(opts.KeyPrefix, id, sealer)
	if err != nil {
		return err
	}
	k, err := st.CreateKey(ctx, store.NewKey{
		ID: id, Company: opts.Company, CreateCompany: opts.CreateCompany, Name: opts.Name, Status: status,
		Scopes: opts.Scopes, Metadata: meta, ExpiresAt: expires, RateLimit: limit.String(), AllowedIPs: allowed,
		Secret: material, Actor: opts.Actor,
	})
	if err != nil {
		return withCreateCompanyHint(err, opts.CreateCompany)
	}
	return printIssued(opts.IO, p, opts.Snippet.snippet(k, secret), format, sealer != nil, "Created")
}

// withCreateCompanyHint points a user whose company was not found to
// --create-company, which they may not know of. It leaves every other error
// alone: a company that is ambiguous, or a key not found (it could be deleted
// between being written and being read back), is not helped by creating a
// company.
func withCreateCompanyHint(err error, createCompany bool) error {
	var e *apikey.Error
	if createCompany || !errors.As(err, &e) || e.Kind != apikey.KindNotFound || !strings.HasPrefix(e.Msg, "company ") {
		return err
	}
	const hint = "add --create-company to create it"
	if e.Hint != "" {
		return e.WithHint(e.Hint + "; or " + hint)
	}
	return e.WithHint(hint)
}

// askCreate fills in what `create` is missing, at a terminal.
func askCreate(ctx context.Context, pr prompt.Prompter, st Store, opts *CreateOptions, status apikey.Status) (apikey.Status, error) {
	if opts.Company == "" {
		cs, err := st.ListCompanies(ctx)
		if err != nil {
			return status, err
		}
		if len(cs) == 0 {
			name, err := pr.Input("Company (it will be created)", "Acme Inc.", apikey.ValidateCompanyName)
			if err != nil {
				return status, err
			}
			opts.Company, opts.CreateCompany = name, true
		} else {
			options := make([]prompt.Option, len(cs))
			for i, c := range cs {
				label := c.Name
				if c.Ref != "" {
					label += " (" + c.Ref + ")"
				}
				options[i] = prompt.Option{Label: label, Value: c.ID}
			}
			if opts.Company, err = pr.Select("Company", options); err != nil {
				return status, err
			}
		}
	}
	if opts.Name == "" {
		name, err := pr.Input("Key name", "e.g. production integration", apikey.ValidateKeyName)
		if err != nil {
			return status, err
		}
		opts.Name = name
	}
	if !opts.InactiveSet {
		s, err := pr.Select("Status", []prompt.Option{{Label: "active", Value: "active"}, {Label: "inactive", Value: "inactive"}})
		if err != nil {
			return status, err
		}
		status = apikey.Status(s)
	}
	return status, nil
}

// printIssued prints a key with its new secret: the snippet (or JSON/CSV with
// the secret) on standard output, and on standard error what happened and
// that the secret will not be shown again.
func printIssued(ios *iostreams.IOStreams, p *output.Printer, sn output.Snippet, format output.SnippetFormat, sealed bool, verb string) error {
	k := sn.Key
	var err error
	if p.Format == output.Table {
		err = writeSnippet(ios, sn, format)
	} else {
		err = p.IssuedKey(ios.Out, k, sn)
	}
	if err != nil {
		return err
	}
	ios.ErrPrintf("%s key %q (%s) of %s.\n", verb, k.Name, k.ID, k.Company.Name)
	if sealed {
		ios.ErrPrintf("The secret is sealed with the master key: 'apikey show %s --reveal' prints it again.\n", k.ID)
	} else {
		ios.ErrPrintf("Copy the secret now: it will not be shown again.\n")
	}
	return nil
}
