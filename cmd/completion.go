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

// completeKeys completes key ids, with name and company as the description.
// Secrets are never read, only ids, names and hints.
func completeKeys(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		f.bindFlags(cmd)
		st, err := f.Store(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		taken := map[string]bool{}
		for _, a := range args {
			taken[a] = true
		}
		var out []cobra.Completion
		prefix := strings.ToLower(toComplete)
		_ = st.EachKey(ctx, store.KeyFilter{Now: f.Now()}, func(k apikey.Key) error {
			if strings.HasPrefix(k.ID, prefix) && !taken[k.ID] {
				out = append(out, cobra.CompletionWithDesc(k.ID, k.Name+" ("+k.Company.Name+", "+string(k.EffectiveStatus(f.Now()))+")"))
			}
			if len(out) >= 1000 {
				return context.Canceled
			}
			return nil
		})
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeCompanies completes company names and refs.
func completeCompanies(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		f.bindFlags(cmd)
		st, err := f.Store(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		cs, err := st.ListCompanies(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		lower := strings.ToLower(toComplete)
		var out []cobra.Completion
		for _, c := range cs {
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
