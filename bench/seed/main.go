// Command seed fills an apikey store with many keys, so that benchmarks can
// run at scale:
//
//	go run ./bench/seed -db /tmp/bench.db -n 100000 > secrets.txt
//
// It writes through the store package, so the rows (and one key.create event
// per key) are exactly those that `apikey create` writes, N keys spread over
// N/100 companies, one transaction per batch. Each secret is printed on its
// own line on standard output, in the order the keys were created; the time
// taken goes to standard error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
}

// batchSize keeps a transaction short enough that a concurrent apikey
// process is not kept waiting long, and long enough that commits are few.
const batchSize = 5000

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "database file to fill (created when missing)")
	n := fs.Int("n", 1000, "number of keys")
	prefix := fs.String("prefix", apikey.DefaultPrefix, "prefix of the secrets")
	quiet := fs.Bool("quiet", false, "do not print the secrets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *n < 1 || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("give -db FILE and -n N (at least 1)")
	}
	ctx := context.Background()
	start := time.Now()
	// A cache that holds the indexes keeps the random inserts of uuid keys
	// from spilling to the write-ahead log and reading it back.
	st, err := store.Open(ctx, *db, store.WithCacheSize(512<<20))
	if err != nil {
		return err
	}
	defer st.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	if *quiet {
		out = bufio.NewWriter(io.Discard)
	}
	if err := Seed(ctx, st, *n, *prefix, out); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "seeded %d keys over %d companies in %s (%.0f keys/s)\n", *n, companies(*n), d.Round(time.Millisecond), float64(*n)/d.Seconds())
	return nil
}

// companies is how many companies n keys are spread over: one per hundred
// keys, at least one.
func companies(n int) int { return max(1, n/100) }

// Seed creates n keys, key i in company i mod companies(n), and writes each
// secret on a line of w. Names are unique per run (a run tag), so seeding the
// same store twice adds keys rather than failing on a duplicate name.
func Seed(ctx context.Context, st *store.Store, n int, prefix string, w io.Writer) error {
	tag := uuid.NewString()[:8]
	nc := companies(n)
	batch := make([]store.NewKey, 0, min(n, batchSize))
	secrets := make([]string, 0, cap(batch))
	// The metadata and scopes vary, so that lists carry something to encode.
	scopes := [][]string{nil, {"invoices:read"}, {"invoices:read", "invoices:write"}}
	for i := range n {
		id := uuid.NewString()
		secret, m, err := apikey.MintSecret(prefix, id, nil)
		if err != nil {
			return err
		}
		var meta map[string]string
		if i%2 == 1 {
			meta = map[string]string{"env": "production", "team": fmt.Sprintf("team-%d", i%7)}
		}
		status := apikey.StatusActive
		if i%10 == 9 {
			status = apikey.StatusInactive
		}
		batch = append(batch, store.NewKey{
			ID:            id,
			Company:       fmt.Sprintf("Company %s-%05d", tag, i%nc),
			CreateCompany: true,
			Name:          fmt.Sprintf("key %s-%07d", tag, i),
			Status:        status,
			Scopes:        scopes[i%len(scopes)],
			Metadata:      meta,
			Secret:        m,
			Actor:         "seed",
		})
		secrets = append(secrets, secret)
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.CreateKeys(ctx, batch); err != nil {
				return err
			}
			for _, s := range secrets {
				if _, err := io.WriteString(w, s+"\n"); err != nil {
					return err
				}
			}
			batch, secrets = batch[:0], secrets[:0]
		}
	}
	return nil
}
