// Package seed fills a store with generated keys, for bench/seed and for the
// benchmarks that need a large store.
package seed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/sqlite"
	"github.com/google/uuid"
)

// BatchSize is how many keys go in one transaction: short enough that a
// concurrent apikey process is not kept waiting long, long enough that
// commits are few.
const BatchSize = 5000

// CacheSize is the page cache a seeding store is opened with: one that holds
// the indexes keeps the random inserts of uuid keys from spilling to the
// write-ahead log and reading it back.
const CacheSize = 512 << 20

// Companies is how many companies n keys are spread over: one per hundred
// keys, at least one.
func Companies(n int) int { return max(1, n/100) }

// Active reports whether the i-th key that Keys creates (from 0) is active:
// all but one in ten, so that a list carries inactive keys as a real one
// does, and a benchmark that wants valid keys can pick them from the
// secrets Keys wrote.
func Active(i int) bool { return i%10 != 9 }

// Keys creates n keys, key i in company i mod Companies(n), through
// store.CreateKeys, and writes each secret on a line of w in the order the
// keys were created. Names carry a tag of the run, so seeding the same store
// twice adds keys rather than failing on a duplicate name.
func Keys(ctx context.Context, st *store.Store, n int, prefix string, w io.Writer) error {
	tag := uuid.NewString()[:8]
	nc := Companies(n)
	batch := make([]store.NewKey, 0, min(n, BatchSize))
	secrets := make([]string, 0, cap(batch))
	// Scopes, metadata and status vary, so that a list carries what a real
	// one does.
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
		status := apikey.StatusInactive
		if Active(i) {
			status = apikey.StatusActive
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

// Cached returns a database of n seeded keys and their secrets, made once
// and kept under the temporary directory, so that benchmarks do not seed a
// large store on every run. The file is named by n and the schema version;
// it is made under another name and renamed into place, so that benchmark
// binaries running side by side never see half of one. Callers must not
// change it: copy it first.
func Cached(ctx context.Context, n int) (db string, secrets []string, err error) {
	base := filepath.Join(os.TempDir(), fmt.Sprintf("apikey-bench-%d-v%d", n, sqlite.SchemaVersion()))
	db, list := base+".db", base+".secrets"
	if secrets, err = readLines(list); err == nil && len(secrets) == n {
		if _, err := os.Stat(db); err == nil {
			return db, secrets, nil
		}
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "apikey-bench-seed-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp)
	st, err := store.Open(ctx, filepath.Join(tmp, "apikey.db"), store.WithCacheSize(CacheSize))
	if err != nil {
		return "", nil, err
	}
	var out strings.Builder
	err = Keys(ctx, st, n, apikey.DefaultPrefix, &out)
	// Closing the last connection checkpoints the write-ahead log into the
	// file, so that the file alone is the whole database.
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "secrets"), []byte(out.String()), 0o600); err != nil {
		return "", nil, err
	}
	if err := os.Rename(filepath.Join(tmp, "apikey.db"), db); err != nil {
		return "", nil, err
	}
	if err := os.Rename(filepath.Join(tmp, "secrets"), list); err != nil {
		return "", nil, err
	}
	return db, strings.Fields(out.String()), nil
}

// CopyOf copies the store file db (one of Cached's) to apikey.db in dir,
// 0600, for a benchmark that changes it, and returns the copy's path.
func CopyOf(db, dir string) (string, error) {
	src, err := os.Open(db)
	if err != nil {
		return "", err
	}
	defer src.Close()
	path := filepath.Join(dir, "apikey.db")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", err
	}
	return path, dst.Close()
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// BenchKeys is how many keys the benchmarks' store holds: APIKEY_BENCH_KEYS,
// else 100,000. Benchmarks in every package share it, and so share the
// store that Cached keeps.
func BenchKeys() int {
	if n, err := strconv.Atoi(os.Getenv("APIKEY_BENCH_KEYS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}
