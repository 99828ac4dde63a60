package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// DeleteOptions are the inputs of `delete`.
type DeleteOptions struct {
	IO       *iostreams.IOStreams
	Store    func(context.Context) (Store, error)
	Prompter func() prompt.Prompter
	Now      func() time.Time
	Actor    string

	Keys    []string
	Company string
	Status  string
	All     bool
	Yes     bool
	DryRun  bool
	Output  string
}

// NewCmdDelete wires `delete`.
func NewCmdDelete(f *Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IO, Store: f.Store, Prompter: f.Prompter, Now: f.Now}
	c := &cobra.Command{
		Use:   "delete KEY... | delete --company C [--status S] --all",
		Short: "Delete keys for good",
		Long: `Delete one key, several, or every key of a company (optionally only those in a
status). Before deleting, apikey shows how many keys and which, and asks "Are
you sure?". Without a terminal it never asks: give --yes, or nothing is
deleted. Deleted keys cannot be recovered; to switch a key off, use disable.`,
		Example: `  apikey delete 3f2a
  apikey delete 3f2a 9c41 --yes
  apikey delete --company Acme --status inactive --all --dry-run
  apikey delete --company Acme --all --yes -o json`,
		// Keys are optional (--company C --all instead); check() says when
		// none is given.
		Args: references("key", nil),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company", "status"); err != nil {
				return err
			}
			opts.Keys = args
			if err := opts.check(); err != nil {
				return err
			}
			// Loading the configuration also applies no_input to the
			// streams, which decide whether a confirmation can be asked.
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeKeys(f),
	}
	fl := c.Flags()
	fl.StringVarP(&opts.Company, "company", "c", "", "delete keys of this company (with --all); with KEY..., the company of the keys named")
	fl.StringVar(&opts.Status, "status", "", "with --company: only keys in this status")
	fl.BoolVar(&opts.All, "all", false, "with --company: delete every key that matches")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "show what would be deleted and stop")
	addOutputFlag(fl, &opts.Output)
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	c.RegisterFlagCompletionFunc("status", cobra.FixedCompletions([]string{"active", "inactive", "expired"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func (o *DeleteOptions) check() error {
	// With keys, --company only says whose keys they are (a name that
	// several companies use); without, it selects a batch, with --all.
	batch := o.Status != "" || o.All || len(o.Keys) == 0 && o.Company != ""
	switch {
	case len(o.Keys) > 0 && batch:
		return apikey.Usagef("give keys or --company with --all, not both")
	case len(o.Keys) == 0 && !batch:
		return apikey.Usagef("missing key").WithHint("give KEY... or --company C --all")
	case batch && o.Company == "":
		return apikey.Usagef("--all and --status need --company")
	case batch && !o.All:
		return apikey.Usagef("--company needs --all to delete every matching key").WithHint("add --all, or name the keys")
	}
	return nil
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	filter := store.KeyFilter{Company: opts.Company, Now: p.Now}
	if opts.Status != "" {
		if filter.Status, err = apikey.ParseStatus(opts.Status); err != nil {
			return err
		}
	}
	if err := needConfirmation(opts.IO, opts.Yes || opts.DryRun); err != nil {
		return err
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	var keys []apikey.Key
	if len(opts.Keys) > 0 {
		if keys, err = st.Keys(ctx, opts.Keys, opts.Company); err != nil {
			return err
		}
	} else {
		err = st.EachKey(ctx, filter, func(k apikey.Key) error {
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			opts.IO.ErrPrintf("No keys match: nothing to delete.\n")
			if p.Format != "table" {
				return p.KeyWriter(opts.IO.Out).Close()
			}
			return nil
		}
	}
	if opts.DryRun {
		opts.IO.ErrPrintf("Would delete %s (dry run: nothing was deleted).\n", plural(len(keys), "key", "keys"))
		return writeKeys(p.KeyWriter(opts.IO.Out), keys)
	}
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s  (%s)  %s", k.Name, k.Company.Name, k.ID)
	}
	if err := confirm(opts.IO, opts.Prompter, opts.Yes, fmt.Sprintf("About to delete %s:", plural(len(keys), "key", "keys")), lines); err != nil {
		return err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	if err := st.DeleteKeys(ctx, ids, opts.Actor); err != nil {
		return err
	}
	opts.IO.ErrPrintf("Deleted %s.\n", plural(len(keys), "key", "keys"))
	if p.Format != "table" {
		return writeKeys(p.KeyWriter(opts.IO.Out), keys)
	}
	return nil
}

func writeKeys(w output.KeyWriter, keys []apikey.Key) error {
	for _, k := range keys {
		if err := w.Write(k); err != nil {
			return err
		}
	}
	return w.Close()
}
