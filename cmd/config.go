package cmd

import (
	"fmt"

	"github.com/apikeyhq/apikey/internal/config"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/spf13/cobra"
)

// NewCmdConfig groups `config show` and `config path`.
func NewCmdConfig(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "config COMMAND",
		Short: "Show the effective configuration",
		Long: `Settings come from flags, then environment variables, then the config file,
then defaults. The variable of a setting is APIKEY_ followed by its key in
upper case with dots as underscores: APIKEY_DB, APIKEY_HEADERS_COMPANY.
The config file is --config FILE, else $APIKEY_CONFIG, else
$XDG_CONFIG_HOME/apikey/config.yaml.

A config file sets any of db, key_prefix, headers.key, headers.company, actor,
api_url, serve.addr, serve.trusted_proxies, serve.metrics, serve.preload,
serve.stale_for, serve.log_format, serve.log_level, no_input and accessible. A list
(serve.trusted_proxies) is a YAML list, or comma-separated in a variable.
For example:

    db: /var/lib/apikey/apikey.db
    key_prefix: acme
    api_url: https://api.example.com
    headers:
      key: X-Api-Key
      company: X-Company
    serve:
      trusted_proxies: [127.0.0.1, 10.0.0.0/8]`,
		Example: `  apikey config show
  apikey config path
  APIKEY_DB=/tmp/test.db apikey config show`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(NewCmdConfigShow(f, nil), NewCmdConfigPath(f, nil))
	return c
}

// ConfigShowOptions are the inputs of `config show`.
type ConfigShowOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)

	Output string
}

// NewCmdConfigShow wires `config show`.
func NewCmdConfigShow(f *Factory, runF func(*ConfigShowOptions) error) *cobra.Command {
	opts := &ConfigShowOptions{IO: f.IO, Config: f.Config}
	c := &cobra.Command{
		Use:   "show",
		Short: "Print each setting, its value and where it came from",
		Example: `  apikey config show
  APIKEY_KEY_PREFIX=acme apikey config show -o json | jq -r '.[] | select(.key=="key_prefix").source'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return configShowRun(opts)
		},
	}
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

func configShowRun(opts *ConfigShowOptions) error {
	format, err := output.ParseFormat(opts.Output)
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	vals := cfg.Values()
	switch format {
	case output.JSON:
		return output.WriteJSON(opts.IO.Out, vals)
	case output.CSV:
		w := output.NewCSVWriter(opts.IO.Out)
		w.Write([]string{"key", "value", "source", "origin"})
		for _, v := range vals {
			w.Write([]string{v.Key, v.Value, v.Source, v.Origin})
		}
		w.Flush()
		return w.Error()
	}
	rows := make([][]string, len(vals))
	for i, v := range vals {
		src := v.Source
		if v.Origin != "" {
			src += " (" + v.Origin + ")"
		}
		val := v.Value
		if val == "" {
			val = `""`
		}
		rows[i] = []string{v.Key, val, src}
	}
	return output.WriteTable(opts.IO.Out, []string{"KEY", "VALUE", "SOURCE"}, rows)
}

// ConfigPathOptions are the inputs of `config path`.
type ConfigPathOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
}

// NewCmdConfigPath wires `config path`.
func NewCmdConfigPath(f *Factory, runF func(*ConfigPathOptions) error) *cobra.Command {
	opts := &ConfigPathOptions{IO: f.IO, Config: f.Config}
	return &cobra.Command{
		Use:   "path",
		Short: "Print the config file apikey reads",
		Long:  "Print the path of the config file apikey reads. It need not exist; when it does not, only flags, environment and defaults apply.",
		Example: `  apikey config path
  $EDITOR "$(apikey config path)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return configPathRun(opts)
		},
	}
}

func configPathRun(opts *ConfigPathOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, cfg.File)
	if !cfg.FileUsed {
		opts.IO.ErrPrintf("(it does not exist yet)\n")
	}
	return nil
}
