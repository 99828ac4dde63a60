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
	"github.com/apikeyhq/apikey/internal/seed"
	"github.com/apikeyhq/apikey/internal/store"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
}

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
	st, err := store.Open(ctx, *db, store.WithCacheSize(seed.CacheSize))
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	if *quiet {
		out = bufio.NewWriter(io.Discard)
	}
	err = seed.Keys(ctx, st, *n, *prefix, out)
	// Closing checkpoints the write-ahead log into the file: part of the
	// work, so part of the time.
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "seeded %d keys over %d companies in %s (%.0f keys/s)\n", *n, seed.Companies(*n), d.Round(time.Millisecond), float64(*n)/d.Seconds())
	return nil
}
