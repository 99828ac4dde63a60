package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// requestLog writes one logfmt line per request. Lines are buffered and
// written at least every logFlushInterval, so that logging costs a request
// an append under a lock, not a system call. A line never holds a secret or
// a header: only the method, the path (with long segments redacted), the
// status, the reason of a refusal, the key id once known and the duration.
type requestLog struct {
	mu  sync.Mutex
	w   *bufio.Writer // nil: logging is off
	err error         // the first write error; logging stops after it

	// The time of a line to the second is formatted once a second.
	second int64
	stamp  []byte
}

const (
	logFlushInterval = 200 * time.Millisecond
	logBufferSize    = 64 << 10
	// maxPathSegment is the longest path segment that is logged as sent: a
	// secret is longer, so a client that puts its key in the path does not
	// leave it in the log.
	maxPathSegment = 32
	maxLoggedPath  = 256
	maxLoggedVerb  = 16
)

func newRequestLog(w io.Writer) *requestLog {
	if w == nil || w == io.Discard {
		return &requestLog{}
	}
	return &requestLog{w: bufio.NewWriterSize(w, logBufferSize)}
}

func (l *requestLog) request(r *http.Request, o outcome, start time.Time, d time.Duration) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	b := l.w.AvailableBuffer()
	b = l.appendTime(b, start)
	b = append(b, " method="...)
	b = appendValue(b, truncate(r.Method, maxLoggedVerb))
	b = append(b, " path="...)
	b = appendValue(b, redactPath(r.URL.Path))
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(o.status), 10)
	if o.reason != "" {
		b = append(b, " reason="...)
		b = append(b, o.reason...)
	}
	if o.keyID != "" {
		b = append(b, " key="...)
		b = append(b, o.keyID...)
	}
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
	if o.err != nil {
		b = append(b, " error="...)
		b = strconv.AppendQuote(b, o.err.Error())
	}
	b = append(b, '\n')
	_, l.err = l.w.Write(b)
}

// message logs a line about the server itself.
func (l *requestLog) message(msg string) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	b := l.w.AvailableBuffer()
	b = l.appendTime(b, time.Now())
	b = append(b, " msg="...)
	b = strconv.AppendQuote(b, strings.TrimSpace(msg))
	b = append(b, '\n')
	_, l.err = l.w.Write(b)
}

func (l *requestLog) flush() {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = l.w.Flush()
	}
}

func (l *requestLog) flushLoop(ctx context.Context) {
	if l.w == nil {
		return
	}
	every(ctx, logFlushInterval, l.flush)
}

// errorLogWriter takes net/http's own complaints (a panicking handler, a
// failed accept) into the request log.
type errorLogWriter struct{ l *requestLog }

func (w errorLogWriter) Write(p []byte) (int, error) {
	w.l.message(string(p))
	return len(p), nil
}

// appendTime appends time=<t in UTC, to the millisecond>. l.mu is held.
func (l *requestLog) appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != l.second || l.stamp == nil {
		l.second = sec
		l.stamp = t.AppendFormat(l.stamp[:0], "2006-01-02T15:04:05.")
	}
	b = append(b, "time="...)
	b = append(b, l.stamp...)
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendValue appends a logfmt value, quoted when it holds anything but
// printable ASCII without quotes, so that a request cannot forge a line.
func appendValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, v)
		}
	}
	if v == "" {
		return append(b, `""`...)
	}
	return append(b, v...)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// redactPath replaces path segments longer than maxPathSegment by "…" and
// bounds the whole.
func redactPath(p string) string {
	long := false
	for seg := range strings.SplitSeq(p, "/") {
		if len(seg) > maxPathSegment {
			long = true
			break
		}
	}
	if long {
		segs := strings.Split(p, "/")
		for i, seg := range segs {
			if len(seg) > maxPathSegment {
				segs[i] = "…"
			}
		}
		p = strings.Join(segs, "/")
	}
	return truncate(p, maxLoggedPath)
}
