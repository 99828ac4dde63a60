//go:build linux

package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// errNoBinaries: PostgreSQL's server is not installed here.
var errNoBinaries = errors.New("no PostgreSQL server binaries (initdb and postgres) on PATH or in /usr/lib/postgresql/*/bin")

const (
	// dirPrefix names the temporary directory of every throwaway cluster,
	// so that the next start can find those of killed runs.
	dirPrefix = "apikey-pgtest-"
	// ownerFile, in that directory, holds the pid of the test process that
	// owns the cluster.
	ownerFile = "owner.pid"
	// port only names the socket file (.s.PGSQL.5432): the cluster listens on
	// no TCP port, and each cluster has a socket directory of its own, so
	// clusters of test binaries running side by side cannot collide.
	port = 5432
)

// cluster is a throwaway PostgreSQL cluster: a postmaster that is a child of
// this process, with its data directory and socket in dir.
type cluster struct {
	dir  string
	url  string
	bin  string        // the directory initdb and postgres came from
	proc *os.Process   // the postmaster
	done chan struct{} // closed when the postmaster has exited
}

// startCluster creates and starts a throwaway cluster, and waits until it
// accepts connections.
func startCluster() (*cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := serverUser()
	if err != nil {
		return nil, err
	}
	base := tempBase(cred != nil)
	removeStale(base)

	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, bin: bin}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()
	// Written aside and renamed, so that removeStale never reads half a pid.
	tmp := filepath.Join(dir, ownerFile+".new")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ownerFile)); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}

	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir // the test's own directory may be closed to the server's user
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", initdb, err, bytes.TrimSpace(out))
	}

	logPath := filepath.Join(dir, "postgres.log")
	if err := c.startPostmaster(data, logPath, cred); err != nil {
		return nil, err
	}
	c.url = "postgres://postgres@/postgres?host=" + uriEscape(dir) + "&port=" + strconv.Itoa(port) + "&sslmode=disable"
	if err := c.waitReady(ctx, logPath); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// startPostmaster starts postgres itself rather than through pg_ctl, so
// that it stays this process's child and the kernel signals it when this
// process dies (Pdeathsig): a killed test run leaves no server behind.
func (c *cluster) startPostmaster(data, logPath string, cred *syscall.Credential) error {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", data,
		"-k", c.dir,
		"-c", "listen_addresses=",
		"-c", "port="+strconv.Itoa(port),
		// Nothing here has to survive a crash.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its
	// backends down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}

	// The parent-death signal is sent when the thread that started the
	// child exits, not the process, and Go may end idle threads: start it
	// from a thread locked for the postmaster's whole life.
	started := make(chan error, 1)
	c.done = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the
		// postmaster has exited.
		defer close(c.done)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		c.proc = cmd.Process
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting %s: %w", cmd, err)
	}
	return nil
}

// waitReady waits until the cluster accepts connections, and reports its
// log if the postmaster exits first.
func (c *cluster) waitReady(ctx context.Context, logPath string) error {
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, c.url)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		last = err
		select {
		case <-c.done:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited at start:\n%s", bytes.TrimSpace(log))
		case <-ctx.Done():
			return fmt.Errorf("postgres in %s did not accept connections in time: %v", c.dir, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop stops the postmaster, if it runs, and removes the directory.
func (c *cluster) stop() {
	if c.proc != nil {
		_ = c.proc.Signal(syscall.SIGQUIT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.proc.Kill()
			<-c.done
		}
		c.proc = nil
	}
	_ = os.RemoveAll(c.dir)
}

// findBinaries returns a directory that holds both initdb and postgres:
// initdb's own (through symbolic links) when initdb is on PATH, else the
// highest version's of /usr/lib/postgresql/*/bin (Debian and Ubuntu keep
// them there, off PATH).
func findBinaries() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versioned, func(i, j int) bool {
		return versionAbove(filepath.Base(filepath.Dir(versioned[i])), filepath.Base(filepath.Dir(versioned[j])))
	})
	dirs = append(dirs, versioned...)
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errNoBinaries
}

// versionAbove compares versions such as "15", "9.6" and "17" by number.
func versionAbove(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx != nil || erry != nil {
			return a > b
		}
		if x != y {
			return x > y
		}
	}
	return len(as) > len(bs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// serverUser returns the credentials to run initdb and postgres with: none
// (this process's own) unless this process is root, which both refuse; then
// the postgres system user, else nobody.
func serverUser() (cred *syscall.Credential, uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return nil, 0, 0, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, uid, gid, nil
	}
	return nil, 0, 0, errors.New("running as root, and no postgres or nobody user to run initdb and postgres as (they refuse root)")
}

// tempBase is where cluster directories go: the temporary directory, unless
// the socket path would be too long for a Unix socket (108 bytes on Linux)
// or, when the server runs as another user, that user could not reach it
// (a TMPDIR under /root): then /tmp.
func tempBase(otherUser bool) string {
	base := os.TempDir()
	const longest = len("/" + dirPrefix + "1234567890/.s.PGSQL.5432")
	if len(base)+longest >= 100 || (otherUser && !reachableByAll(base)) {
		return "/tmp"
	}
	return base
}

// reachableByAll reports whether every directory on the way to dir lets
// anyone through.
func reachableByAll(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// removeStale removes the cluster directories in base whose owning test
// process is gone (killed, so Stop never ran). Their postmasters died with
// that process; a postmaster that somehow did not shuts itself down within
// a minute of its lock file vanishing.
func removeStale(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			// Not written yet by a test process starting right now, or the
			// process died before writing it: leave it unless it is old.
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !alive(pid) {
			_ = os.RemoveAll(dir)
		}
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// uriEscape percent-encodes s for a connection URI's query: everything but
// unreserved characters and '/', which libpq and pgx decode the same way
// ('+' is not a space to them, as it is to url.QueryEscape).
func uriEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
