package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// A deliberately small HTTP/1.1 client: one keep-alive connection per worker,
// a request written from a reused buffer, the answer's status and body read
// by Content-Length. net/http's client costs several times as much CPU per
// request, and on a small machine that CPU is taken from the server under
// test.

// stats is what a load run measured.
type stats struct {
	requests int
	non2xx   int
	errors   int
	elapsed  time.Duration
	cpu      time.Duration   // the server's CPU time meanwhile, 0 if unknown
	latency  []time.Duration // sorted
	ok       []bool          // by secret index, for a pass over every secret
}

// merge adds one worker's figures to t, which the workers share under mu.
func (t *stats) merge(mu *sync.Mutex, s stats) {
	mu.Lock()
	defer mu.Unlock()
	t.requests += s.requests
	t.non2xx += s.non2xx
	t.errors += s.errors
	t.latency = append(t.latency, s.latency...)
}

// finish records the time since start and sorts the latencies.
func (t *stats) finish(start time.Time) {
	t.elapsed = time.Since(start)
	slices.Sort(t.latency)
}

func (s stats) rate() float64 { return float64(s.requests) / s.elapsed.Seconds() }

// cpuPerRequest is the server's CPU time per request, in microseconds: on
// a machine the load generator shares, a steadier measure of what a request
// costs than the rate.
func (s stats) cpuPerRequest() string {
	if s.cpu == 0 || s.requests == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(s.cpu)/float64(time.Microsecond)/float64(s.requests), 'f', 1, 64) + "µs"
}

func (s stats) quantile(q float64) time.Duration {
	if len(s.latency) == 0 {
		return 0
	}
	return s.latency[min(len(s.latency)-1, int(q*float64(len(s.latency))))]
}

type conn struct {
	c   net.Conn
	r   *bufio.Reader
	req []byte
}

func dial(addr string) (*conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 4096), req: make([]byte, 0, 256)}, nil
}

// do sends GET path with the key header and returns the answer's status.
func (c *conn) do(path, header, secret string) (int, error) {
	c.req = append(c.req[:0], "GET "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: bench\r\n"...)
	c.req = append(c.req, header...)
	c.req = append(c.req, ": "...)
	c.req = append(c.req, secret...)
	c.req = append(c.req, "\r\n\r\n"...)
	if _, err := c.c.Write(c.req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("Content-Length:")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(line[15:]))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", line)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// load sends requests with random secrets over conns connections for d.
func load(addr, path, header string, secrets []string, conns int, d time.Duration) stats {
	var mu sync.Mutex
	var total stats
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var s stats
			s.latency = make([]time.Duration, 0, 1<<16)
			var c *conn
			for time.Now().Before(deadline) {
				if c == nil {
					var err error
					if c, err = dial(addr); err != nil {
						s.errors++
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				t0 := time.Now()
				status, err := c.do(path, header, secrets[rng.IntN(len(secrets))])
				if err != nil {
					s.errors++
					c.c.Close()
					c = nil
					continue
				}
				s.latency = append(s.latency, time.Since(t0))
				s.requests++
				if status < 200 || status > 299 {
					s.non2xx++
				}
			}
			if c != nil {
				c.c.Close()
			}
			total.merge(&mu, s)
		})
	}
	wg.Wait()
	total.finish(start)
	return total
}

// pass sends every secret once, spread over conns connections, and notes
// which were accepted. It fills the server's cache the way traffic would.
func pass(addr, path, header string, secrets []string, conns int) stats {
	var mu sync.Mutex
	total := stats{ok: make([]bool, len(secrets))}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			var s stats
			c, err := dial(addr)
			for i := w; i < len(secrets); i += conns {
				if err != nil {
					if c, err = dial(addr); err != nil {
						s.errors++
						continue
					}
				}
				t0 := time.Now()
				status, rerr := c.do(path, header, secrets[i])
				if rerr != nil {
					s.errors++
					c.c.Close()
					err = rerr
					continue
				}
				s.latency = append(s.latency, time.Since(t0))
				s.requests++
				if status >= 200 && status <= 299 {
					total.ok[i] = true // each worker writes its own indexes
				} else {
					s.non2xx++
				}
			}
			if err == nil {
				c.c.Close()
			}
			total.merge(&mu, s)
		})
	}
	wg.Wait()
	total.finish(start)
	return total
}
