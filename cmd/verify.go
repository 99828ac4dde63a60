package cmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// KeyEnv is the environment variable verify reads a secret from when it is
// not piped in. Secrets are never taken from arguments, which `ps` shows.
const KeyEnv = "APIKEY_KEY"

// VerifyOptions are the inputs of `verify`.
type VerifyOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	// EnvSecret is the value of APIKEY_KEY: the secret, when set; else it is
	// read from IO.In.
	EnvSecret string
	Company   string
	Output    string
}

// NewCmdVerify wires `verify`.
func NewCmdVerify(f *Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:   "verify [--company C]",
		Short: "Check a presented key",
		Long: `Read a secret from standard input (or APIKEY_KEY) and say whether it is valid
and whose it is. A mistyped key is refused by its checksum without touching the
database. A secret of another format is looked up only when the store holds
legacy keys (import --plaintext). With --company, a key of another company is
refused as invalid.

Exit status 0: valid; 4: not valid, with the reason (malformed, invalid,
inactive, expired, missing_key). Verification never writes to the database.`,
		Example: `  printf '%s' "$KEY" | apikey verify
  APIKEY_KEY="$KEY" apikey verify --company 23aee342-eccd-4fed-8553-7eb6092cea70 -o json
  apikey verify -o json < acme-ci.key | jq -r '.reason // .key.name'
  if apikey verify < acme-ci.key >/dev/null 2>&1; then echo "key accepted"; fi`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// --company "$HEADER" with the header missing must not accept a
			// key of any company.
			if err := filterFlags(cmd, "company"); err != nil {
				return err
			}
			opts.EnvSecret, _ = f.Env(KeyEnv)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	c.Flags().StringVarP(&opts.Company, "company", "c", "", "the company the key must belong to (id, name or ref)")
	addOutputFlag(c.Flags(), &opts.Output)
	return c
}

// readSecret takes the secret from APIKEY_KEY, else the first line of
// standard input (without echo at a terminal).
func readSecret(ios *iostreams.IOStreams, envSecret string) (string, error) {
	if envSecret != "" {
		return strings.TrimSpace(envSecret), nil
	}
	if file, ok := ios.In.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		ios.ErrPrintf("Key: ")
		b, err := term.ReadPassword(int(file.Fd()))
		ios.ErrPrintf("\n")
		if err != nil {
			return "", apikey.Runtimef("cannot read the key: %v", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	// Read a bounded first line: a secret is short, and a huge input must not
	// be held in memory.
	r := bufio.NewReaderSize(io.LimitReader(ios.In, 4096), 4096)
	line, err := r.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", apikey.Runtimef("cannot read the key from standard input: %v", err)
	}
	return strings.TrimSpace(line), nil
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	p, err := newPrinter(opts.IO, opts.Output, opts.Now())
	if err != nil {
		return err
	}
	secret, err := readSecret(opts.IO, opts.EnvSecret)
	if err != nil {
		return err
	}
	now := opts.Now()
	reason := apikey.ReasonNone
	var key apikey.Key
	legacy := secret != "" && apikey.CheckSecret(secret) != nil
	switch {
	case secret == "":
		reason = apikey.ReasonMissingKey
	case legacy && !apikey.LegacyCandidate(secret):
		// A mistyped apikey secret, or nothing a legacy system issues:
		// refused without a look at the store.
		reason = apikey.ReasonMalformed
	default:
		st, err := opts.Store(ctx)
		if err != nil {
			return err
		}
		if legacy {
			// Not of apikey's format: only a legacy secret could be it,
			// and only a store that has some can know it.
			n, err := st.LegacySecrets(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				reason = apikey.ReasonMalformed
				break
			}
		}
		pres, found, err := st.LookupSecret(ctx, apikey.HashSecret(secret))
		if err != nil {
			return err
		}
		companyID, known, err := claimedCompany(ctx, st, opts.Company)
		switch {
		case err != nil:
			return err
		case !found || !known:
			reason = apikey.ReasonInvalid
		default:
			key = pres.Key
			reason = apikey.Judge(pres.Key, pres.SecretExpiresAt, companyID, now)
		}
	}
	return printVerdict(opts.IO, p, key, reason)
}

// claimedCompany resolves --company to the one company it names, as every
// other command does; known is false when it names none, which verify
// answers as an invalid key (another company's key is answered so too). A
// reference that names several companies is a usage error: it is the
// caller's to fix, not a verdict on the key.
func claimedCompany(ctx context.Context, st interface {
	Company(context.Context, string) (apikey.Company, error)
}, ref string) (id string, known bool, err error) {
	if ref == "" {
		return "", true, nil
	}
	c, err := st.Company(ctx, ref)
	if apikey.KindOf(err) == apikey.KindNotFound {
		return "", false, nil
	}
	return c.ID, err == nil, err
}

func printVerdict(ios *iostreams.IOStreams, p *output.Printer, k apikey.Key, reason apikey.Reason) error {
	v := output.VerifyJSON{Valid: reason == apikey.ReasonNone, Reason: string(reason)}
	if v.Valid {
		kv := output.KeyView(k, p.Now)
		v.Key = &kv
	}
	switch p.Format {
	case output.JSON:
		if err := output.WriteJSON(ios.Out, v); err != nil {
			return err
		}
	case output.CSV:
		if v.Valid {
			if err := writeKeys(p.KeyWriter(ios.Out), []apikey.Key{k}); err != nil {
				return err
			}
		}
	default:
		if v.Valid {
			company := k.Company.Name
			if k.Company.Ref != "" {
				company += " (" + k.Company.Ref + ")"
			}
			fmt.Fprintf(ios.Out, "valid: key %q (%s) of %s, company id %s\n", k.Name, k.ID, company, k.Company.ID)
		}
	}
	if v.Valid {
		return nil
	}
	ios.ErrPrintf("apikey: key is not valid: %s\n", reason)
	return silentError{code: ExitInvalid}
}
