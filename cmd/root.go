package cmd

import (
	"errors"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NewCmdRoot builds the apikey command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "apikey",
		Short: "Issue and control the API keys of your customers' integrations",
		Long: `apikey issues and controls the API keys that the integrations of a
multi-tenant service use. Each company owns keys; an API client sends its key
and its company id in two headers. apikey creates keys and their credential
snippets, switches them off and on, rotates and deletes them, keeps an audit
trail, and answers whether a presented key is valid (verify, serve).`,
		Example: `  apikey create --company Acme --create-company --name "billing sync"
  apikey list --company Acme
  apikey disable 3f2a
  echo "$KEY" | apikey verify`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f.started = true
			f.bindFlags(cmd)
			return nil
		},
	}
	// --version prints what `apikey version` prints. The flag is declared
	// here so that cobra does not add -v for it, which a later --verbose may
	// want.
	root.Version = versionLine()
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print the version of apikey, as 'apikey version' does")
	root.SetHelpCommand(newCmdHelp())
	pf := root.PersistentFlags()
	pf.StringVar(&f.configFlag, "config", "", "config file (default $XDG_CONFIG_HOME/apikey/config.yaml)")
	pf.String("db", "", "database file (default $XDG_DATA_HOME/apikey/apikey.db)")
	pf.String("actor", "", "who the audit trail records (default: config actor, else your user name)")
	pf.Bool("no-input", false, "never prompt; fail where a prompt would be needed")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		help := "see '" + c.CommandPath() + " --help'"
		// pflag's message for a bad value ends in the Go parser's error
		// (strconv.ParseInt: parsing "x": invalid syntax): say it plainly.
		var bad *pflag.InvalidValueError
		if errors.As(err, &bad) {
			hint := help
			switch bad.GetFlag().Value.Type() {
			case "int":
				hint = "give a whole number"
			case "bool":
				hint = "use true or false"
			}
			return apikey.Usagef("invalid value %q for --%s", bad.GetValue(), bad.GetFlag().Name).WithHint(hint)
		}
		return apikey.Usagef("%s", err.Error()).WithHint(help)
	})

	root.AddGroup(&cobra.Group{ID: "keys", Title: "Keys:"}, &cobra.Group{ID: "companies", Title: "Companies and audit:"}, &cobra.Group{ID: "move", Title: "Backups and moves:"}, &cobra.Group{ID: "verify", Title: "Verification:"})
	for _, c := range []*cobra.Command{
		NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil),
		NewCmdStatus(f, toggleVerb, nil), NewCmdStatus(f, enableVerb, nil), NewCmdStatus(f, disableVerb, nil),
		NewCmdUpdate(f, nil), NewCmdRotate(f, nil), NewCmdDelete(f, nil),
	} {
		c.GroupID = "keys"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{NewCmdCompany(f), NewCmdHistory(f, nil)} {
		c.GroupID = "companies"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{NewCmdExport(f, nil), NewCmdImport(f, nil)} {
		c.GroupID = "move"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{NewCmdVerify(f, nil), NewCmdServe(f, nil), NewCmdScan(f, nil)} {
		c.GroupID = "verify"
		root.AddCommand(c)
	}
	root.AddCommand(NewCmdConfig(f), NewCmdVersion(f), NewCmdCompletion(f))
	registerFlagCompletions(root, f)
	return root
}

// newCmdHelp is cobra's help command, except that a topic it does not know
// is a usage error (exit 2), as an unknown command is: cobra's own prints
// the usage and exits 0, so that a script asking for help on a command this
// version lacks would not hear of it.
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long: `Help provides help for any command in the application.
Simply type apikey help [path to command] for full details.`,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var completions []cobra.Completion
			for _, sub := range cmd.Commands() {
				if (sub.IsAvailableCommand() || sub.Name() == "help") && strings.HasPrefix(sub.Name(), toComplete) {
					completions = append(completions, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return completions, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if cmd == nil || err != nil || len(rest) > 0 {
				near := c.Root()
				if cmd != nil {
					near = cmd
				}
				return apikey.Usagef("unknown help topic %q", strings.Join(args, " ")).WithHint("see '" + near.CommandPath() + " --help'")
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// addOutputFlag adds -o/--output to a command that prints records.
func addOutputFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVarP(p, "output", "o", string(output.Table), "output format: table, json or csv")
}

// newPrinter returns a printer for the given --output value, in colour
// where the streams allow it, with times relative to now.
func newPrinter(ios *iostreams.IOStreams, format string, now time.Time) (*output.Printer, error) {
	ft, err := output.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	return &output.Printer{Format: ft, Color: ios.ColorEnabled(), TTY: ios.IsStdoutTTY(), Now: now}, nil
}

// filterFlags refuses a filter flag given as an empty value. An empty filter
// would mean no filter: in a script, `--company "$C"` with C unset would
// list, or delete, every company's keys. (A blank company or status is
// refused further on, as any reference or status that names nothing; a
// blank search is a search for a space.)
func filterFlags(cmd *cobra.Command, names ...string) error {
	for _, name := range names {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed && fl.Value.String() == "" {
			return apikey.Usagef("--%s must not be empty", name)
		}
	}
	return nil
}

// references checks a command's KEY or COMPANY arguments, after count has
// checked how many there are: an empty or blank one is a usage error before
// anything is read or changed. In a script, `apikey history "$K"` with K
// unset must not mean every key, as `--company ""` must not (filterFlags).
func references(what string, count cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if count != nil {
			if err := count(cmd, args); err != nil {
				return err
			}
		}
		for _, a := range args {
			if strings.TrimSpace(a) == "" {
				return apikey.Usagef("%s reference must not be empty", what)
			}
		}
		return nil
	}
}

// noArgs, exactArgs and minArgs are cobra's validators with errors a user can
// read and the usage exit code.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return apikey.Usagef("unexpected argument %q", args[0]).WithHint("see '" + cmd.CommandPath() + " --help'")
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return apikey.Usagef("missing %s", what).WithHint("see '" + cmd.CommandPath() + " --help'")
		}
		if len(args) > n {
			return apikey.Usagef("unexpected argument %q", args[n]).WithHint("see '" + cmd.CommandPath() + " --help'")
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return apikey.Usagef("missing %s", what).WithHint("see '" + cmd.CommandPath() + " --help'")
		}
		return nil
	}
}
