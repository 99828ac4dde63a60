package cmd

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// HistoryOptions are the inputs of `history`.
type HistoryOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	Key     string
	Company string
	Limit   int
	Output  string
}

// NewCmdHistory wires `history`.
func NewCmdHistory(f *Factory, runF func(context.Context, *HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:   "history [KEY] [--company C] [--limit N]",
		Short: "Show the audit trail, newest first",
		Long: `Show who did what, newest first: every company and key created, changed,
rotated, revealed or deleted, with the actor (--actor, config actor, else your
user name). The trail outlives deleted keys and companies, which can still be
named by id, id prefix or former name (and a company by any ref it had).`,
		Example: `  apikey history --limit 20
  apikey history 3f2a
  apikey history --company Acme -o json | jq -r '.[] | "\(.at) \(.actor) \(.action)"'`,
		Args: references("key", func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return apikey.Usagef("unexpected argument %q", args[1]).WithHint("history takes at most one key")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company"); err != nil {
				return err
			}
			if len(args) == 1 {
				opts.Key = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return historyRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeKey(f),
	}
	c.Flags().StringVarP(&opts.Company, "company", "c", "", "only events of this company")
	c.Flags().IntVar(&opts.Limit, "limit", 50, "at most this many events (0: all)")
	addOutputFlag(c.Flags(), &opts.Output)
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	return c
}

func historyRun(ctx context.Context, opts *HistoryOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	if opts.Limit < 0 {
		return apikey.Usagef("invalid limit %d", opts.Limit).WithHint("give a number of events, or 0 for all")
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	es, err := st.Events(ctx, store.EventFilter{Key: opts.Key, Company: opts.Company, Limit: opts.Limit})
	if err != nil {
		return err
	}
	if len(es) == 0 && p.Format == "table" {
		opts.IO.ErrPrintf("No events.\n")
		return nil
	}
	return p.Events(opts.IO.Out, es)
}
