package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// NewCmdCompletion wires `completion SHELL`.
func NewCmdCompletion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a script that makes your shell complete apikey's commands and flags, and
key ids (with their names) and company names and refs from your database.`,
		Example: `  # bash, for the current shell and for every new one
  source <(apikey completion bash)
  apikey completion bash > /etc/bash_completion.d/apikey

  # zsh
  apikey completion zsh > "${fpath[1]}/_apikey"

  # fish
  apikey completion fish > ~/.config/fish/completions/apikey.fish

  # PowerShell
  apikey completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return apikey.Usagef("missing shell").WithHint("use bash, zsh, fish or powershell")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), f.IO.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return apikey.Usagef("unsupported shell %q", args[0]).WithHint("use bash, zsh, fish or powershell")
		},
	}
}

// completionTimeout bounds how long a Tab press may wait for the database.
const completionTimeout = 2 * time.Second

// completionStore opens the store for a completion, honouring --db, --config
// and the environment on the line being completed (cobra's __complete does
// not run PersistentPreRunE). A store that does not exist yet is not
// created by pressing Tab: there is nothing to complete from it.
func completionStore(ctx context.Context, f *Factory, cmd *cobra.Command) (Store, bool) {
	f.bindFlags(cmd)
	st, err := f.ExistingStore(ctx)
	if err != nil {
		return nil, false
	}
	return st, true
}

// completeKey completes the one KEY argument of show, rotate, update and
// history; once it is given there is nothing more to complete.
func completeKey(f *Factory) cobra.CompletionFunc {
	keys := completeKeys(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return keys(cmd, args, toComplete)
	}
}

// completeKeys completes key ids, with name, company and status as the
// description, leaving out those already on the line. Secrets are never
// read, only what `list` shows.
func completeKeys(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		st, ok := completionStore(ctx, f, cmd)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		taken := map[string]bool{}
		for _, a := range args {
			taken[a] = true
		}
		var out []cobra.Completion
		prefix := strings.ToLower(toComplete)
		now := f.Now()
		_ = st.EachKey(ctx, store.KeyFilter{Now: now}, func(k apikey.Key) error {
			if strings.HasPrefix(k.ID, prefix) && !taken[k.ID] {
				out = append(out, cobra.CompletionWithDesc(k.ID, k.Name+" ("+k.Company.Name+", "+string(k.EffectiveStatus(now))+")"))
			}
			if len(out) >= maxCompletions {
				return context.Canceled
			}
			return nil
		})
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// maxCompletions caps what a Tab press lists: past that, a shell's menu is
// no help, and the user types a few more characters of the id.
const maxCompletions = 1000

// completeCompany completes the one COMPANY argument of company show and
// company update.
func completeCompany(f *Factory) cobra.CompletionFunc {
	companies := completeCompanies(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return companies(cmd, args, toComplete)
	}
}

// completeCompanies completes company names and refs, with the other and the
// key count as the description.
func completeCompanies(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		st, ok := completionStore(ctx, f, cmd)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cs, err := st.ListCompanies(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		taken := map[string]bool{}
		for _, a := range args {
			taken[strings.ToLower(a)] = true
		}
		lower := strings.ToLower(toComplete)
		var out []cobra.Completion
		for _, c := range cs {
			if taken[strings.ToLower(c.Name)] || (c.Ref != "" && taken[strings.ToLower(c.Ref)]) {
				continue
			}
			desc := plural(c.Keys, "key", "keys")
			if strings.HasPrefix(strings.ToLower(c.Name), lower) {
				d := desc
				if c.Ref != "" {
					d = c.Ref + ", " + desc
				}
				out = append(out, cobra.CompletionWithDesc(c.Name, d))
			}
			if c.Ref != "" && strings.HasPrefix(strings.ToLower(c.Ref), lower) {
				out = append(out, cobra.CompletionWithDesc(c.Ref, c.Name+", "+desc))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// registerFlagCompletions completes, on every command, the flags whose values
// are the same everywhere: -o/--output, --status, and --company where a
// command did not register its own.
func registerFlagCompletions(c *cobra.Command, f *Factory) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	byFlag := map[string]cobra.CompletionFunc{
		"output":  fixed("table", "json", "csv"),
		"status":  fixed(string(apikey.StatusActive), string(apikey.StatusInactive), string(apikey.StatusExpired)),
		"company": completeCompanies(f),
	}
	for name, fn := range byFlag {
		// Flags() before parsing holds only the flags c declares itself;
		// LocalNonPersistentFlags would build a new set on every call, which
		// showed in the start-up time of every command.
		if c.Flags().Lookup(name) == nil {
			continue
		}
		if _, ok := c.GetFlagCompletionFunc(name); !ok {
			_ = c.RegisterFlagCompletionFunc(name, fn)
		}
	}
	for _, sub := range c.Commands() {
		registerFlagCompletions(sub, f)
	}
}
