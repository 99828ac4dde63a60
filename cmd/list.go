package cmd

import (
	"bufio"
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of `list`.
type ListOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	Company string
	Status  string
	Search  string
	Limit   int
	Output  string
}

// NewCmdList wires `list`.
func NewCmdList(f *Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:     "list [--company C] [--status S] [--search TEXT] [--limit N]",
		Aliases: []string{"ls"},
		Short:   "List keys",
		Long: `List keys, oldest first: ID, NAME, STATUS, COMPANY, HINT, CREATED, LAST USED.
--search matches the key name, the company name or ref (any case), or the start
of the key id. JSON and CSV stream, so any number of keys can be listed.`,
		Example: `  apikey list
  apikey list --company Acme --status active
  apikey list --status expired -o json | jq -r '.[].id'
  apikey list --search shop --limit 20`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company", "status", "search"); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&opts.Company, "company", "c", "", "only the keys of this company")
	fl.StringVar(&opts.Status, "status", "", "only keys in this status: active, inactive or expired")
	fl.StringVar(&opts.Search, "search", "", "only keys whose name, company or id match")
	fl.IntVar(&opts.Limit, "limit", 0, "at most this many keys (0: all)")
	addOutputFlag(fl, &opts.Output)
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	c.RegisterFlagCompletionFunc("status", cobra.FixedCompletions([]string{"active", "inactive", "expired"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func listRun(ctx context.Context, opts *ListOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	filter := store.KeyFilter{Company: opts.Company, Search: opts.Search, Limit: opts.Limit, Now: p.Now}
	if opts.Status != "" {
		if filter.Status, err = apikey.ParseStatus(opts.Status); err != nil {
			return err
		}
	}
	if opts.Limit < 0 {
		return apikey.Usagef("invalid limit %d", opts.Limit).WithHint("give a number of keys, or 0 for all")
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	// One write per key would be one system call per key: a list of
	// 100,000 keys spent more time in them than in encoding.
	out := bufio.NewWriterSize(opts.IO.Out, 64<<10)
	w := p.KeyWriter(out)
	n := 0
	err = st.EachKey(ctx, filter, func(k apikey.Key) error {
		n++
		return w.Write(k)
	})
	if err != nil {
		out.Flush() // what was listed before the failure, as without the buffer
		return err
	}
	if n == 0 && p.Format == "table" {
		opts.IO.ErrPrintf("No keys found.\n")
		return nil
	}
	if err := w.Close(); err != nil {
		return err
	}
	return out.Flush()
}
