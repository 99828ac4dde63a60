package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// NewCmdCompany groups the company commands.
func NewCmdCompany(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "company COMMAND",
		Aliases: []string{"companies"},
		Short:   "Manage the companies that own keys",
		Long: `A company is a customer of your service. Its id is the value of the company
header that its API clients send. A COMPANY argument is an id, a unique id
prefix, a name (any case) or a ref.`,
		Example: `  apikey company create "PLAN PRUEBA II" --ref 273-542-26244
  apikey company list
  apikey company show 273-542-26244
  apikey company update "PLAN PRUEBA II" --name "PLAN PRUEBA III"
  apikey company delete "PLAN PRUEBA III" --cascade`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(NewCmdCompanyCreate(f, nil), NewCmdCompanyList(f, nil), NewCmdCompanyShow(f, nil),
		NewCmdCompanyUpdate(f, nil), NewCmdCompanyDelete(f, nil))
	return c
}

// CompanyCreateOptions are the inputs of `company create`.
type CompanyCreateOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time
	Actor string

	Name   string
	Ref    string
	Output string
}

// NewCmdCompanyCreate wires `company create`.
func NewCmdCompanyCreate(f *Factory, runF func(context.Context, *CompanyCreateOptions) error) *cobra.Command {
	opts := &CompanyCreateOptions{IO: f.IO, Store: f.Store, Now: f.Now}
	c := &cobra.Command{
		Use:   "create NAME [--ref REF]",
		Short: "Add a company",
		Long:  "Add a company. Names are unique regardless of case; a ref (an external id such as a tax id) is unique when set.",
		Example: `  apikey company create "PLAN PRUEBA II" --ref 273-542-26244
  apikey company create Acme -o json | jq -r .id`,
		Args: exactArgs(1, "company name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return companyCreateRun(cmd.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Ref, "ref", "", "external identifier, e.g. a tax id (unique)")
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func companyCreateRun(ctx context.Context, opts *CompanyCreateOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	if err := apikey.ValidateCompanyName(opts.Name); err != nil {
		return err
	}
	if opts.Ref != "" {
		if err := apikey.ValidateRef(opts.Ref); err != nil {
			return err
		}
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	co, err := st.CreateCompany(ctx, opts.Name, opts.Ref, opts.Actor)
	if err != nil {
		return err
	}
	return p.OneCompany(opts.IO.Out, co)
}

// CompanyListOptions are the inputs of `company list`.
type CompanyListOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	Output string
}

// NewCmdCompanyList wires `company list`.
func NewCmdCompanyList(f *Factory, runF func(context.Context, *CompanyListOptions) error) *cobra.Command {
	opts := &CompanyListOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List companies with their key counts",
		Example: `  apikey company list
  apikey company list -o json | jq -r '.[] | select(.keys == 0) | .name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return companyListRun(cmd.Context(), opts)
		},
	}
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func companyListRun(ctx context.Context, opts *CompanyListOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	cs, err := st.ListCompanies(ctx)
	if err != nil {
		return err
	}
	if len(cs) == 0 && p.Format == "table" {
		opts.IO.ErrPrintf("No companies yet. Add one with: apikey company create NAME\n")
		return nil
	}
	return p.Companies(opts.IO.Out, cs)
}

// CompanyShowOptions are the inputs of `company show`.
type CompanyShowOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	Company string
	Output  string
}

// NewCmdCompanyShow wires `company show`.
func NewCmdCompanyShow(f *Factory, runF func(context.Context, *CompanyShowOptions) error) *cobra.Command {
	opts := &CompanyShowOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:   "show COMPANY",
		Short: "Show a company and its keys",
		Example: `  apikey company show Acme
  apikey company show 273-542-26244 -o json | jq '.key_list[].name'`,
		Args: references("company", exactArgs(1, "company")),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Company = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return companyShowRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeCompany(f),
	}
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func companyShowRun(ctx context.Context, opts *CompanyShowOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	co, err := st.Company(ctx, opts.Company)
	if err != nil {
		return err
	}
	var keys []apikey.Key
	err = st.EachKey(ctx, store.KeyFilter{Company: co.ID, Now: p.Now}, func(k apikey.Key) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	return p.Company(opts.IO.Out, co, keys)
}

// CompanyUpdateOptions are the inputs of `company update`.
type CompanyUpdateOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time
	Actor string

	Company string
	Name    *string
	Ref     *string
	Output  string
}

// NewCmdCompanyUpdate wires `company update`.
func NewCmdCompanyUpdate(f *Factory, runF func(context.Context, *CompanyUpdateOptions) error) *cobra.Command {
	opts := &CompanyUpdateOptions{IO: f.IO, Store: f.Store, Now: f.Now}
	var name, ref string
	c := &cobra.Command{
		Use:   "update COMPANY [--name NAME] [--ref REF]",
		Short: "Change a company's name or ref",
		Long:  `Change a company's name or ref. --ref "" removes the ref. Its id, and so the company header of its clients, never changes.`,
		Example: `  apikey company update Acme --name "Acme Corp"
  apikey company update "Acme Corp" --ref B-12345678`,
		Args: references("company", exactArgs(1, "company")),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Company = args[0]
			if cmd.Flags().Changed("name") {
				opts.Name = &name
			}
			if cmd.Flags().Changed("ref") {
				opts.Ref = &ref
			}
			if opts.Name == nil && opts.Ref == nil {
				return apikey.Usagef("nothing to change").WithHint("give --name or --ref")
			}
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return companyUpdateRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeCompany(f),
	}
	c.Flags().StringVar(&name, "name", "", "new name")
	c.Flags().StringVar(&ref, "ref", "", `new ref ("" removes it)`)
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func companyUpdateRun(ctx context.Context, opts *CompanyUpdateOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	if opts.Name != nil {
		if err := apikey.ValidateCompanyName(*opts.Name); err != nil {
			return err
		}
	}
	if opts.Ref != nil && *opts.Ref != "" {
		if err := apikey.ValidateRef(*opts.Ref); err != nil {
			return err
		}
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	co, err := st.UpdateCompany(ctx, opts.Company, store.CompanyUpdate{Name: opts.Name, Ref: opts.Ref}, opts.Actor)
	if err != nil {
		return err
	}
	return p.OneCompany(opts.IO.Out, co)
}

// CompanyDeleteOptions are the inputs of `company delete`.
type CompanyDeleteOptions struct {
	IO       *iostreams.IOStreams
	Store    func(context.Context) (Store, error)
	Prompter func() prompt.Prompter
	Now      func() time.Time
	Actor    string

	Companies []string
	Cascade   bool
	Yes       bool
	DryRun    bool
	Output    string
}

// NewCmdCompanyDelete wires `company delete`.
func NewCmdCompanyDelete(f *Factory, runF func(context.Context, *CompanyDeleteOptions) error) *cobra.Command {
	opts := &CompanyDeleteOptions{IO: f.IO, Store: f.Store, Prompter: f.Prompter, Now: f.Now}
	c := &cobra.Command{
		Use:   "delete COMPANY... [--cascade] [--yes]",
		Short: "Delete companies",
		Long: `Delete companies. A company that still owns keys is refused unless --cascade,
which deletes its keys with it. At a terminal you are asked to confirm; without
one, --yes is required. Deleted companies and keys cannot be recovered; the
audit trail keeps their names.`,
		Example: `  apikey company delete Acme
  apikey company delete Acme Globex --cascade --yes`,
		Args: references("company", minArgs(1, "company")),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Companies = args
			// Loading the configuration also applies no_input to the
			// streams, which decide whether a confirmation can be asked.
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return companyDeleteRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeCompanies(f),
	}
	c.Flags().BoolVar(&opts.Cascade, "cascade", false, "delete the companies' keys too")
	c.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what would be deleted and stop")
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func companyDeleteRun(ctx context.Context, opts *CompanyDeleteOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	if err := needConfirmation(opts.IO, opts.Yes || opts.DryRun); err != nil {
		return err
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	var cos []apikey.Company
	seen := map[string]bool{}
	keys := 0
	for _, ref := range opts.Companies {
		co, err := st.Company(ctx, ref)
		if err != nil {
			return err
		}
		if seen[co.ID] {
			continue
		}
		seen[co.ID] = true
		if co.Keys > 0 && !opts.Cascade {
			return apikey.Conflictf("company %q still owns %d key(s)", co.Name, co.Keys).WithHint("delete them first or use --cascade")
		}
		keys += co.Keys
		cos = append(cos, co)
	}
	what := plural(len(cos), "company", "companies")
	if keys > 0 {
		what += " and " + plural(keys, "key", "keys")
	}
	if opts.DryRun {
		opts.IO.ErrPrintf("Would delete %s (dry run: nothing was deleted).\n", what)
		return p.Companies(opts.IO.Out, cos)
	}
	summary := "About to delete " + what
	lines := make([]string, 0, len(cos))
	for _, co := range cos {
		lines = append(lines, fmt.Sprintf("%s  (%s, %s)", co.Name, co.ID, plural(co.Keys, "key", "keys")))
	}
	if err := confirm(opts.IO, opts.Prompter, opts.Yes, summary+":", lines); err != nil {
		return err
	}
	ids := make([]string, len(cos))
	for i, co := range cos {
		ids[i] = co.ID
	}
	if err := st.DeleteCompanies(ctx, ids, opts.Cascade, opts.Actor); err != nil {
		return err
	}
	if p.Format != "table" {
		return p.Companies(opts.IO.Out, cos)
	}
	for _, co := range cos {
		opts.IO.ErrPrintf("Deleted company %s (%s)\n", co.Name, co.ID)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
