package cmd

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/portable"
	"github.com/spf13/cobra"
)

// ExportOptions are the inputs of `export`.
type ExportOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	Companies []string
	File      string
}

// NewCmdExport wires `export`.
func NewCmdExport(f *Factory, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:   "export [--company C]... [-f FILE]",
		Short: "Write the store as JSON Lines, for a backup or another store",
		Long: `Write the whole store, or the companies given with --company, as JSON Lines:
a header, the companies, the keys with their secrets' hashes, grace ends and
sealed copies, the audit trail (deleted keys and companies included), and an
end record. 'apikey import' reads it into any store, SQLite or PostgreSQL.

The file holds no secret, but what it holds lets whoever has it check guesses
of secrets offline and, with the master key, open the sealed copies: keep it
as you keep the database. -f writes it with mode 0600, in full or not at all.
The export reads one snapshot of the store and never holds it all in memory.
See docs/export.md for every field.`,
		Example: `  apikey export -f backup.jsonl
  apikey export --company Acme --company Globex > two.jsonl
  apikey export | apikey --db postgres://apikey@db.internal/apikey import -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filterFlags(cmd, "company", "file"); err != nil {
				return err
			}
			for _, c := range opts.Companies {
				if c == "" {
					return apikey.Usagef("--company must not be empty")
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	c.Flags().StringArrayVarP(&opts.Companies, "company", "c", nil, "export only this company, its keys and its events (repeatable)")
	c.Flags().StringVarP(&opts.File, "file", "f", "", "write to this file instead of standard output")
	c.RegisterFlagCompletionFunc("company", completeCompanies(f))
	return c
}

func exportRun(ctx context.Context, opts *ExportOptions) error {
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	out, commit, abort, err := exportTarget(opts.IO, opts.File)
	if err != nil {
		return err
	}
	defer abort()
	w := portable.NewWriter(out, portable.Header{ExportedAt: opts.Now(), Source: st.Kind(), Apikey: Version()})
	var refs []string
	if len(opts.Companies) > 0 {
		refs = opts.Companies
	}
	if err := st.Export(ctx, refs, w); err != nil {
		return err
	}
	end, err := w.Close()
	if err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	where := ""
	if opts.File != "" && opts.File != "-" {
		where = " to " + opts.File
	}
	opts.IO.ErrPrintf("Exported %s, %s and %s%s.\n", plural(end.Companies, "company", "companies"), plural(end.Keys, "key", "keys"), plural(end.Events, "event", "events"), where)
	return nil
}

// exportTarget opens where the export goes: standard output, or a file
// written under a temporary name beside it (mode 0600, since it holds what
// the database holds) and renamed into place by commit, so that a failed
// export never leaves half a backup where the last good one was. abort
// removes the temporary file unless commit ran.
func exportTarget(ios *iostreams.IOStreams, file string) (out io.Writer, commit func() error, abort func(), err error) {
	if file == "" || file == "-" {
		return ios.Out, func() error { return nil }, func() {}, nil
	}
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		return nil, nil, nil, apikey.Usagef("%s is a directory", file)
	}
	if isDatabase(file) {
		// `export -f apikey.db` would put JSON where the store was.
		return nil, nil, nil, apikey.Usagef("%s is a database; export writes JSON Lines", file).WithHint("give another file; nothing was changed")
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return nil, nil, nil, apikey.Runtimef("cannot create %s: %v", file, pathError(err))
	}
	done := false
	abort = func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}
	commit = func() error {
		if err := tmp.Sync(); err != nil {
			return apikey.Runtimef("cannot write %s: %v", file, pathError(err))
		}
		if err := tmp.Close(); err != nil {
			return apikey.Runtimef("cannot write %s: %v", file, pathError(err))
		}
		if err := os.Rename(tmp.Name(), file); err != nil {
			return apikey.Runtimef("cannot write %s: %v", file, pathError(err))
		}
		done = true
		return nil
	}
	// CreateTemp makes the file 0600 already; say so for the reader.
	if err := tmp.Chmod(0o600); err != nil {
		abort()
		return nil, nil, nil, apikey.Runtimef("cannot create %s: %v", file, pathError(err))
	}
	return tmp, commit, abort, nil
}

// isDatabase reports whether file is a SQLite database, which an export
// must not replace.
func isDatabase(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == "SQLite format 3\x00"
}

// pathError is an os error without the operation and path, which the
// message names already.
func pathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	if le, ok := err.(*os.LinkError); ok {
		return le.Err
	}
	return err
}
