package server

import (
	"bufio"
	"context"
	"io"
	"log"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Formats of the log.
const (
	LogText = "text" // slog's TextHandler: logfmt, key=value
	LogJSON = "json" // slog's JSONHandler: one JSON object a line
)

// serverLog is the server's log, through log/slog: one line per request at
// info (warn for a 5xx, the server's own failure), and lines about the
// server itself. Lines are buffered and written at least every
// logFlushInterval, so that logging costs a request an append under a lock,
// not a system call. A request line never holds a secret or a header: only
// the method, the path (with long segments redacted), the status, the reason
// of a refusal, the key id once known and the duration.
type serverLog struct {
	out    *logBuffer   // nil: logging is off
	h      slog.Handler // what requests are logged through
	logger *slog.Logger // what the server's own lines are logged through
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

// newServerLog logs to w in format (LogText or LogJSON) the lines of level
// and above; nothing when w is nil or io.Discard.
func newServerLog(w io.Writer, format string, level slog.Level) *serverLog {
	if w == nil || w == io.Discard {
		return &serverLog{h: slog.DiscardHandler, logger: slog.New(slog.DiscardHandler)}
	}
	out := &logBuffer{w: bufio.NewWriterSize(w, logBufferSize)}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == LogJSON {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	h = utcHandler{h}
	return &serverLog{out: out, h: h, logger: slog.New(h)}
}

// request logs one request. The line is built by hand into a slog.Record,
// rather than through Logger.LogAttrs, to carry the time the request came
// in: at most five attributes, which a Record holds without allocating, for
// an accepted request.
func (l *serverLog) request(r *http.Request, o outcome, start time.Time, d time.Duration) {
	if l.out == nil {
		return
	}
	level := slog.LevelInfo
	if o.status >= 500 {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !l.h.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(start, level, "request", 0)
	rec.AddAttrs(
		slog.String("method", truncate(r.Method, maxLoggedVerb)),
		slog.String("path", redactPath(r.URL.Path)),
		slog.Int("status", o.status),
	)
	if o.reason != "" {
		rec.AddAttrs(slog.String("reason", string(o.reason)))
	}
	if o.keyID != "" {
		rec.AddAttrs(slog.String("key", o.keyID))
	}
	// Milliseconds to the microsecond, as a number that neither format
	// writes with an exponent.
	rec.AddAttrs(slog.Float64("duration_ms", math.Round(float64(d)/float64(time.Microsecond))/1000))
	if o.err != nil {
		rec.AddAttrs(slog.String("error", o.err.Error()))
	}
	_ = l.h.Handle(ctx, rec)
}

// errorLog takes net/http's own complaints (a panicking handler, a failed
// accept) into the log, at warn.
func (l *serverLog) errorLog() *log.Logger { return slog.NewLogLogger(l.h, slog.LevelWarn) }

func (l *serverLog) flush() {
	if l.out != nil {
		l.out.flush()
	}
}

func (l *serverLog) flushLoop(ctx context.Context) {
	if l.out == nil {
		return
	}
	every(ctx, logFlushInterval, l.flush)
}

// logBuffer is what the slog handler writes to: a buffer that the flush loop
// empties, under a lock of its own since the loop writes it out while
// requests add to it.
type logBuffer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error // the first write error; logging stops after it
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		_, b.err = b.w.Write(p)
	}
	return len(p), nil
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = b.w.Flush()
	}
}

// utcHandler writes every time in UTC, as the log has always done, whatever
// the machine's time zone.
type utcHandler struct{ slog.Handler }

func (h utcHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = r.Time.UTC()
	return h.Handler.Handle(ctx, r)
}

func (h utcHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return utcHandler{h.Handler.WithAttrs(as)}
}

func (h utcHandler) WithGroup(name string) slog.Handler {
	return utcHandler{h.Handler.WithGroup(name)}
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
