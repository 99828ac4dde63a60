package cmd_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// freeaddr NAME sets NAME to a free 127.0.0.1:PORT, for `apikey serve --addr`.
func cmdFreeAddr(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeaddr NAME")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], ln.Addr().String())
	ln.Close()
}

// http [-until STATUS] METHOD URL [NAME:VALUE...] sends a request and prints
// the answer on stdout as curl -i would, without Date: the status code, the
// headers sorted, a blank line, the body. @FILE in a value stands for what
// FILE holds, so that secrets written by jsonfile can be sent; a NAME given
// twice is sent as two header lines. The request is retried
// while nothing listens yet (for a server started in the background), and
// with -until while the status differs, for at most 10 seconds.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	until := 0
	if len(args) > 1 && args[0] == "-until" {
		var err error
		until, err = strconv.Atoi(args[1])
		ts.Check(err)
		args = args[2:]
	}
	if neg || len(args) < 2 {
		ts.Fatalf("usage: http [-until STATUS] METHOD URL [NAME:VALUE...]")
	}
	req, err := http.NewRequest(args[0], args[1], nil)
	ts.Check(err)
	for _, h := range args[2:] {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			ts.Fatalf("header %q is not NAME:VALUE", h)
		}
		if before, file, ok := strings.Cut(value, "@"); ok {
			value = before + strings.TrimSpace(ts.ReadFile(file))
		}
		req.Header.Add(name, value)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			ts.Fatalf("%s %s: %v", args[0], args[1], err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ts.Check(err)
		if until != 0 && resp.StatusCode != until && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		var names []string
		for k := range resp.Header {
			if k != "Date" {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		out := ts.Stdout()
		fmt.Fprintf(out, "%d\n", resp.StatusCode)
		for _, k := range names {
			fmt.Fprintf(out, "%s: %s\n", k, strings.Join(resp.Header[k], ", "))
		}
		fmt.Fprintf(out, "\n%s", body)
		if until != 0 && resp.StatusCode != until {
			ts.Fatalf("still %d after 10 seconds, want %d", resp.StatusCode, until)
		}
		return
	}
}
