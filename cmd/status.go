package cmd

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

type statusVerb struct {
	use, short, long, example string
	change                    store.StatusChange
}

var (
	toggleVerb = statusVerb{
		use:     "toggle KEY...",
		short:   "Flip keys between active and inactive",
		long:    "Flip each key between active and inactive. A disabled key is refused by verify and by a running server within a second; it is not deleted.",
		example: "  apikey toggle 3f2a\n  apikey toggle 3f2a 9c41 -o json",
		change:  store.Toggle,
	}
	enableVerb = statusVerb{
		use:     "enable KEY...",
		short:   "Switch keys on",
		long:    "Switch keys on. A key already active is left as it is; that is not an error.",
		example: "  apikey enable 3f2a\n  apikey list --company Acme --status inactive -o json | jq -r '.[].id' | xargs -r apikey enable",
		change:  store.Enable,
	}
	disableVerb = statusVerb{
		use:     "disable KEY...",
		short:   "Switch keys off without deleting them",
		long:    "Switch keys off without deleting them. A key already inactive is left as it is; that is not an error. A running server refuses a disabled key within a second.",
		example: "  apikey disable 3f2a\n  apikey disable 3f2a 9c41 --actor oncall",
		change:  store.Disable,
	}
)

// StatusOptions are the inputs of toggle, enable and disable.
type StatusOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time
	Actor string

	Keys    []string
	Company string
	Change  store.StatusChange
	Output  string
}

// NewCmdStatus wires toggle, enable or disable.
func NewCmdStatus(f *Factory, v statusVerb, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Store: f.Store, Now: f.Now, Change: v.change}
	c := &cobra.Command{
		Use:     v.use,
		Short:   v.short,
		Long:    v.long,
		Example: v.example,
		Args:    references("key", minArgs(1, "key")),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company"); err != nil {
				return err
			}
			opts.Keys = args
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeKeys(f),
	}
	c.Flags().StringVarP(&opts.Company, "company", "c", "", "the company of KEY, when KEY is a name that several companies use")
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	res, err := st.SetStatus(ctx, opts.Keys, opts.Company, opts.Change, opts.Actor)
	if err != nil {
		return err
	}
	keys := make([]apikey.Key, len(res))
	for i, r := range res {
		keys[i] = r.Key
	}
	return writeKeys(p.KeyWriter(opts.IO.Out), keys)
}
