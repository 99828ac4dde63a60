package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/scan"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// ScanOptions are the inputs of `scan`.
type ScanOptions struct {
	IO       *iostreams.IOStreams
	Store    func(context.Context) (Store, error)
	Prompter func() prompt.Prompter
	Now      func() time.Time
	Actor    string

	Paths   []string
	Disable bool
	Yes     bool
	Output  string
}

// NewCmdScan wires `scan`.
func NewCmdScan(f *Factory, runF func(context.Context, *ScanOptions) error) *cobra.Command {
	// The store is read only when something is found, and never created:
	// scanning needs none (see scanRun).
	opts := &ScanOptions{IO: f.IO, Store: f.ExistingStore, Prompter: f.Prompter, Now: f.Now}
	c := &cobra.Command{
		Use:   "scan [PATH...|-]",
		Short: "Find leaked secrets in files or standard input",
		Long: `Find apikey secrets in files, directory trees (recursively) or standard input
("-"), and name the key of each from the store, never printing the secret: its
hint only. Only text with a valid checksum counts, so random strings are not
reported; secrets of any key prefix are found. Without PATH, the current
directory is scanned. Binary files, .git directories and the symbolic links
met in a tree are skipped.

With --disable, the keys found that are active are switched off, after a
confirmation (--yes without a terminal), and the history records where each
was found. Scanning needs no store: without one, the keys are unknown.

Exit status 0: nothing found; 6: secrets found; 1: nothing found, but a file
could not be read; 2: a bad flag or PATH, or --disable not confirmed.`,
		Example: `  apikey scan
  git diff --cached -U0 | grep '^+' | apikey scan -
  git log -p | apikey scan - -o json | jq -r '.[] | "\(.path):\(.line) \(.key.name // "unknown")"'
  apikey scan . -o sarif > apikey.sarif
  apikey scan /var/log/app --disable --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			// Loading the configuration also applies no_input to the
			// streams, which decide whether a confirmation can be asked.
			var err error
			if opts.Actor, err = f.Actor(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return scanRun(cmd.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&opts.Disable, "disable", false, "switch off the active keys whose secrets are found")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "with --disable: do not ask for confirmation")
	fl.StringVarP(&opts.Output, "output", "o", string(output.Table), "output format: table, json or sarif")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "sarif"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func scanRun(ctx context.Context, opts *ScanOptions) error {
	format := output.Format(opts.Output)
	switch format {
	case output.Table, output.JSON, output.SARIF:
	default:
		return apikey.Usagef("invalid output format %q", opts.Output).WithHint("use table, json or sarif")
	}
	p := &output.Printer{Format: format, Color: opts.IO.ColorEnabled(), TTY: opts.IO.IsStdoutTTY(), Now: opts.Now()}
	if opts.Disable && !opts.Yes && !opts.IO.CanPrompt() {
		return apikey.Usagef("--yes required when not running interactively").WithHint("nothing was scanned or disabled")
	}
	paths := opts.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	stdin := false
	for _, path := range paths {
		if path == scan.Stdin {
			if stdin {
				return apikey.Usagef("standard input (-) given twice")
			}
			stdin = true
			continue
		}
		if _, err := os.Stat(path); err != nil {
			var reason error = err
			if pe := (*os.PathError)(nil); errors.As(err, &pe) {
				reason = pe.Err
			}
			return apikey.Usagef("cannot scan %s: %v", path, reason)
		}
	}

	var found []output.Finding
	hashes := map[string]apikey.Hash{} // by fingerprint
	failed := 0
	sc := &scan.Scanner{
		Stdin: opts.IO.In,
		Found: func(f scan.Finding) error {
			fp := fingerprint(f.Hash)
			hashes[fp] = f.Hash
			found = append(found, output.Finding{
				Path: f.Path, Line: f.Line, Column: f.Column, Length: f.Length, Hint: f.Hint, Fingerprint: fp,
			})
			return nil
		},
		Failed: func(path string, err error) {
			failed++
			warn(opts.IO, "cannot read %s: %v", path, err)
		},
	}
	if err := sc.Scan(ctx, paths); err != nil {
		if errors.Is(err, context.Canceled) {
			return apikey.Runtimef("interrupted").WithHint("nothing was disabled")
		}
		return apikey.Runtimef("scan stopped: %v", err)
	}

	var disableErr error
	if len(found) > 0 {
		var err error
		if disableErr, err = nameKeys(ctx, opts, found, hashes, p.Now); err != nil {
			return err
		}
	}
	var err error
	if format == output.SARIF {
		err = p.WriteSARIF(opts.IO.Out, found, Version())
	} else if len(found) > 0 || format != output.Table {
		err = p.Findings(opts.IO.Out, found)
	}
	if err != nil {
		return err
	}
	opts.IO.ErrPrintf("%s\n", scanSummary(found, sc.Stats))
	switch {
	case disableErr != nil:
		return disableErr
	case len(found) > 0:
		return silentError{code: ExitLeaked}
	case failed > 0:
		return apikey.Runtimef("could not read %s", plural(failed, "path", "paths")).WithHint("nothing was found in the rest")
	}
	return nil
}

// fingerprint names a secret in output without revealing it, or its hash:
// the SHA-256 of the hash the store keeps.
func fingerprint(h apikey.Hash) string {
	sum := sha256.Sum256(h[:])
	return hex.EncodeToString(sum[:])
}

// nameKeys looks up the key of each secret found, once per secret, and
// with --disable switches off the keys that the secrets found still open.
// Without a store, no key is known: a developer's pre-commit hook and a CI
// job scan without one; --disable needs one. A refused confirmation is
// returned as refused, after the findings are filled in, so that they are
// printed all the same.
func nameKeys(ctx context.Context, opts *ScanOptions, found []output.Finding, hashes map[string]apikey.Hash, now time.Time) (refused, err error) {
	st, err := opts.Store(ctx)
	if errors.Is(err, store.ErrNoStore) && !opts.Disable {
		msg := err.Error()
		var ae *apikey.Error
		if errors.As(err, &ae) {
			msg = ae.Msg
		}
		warn(opts.IO, "%s: the keys of the secrets found are not known", msg)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type known struct {
		key     apikey.Key
		expires *time.Time
	}
	keys := map[string]*known{} // by fingerprint; nil: not known
	for fp, h := range hashes {
		pres, ok, err := st.LookupSecret(ctx, h)
		if err != nil {
			return nil, err
		}
		if ok {
			keys[fp] = &known{pres.Key, pres.SecretExpiresAt}
		}
	}
	// The keys to switch off, in the order their secrets were found, with
	// where each was found first and how often.
	var ids []string
	first := map[string]int{}
	count := map[string]int{}
	for i := range found {
		kn := keys[found[i].Fingerprint]
		if kn == nil {
			continue
		}
		k := kn.key
		found[i].Key, found[i].SecretExpiresAt = &k, kn.expires
		if !opts.Disable || k.Status != apikey.StatusActive || (kn.expires != nil && !now.Before(*kn.expires)) {
			// An inactive key stays so; an expired one is switched off
			// too, lest its expiry be moved. An old secret past its grace
			// opens nothing: its key is left alone.
			continue
		}
		if _, seen := first[k.ID]; !seen {
			first[k.ID] = i
			ids = append(ids, k.ID)
		}
		count[k.ID]++
	}
	if !opts.Disable {
		return nil, nil
	}
	if len(ids) == 0 {
		opts.IO.ErrPrintf("No active key to disable.\n")
		return nil, nil
	}
	if !opts.Yes {
		opts.IO.ErrPrintf("About to disable %s whose secrets were found:\n", plural(len(ids), "key", "keys"))
		for _, id := range ids {
			f := found[first[id]]
			opts.IO.ErrPrintf("  %s  (%s)  %s  found in %s\n", f.Key.Name, f.Key.Company.Name, id, f.Location())
		}
		ok, err := opts.Prompter().Confirm("Are you sure?", "Clients that use these keys will be refused until they are enabled again.")
		if err != nil {
			return nil, err
		}
		if !ok {
			return apikey.Usagef("not confirmed").WithHint("nothing was disabled"), nil
		}
	}
	res, err := st.SetStatus(ctx, ids, "", store.Disable, opts.Actor, store.WithDetails(func(k apikey.Key) map[string]any {
		f := found[first[k.ID]]
		return map[string]any{"found_in": f.Path + ":" + strconv.Itoa(f.Line), "findings": count[k.ID]}
	}))
	if err != nil {
		return nil, err
	}
	changed := map[string]apikey.Key{}
	for _, r := range res {
		if r.Changed {
			changed[r.Key.ID] = r.Key
		}
	}
	for i := range found {
		if f := &found[i]; f.Key != nil {
			if k, ok := changed[f.Key.ID]; ok {
				f.Key, f.Disabled = &k, true
			}
		}
	}
	opts.IO.ErrPrintf("Disabled %s.\n", plural(len(changed), "key", "keys"))
	return nil, nil
}

// scanSummary is the line scan ends with on standard error.
func scanSummary(found []output.Finding, st scan.Stats) string {
	var b strings.Builder
	files := map[string]bool{}
	secrets := map[string]bool{}
	unknown := map[string]bool{}
	for _, f := range found {
		files[f.Path] = true
		secrets[f.Fingerprint] = true
		if f.Key == nil {
			unknown[f.Fingerprint] = true
		}
	}
	read := plural(st.Files, "file", "files")
	if len(found) == 0 {
		fmt.Fprintf(&b, "No secrets found in %s", read)
	} else {
		fmt.Fprintf(&b, "Found %s", plural(len(secrets), "secret", "secrets"))
		if len(found) > len(secrets) {
			fmt.Fprintf(&b, " (%d times)", len(found))
		}
		fmt.Fprintf(&b, " in %d of %s", len(files), read)
		if n := len(unknown); n > 0 {
			fmt.Fprintf(&b, ", %d of no known key", n)
		}
	}
	var skipped []string
	for _, s := range []struct {
		n         int
		one, many string
	}{{st.Binary, "binary file", "binary files"}, {st.Links, "symbolic link", "symbolic links"}, {st.Other, "special file", "special files"}} {
		if s.n > 0 {
			skipped = append(skipped, plural(s.n, s.one, s.many))
		}
	}
	if len(skipped) > 0 {
		b.WriteString("; skipped " + strings.Join(skipped, ", "))
	}
	b.WriteString(".")
	return b.String()
}
