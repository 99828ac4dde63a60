package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/apikeyhq/apikey/internal/portable"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// ImportOptions are the inputs of `import`.
type ImportOptions struct {
	IO *iostreams.IOStreams
	// Store opens the store, creating it: an import into a new store is
	// what moving to another engine is. ExistingStore is for a dry run,
	// which must not create one.
	Store         func(context.Context) (Store, error)
	ExistingStore func(context.Context) (Store, error)
	Now           func() time.Time

	// From the configuration (or the --actor flag).
	Actor string

	File       string // "" or "-": standard input
	Plaintext  bool
	DryRun     bool
	OnConflict string
	Output     string
}

// NewCmdImport wires `import`.
func NewCmdImport(f *Factory, runF func(context.Context, *ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IO, Store: f.Store, ExistingStore: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:   "import [FILE|-] [--dry-run] [--on-conflict fail|skip] | import --plaintext FILE.csv",
		Short: "Read an export, or legacy keys, into the store",
		Long: `Read a file that 'apikey export' wrote into this store, whichever engine
either is: companies, keys and the audit trail keep their ids and times, and
every key verifies with the secret it had. What the store holds already, as
it is, is left alone: importing a file twice changes nothing the second time.
Events are appended in the order of the file; an event's database role
(PostgreSQL) is kept in its details as origin_db_role.

A record that conflicts with the store (a company of the same name or ref and
another id, a key id or name taken, a secret that is another key's) is
reported with its line. By default (--on-conflict fail) nothing is imported
when there is one (exit 5); --on-conflict skip imports the rest. A malformed
line is reported with its number and nothing is imported (exit 2). --dry-run
does everything but commit, and reports what would happen. An import that
changes the store is recorded in the audit trail as store.import.

--plaintext reads keys of the system apikey replaces from CSV with the header
company,name,secret (then optionally status,expires_at,scopes,ref; scopes
separated by spaces). Each secret, 16 to 256 printable ASCII characters
without spaces, is hashed as it is read and never stored or printed; the
keys are marked legacy, companies are made as needed (with the ref given),
and verify and serve accept the secrets as they are. 'apikey rotate' gives
a legacy key a secret of apikey's format. See docs/export.md.`,
		Example: `  apikey import backup.jsonl
  apikey export --db old.db | apikey --db postgres://apikey@db.internal/apikey import -
  apikey import backup.jsonl --dry-run
  apikey import backup.jsonl --on-conflict skip -o json | jq .conflicts
  apikey import --plaintext legacy-keys.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return apikey.Usagef("unexpected argument %q", args[1]).WithHint("import reads one file")
			}
			if len(args) == 1 && strings.TrimSpace(args[0]) == "" {
				return apikey.Usagef("file name must not be empty")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Actor = cfg.Get("actor")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return importRun(cmd.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.Plaintext, "plaintext", false, "read legacy keys from CSV (company,name,secret[,status,expires_at,scopes,ref])")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "report what would be imported, and change nothing")
	c.Flags().StringVar(&opts.OnConflict, "on-conflict", "fail", "what a conflict does: fail (import nothing) or skip (import the rest)")
	c.Flags().StringVarP(&opts.Output, "output", "o", string(output.Table), "output format: table (a summary on standard error) or json (the report)")
	c.RegisterFlagCompletionFunc("on-conflict", cobra.FixedCompletions([]string{"fail", "skip"}, cobra.ShellCompDirectiveNoFileComp))
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func importRun(ctx context.Context, opts *ImportOptions) error {
	format, err := output.ParseFormat(opts.Output)
	if err != nil {
		return err
	}
	if format == output.CSV {
		return apikey.Usagef("import prints no CSV").WithHint("use -o json for the report")
	}
	o := store.ImportOptions{DryRun: opts.DryRun, Actor: opts.Actor}
	switch opts.OnConflict {
	case "fail":
	case "skip":
		o.OnConflict = store.ConflictSkip
	default:
		return apikey.Usagef("invalid value %q for --on-conflict", opts.OnConflict).WithHint("use fail or skip")
	}
	in, closeIn, err := importSource(opts.IO, opts.File)
	if err != nil {
		return err
	}
	defer closeIn()
	// The file's form is checked before the store is opened: a file that
	// is not an export at all is refused before anything is touched.
	var rep store.ImportReport
	var run func(Store) (store.ImportReport, error)
	if opts.Plaintext {
		lr, err := portable.NewLegacyReader(in)
		if err != nil {
			return err
		}
		o.Details = map[string]any{"format": "csv"}
		run = func(st Store) (store.ImportReport, error) {
			next, stop := portable.ReadAhead(lr.Next, readAhead)
			defer stop()
			return st.ImportLegacy(ctx, next, o)
		}
	} else {
		rd, err := portable.NewReader(in)
		if err != nil {
			return err
		}
		h := rd.Header()
		o.Details = map[string]any{"format": portable.Format, "version": h.Version, "source": h.Source, "exported_at": h.ExportedAt.Format(time.RFC3339)}
		run = func(st Store) (store.ImportReport, error) {
			next, stop := portable.ReadAhead(rd.Next, readAhead)
			defer stop()
			return st.Import(ctx, next, o)
		}
	}
	open := opts.Store
	if opts.DryRun {
		open = opts.ExistingStore
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	rep, err = run(st)
	if err != nil && apikey.KindOf(err) != apikey.KindConflict {
		return err
	}
	if format == output.JSON {
		if werr := output.WriteJSON(opts.IO.Out, ImportReportView(rep)); werr != nil {
			return werr
		}
	} else {
		printImportReport(opts.IO, rep, opts.Plaintext, o.OnConflict)
	}
	return err
}

// ImportReportView is the report as `import -o json` prints it.
func ImportReportView(r store.ImportReport) output.ImportReportJSON {
	counts := func(c store.ImportCounts) output.ImportCountsJSON {
		return output.ImportCountsJSON{New: c.New, Unchanged: c.Unchanged, Skipped: c.Skipped}
	}
	v := output.ImportReportJSON{DryRun: r.DryRun, Companies: counts(r.Companies), Keys: counts(r.Keys), Events: counts(r.Events),
		Conflicts: make([]output.ImportConflictJSON, 0, len(r.Conflicts)), ConflictCount: r.ConflictCount}
	for _, c := range r.Conflicts {
		cj := output.ImportConflictJSON{Line: c.Line, Record: c.Record, Name: c.Name, Reason: c.Reason}
		if c.ID != "" {
			cj.ID = &c.ID
		}
		v.Conflicts = append(v.Conflicts, cj)
	}
	return v
}

// readAhead is how many records are read and decoded ahead of the store.
const readAhead = 2000

// importSource opens the file to import, or standard input for "" and "-".
// Standard input at a terminal is refused rather than waited on.
func importSource(ios *iostreams.IOStreams, file string) (io.Reader, func(), error) {
	if file == "" || file == "-" {
		if ios.IsStdinTTY() {
			return nil, nil, apikey.Usagef("no file to import").WithHint("give a file, or pipe one into 'apikey import -'")
		}
		return ios.In, func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, apikey.NotFoundf("file %s does not exist", file)
		}
		return nil, nil, apikey.Runtimef("cannot read %s: %v", file, pathError(err))
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, nil, apikey.Usagef("%s is a directory", file)
	}
	return f, func() { f.Close() }, nil
}

// printImportReport says on standard error what the import did: each
// conflict with its line, then a summary.
func printImportReport(ios *iostreams.IOStreams, rep store.ImportReport, legacy bool, on store.OnConflict) {
	label := "conflict"
	if on == store.ConflictSkip {
		label = "skipped"
	}
	for _, c := range rep.Conflicts {
		ios.ErrPrintf("%s: line %d: %s\n", label, c.Line, c.Reason)
	}
	if more := rep.ConflictCount - len(rep.Conflicts); more > 0 {
		ios.ErrPrintf("%s: … and %s more\n", label, plural(more, "conflict", "conflicts"))
	}
	if rep.ConflictCount > 0 && on == store.ConflictFail {
		return // the error says it all
	}
	verb, nothing, none := "Imported", "Nothing to do", "Nothing imported."
	if rep.DryRun {
		verb, nothing, none = "Would import", "Nothing to do (dry run)", "Nothing would be imported (dry run)."
	}
	skipped := rep.Companies.Skipped + rep.Keys.Skipped + rep.Events.Skipped
	switch {
	case rep.Changed() && legacy:
		ios.ErrPrintf("%s %s and %s.%s\n", verb, plural(rep.Keys.New, "legacy key", "legacy keys"), plural(rep.Companies.New, "new company", "new companies"),
			already(plural(rep.Keys.Unchanged, "key", "keys"), rep.Keys.Unchanged))
	case rep.Changed():
		ios.ErrPrintf("%s %s.%s\n", verb, records(rep.Companies.New, rep.Keys.New, rep.Events.New),
			already(records(rep.Companies.Unchanged, rep.Keys.Unchanged, rep.Events.Unchanged), rep.Companies.Unchanged+rep.Keys.Unchanged+rep.Events.Unchanged))
	case skipped > 0:
		ios.ErrPrintf("%s\n", none)
	case legacy:
		ios.ErrPrintf("%s: the store holds every key of the file already (%s).\n", nothing, plural(rep.Keys.Unchanged, "key", "keys"))
	default:
		ios.ErrPrintf("%s: the store holds every record of the file already (%s).\n", nothing, records(rep.Companies.Unchanged, rep.Keys.Unchanged, rep.Events.Unchanged))
	}
	if skipped > 0 {
		ios.ErrPrintf("Skipped %s (in conflict, or of a record in conflict).\n", records(rep.Companies.Skipped, rep.Keys.Skipped, rep.Events.Skipped))
	}
}

func records(companies, keys, events int) string {
	return fmt.Sprintf("%s, %s and %s", plural(companies, "company", "companies"), plural(keys, "key", "keys"), plural(events, "event", "events"))
}

// already says what of the file the store held already, when n > 0.
func already(what string, n int) string {
	if n == 0 {
		return ""
	}
	return " The store held " + what + " of the file already."
}
