// Package cmd holds apikey's commands: each parses its flags, and the
// settings it reads, into an Options struct, which also holds what its run
// function uses (streams, a store opener, a clock...) as the Factory makes
// them. The run function does the work through the store and prints through
// output, so that a test can call it with fakes. Main maps errors to exit
// codes in one place.
package cmd

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/config"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/pflag"
)

// Factory makes what commands need, lazily, so that `apikey version` never
// reads a config file or opens the database. NewCmdX copies what its run
// function uses into its Options.
type Factory struct {
	IO  *iostreams.IOStreams
	Env config.Env
	Now func() time.Time

	// Prompter asks questions at a terminal.
	Prompter func() prompt.Prompter

	configFlag string
	flags      config.Flags
	cfg        *config.Config
	st         *store.Store
	// ctx is cancelled by Ctrl-C; a prompt that is open then gives up.
	ctx context.Context
	// started is set once flags and arguments are parsed: an error without a
	// kind before that is a usage error of cobra's.
	started bool
}

// NewFactory returns a Factory over the given streams and environment.
func NewFactory(ios *iostreams.IOStreams, env config.Env) *Factory {
	f := &Factory{IO: ios, Env: env, Now: time.Now, ctx: context.Background()}
	f.Prompter = func() prompt.Prompter {
		return prompt.New(f.ctx, f.IO.In, f.IO.ErrOut, f.IO.Accessible())
	}
	return f
}

// bindFlags lets the configuration see the flags the user set on cmd.
func (f *Factory) bindFlags(cmd interface{ Flags() *pflag.FlagSet }) {
	f.flags = func(name string) (string, bool) {
		fl := cmd.Flags().Lookup(name)
		if fl == nil || !fl.Changed {
			return "", false
		}
		return fl.Value.String(), true
	}
}

// Config loads the effective configuration once.
func (f *Factory) Config() (*config.Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	cfg, err := config.Load(f.configFlag, f.Env, f.flags)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		warn(f.IO, "%s", w)
	}
	f.cfg = cfg
	f.IO.SetNeverPrompt(cfg.Bool("no_input"))
	f.IO.SetAccessible(cfg.Bool("accessible"))
	return cfg, nil
}

// Store opens the store once, creating it when it does not exist: for
// commands that write.
func (f *Factory) Store(ctx context.Context) (Store, error) {
	return f.openStore(ctx)
}

// ExistingStore opens the store once, and fails when there is none: a
// command that only reads must not create an empty store where a mistyped
// --db points, and answer from it as if all were well.
func (f *Factory) ExistingStore(ctx context.Context) (Store, error) {
	return f.openStore(ctx, store.MustExist())
}

func (f *Factory) openStore(ctx context.Context, opts ...store.Option) (Store, error) {
	if f.st != nil {
		return f.st, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Get("db"), opts...)
	if err != nil {
		return nil, err
	}
	f.st = st
	return st, nil
}

// Actor is who the audit trail records for this invocation.
func (f *Factory) Actor() (string, error) {
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	return cfg.Get("actor"), nil
}

// Sealer returns the master-key sealer, or nil when no master key is set.
func (f *Factory) Sealer() (*apikey.Sealer, error) {
	mk, ok := f.Env(apikey.MasterKeyEnv)
	if !ok || mk == "" {
		return nil, nil
	}
	return apikey.ParseMasterKey(mk)
}

// warn prints a warning, masked as errors are: a warning may quote what the
// user wrote, such as a setting's name.
func warn(ios *iostreams.IOStreams, format string, args ...any) {
	ios.ErrPrintf("warning: %s\n", redactSecrets(fmt.Sprintf(format, args...)))
}

// Close releases the store.
func (f *Factory) Close() {
	if f.st != nil {
		f.st.Close()
		f.st = nil
	}
}

func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }
