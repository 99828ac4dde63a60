package server

import (
	"bufio"
	"context"
	"io"
	"log"
	"log/slog"
	"math"
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
// server itself. A request line never holds a secret or a header: only the
// method, the path (with long segments redacted), the status, the reason of
// a refusal, the key id once known and the duration.
//
// Logging must not cost a request a system call, nor the formatting of a
// line, which is several times the rest of what a check costs from memory:
// a request only appends its slog.Record to a queue; the flush loop formats
// the queue through slog's handler and writes it out, at least every
// logFlushInterval (sooner when the queue grows long). Records of the
// server's own lines take the same queue, so that lines keep their order.
type serverLog struct {
	h      slog.Handler  // the queue: what requests are logged through
	logger *slog.Logger  // what the server's own lines are logged through
	out    *bufio.Writer // nil: logging is off

	mu    sync.Mutex
	queue []queued

	flushMu sync.Mutex // one flush at a time, so that lines keep their order
	spare   []queued   // the queue's next backing array, while flushMu is held
	kick    chan struct{}
}

// queued is a record and the handler that formats it.
type queued struct {
	h slog.Handler
	r slog.Record
}

const (
	logFlushInterval = 200 * time.Millisecond
	logBufferSize    = 64 << 10
	// logKickAt is the length of the queue at which the flush loop is
	// asked to flush at once; at logMaxQueued a request flushes itself
	// (when nothing runs the loop, or it falls behind), so that the queue
	// stays bounded: a record is about 300 bytes.
	logKickAt    = 1024
	logMaxQueued = 8192
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
	l := &serverLog{out: bufio.NewWriterSize(w, logBufferSize), kick: make(chan struct{}, 1)}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == LogJSON {
		h = slog.NewJSONHandler(l.out, opts)
	} else {
		h = slog.NewTextHandler(l.out, opts)
	}
	l.h = queueHandler{l, utcHandler{h}}
	l.logger = slog.New(l.h)
	return l
}

// request logs one request. The line is built by hand into a slog.Record,
// rather than through Logger.LogAttrs, to carry the time the request came
// in: at most five attributes, which a Record holds without allocating, for
// an accepted request.
func (l *serverLog) request(method, path string, o outcome, start time.Time, d time.Duration) {
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
		slog.String("method", truncate(method, maxLoggedVerb)),
		slog.String("path", redactPath(path)),
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

// errorLog takes promhttp's complaints into the log, at warn.
func (l *serverLog) errorLog() *log.Logger { return slog.NewLogLogger(l.h, slog.LevelWarn) }

// connectionLog takes the HTTP server's own complaints into the log: at
// warn, but at debug those about a client's connection (a request it could
// not parse, a connection cut), which a client must not be able to fill the
// log with at the levels an operator reads.
func (l *serverLog) connectionLog() connectionLog {
	return connectionLog{warn: slog.NewLogLogger(l.h, slog.LevelWarn), debug: slog.NewLogLogger(l.h, slog.LevelDebug)}
}

type connectionLog struct{ warn, debug *log.Logger }

// Printf is fasthttp.Logger's. fasthttp starts each complaint about a
// connection with these words.
func (c connectionLog) Printf(format string, args ...any) {
	if strings.HasPrefix(format, "error when serving connection") {
		c.debug.Printf(format, args...)
		return
	}
	c.warn.Printf(format, args...)
}

// enqueue keeps r for the next flush, to be formatted by h.
func (l *serverLog) enqueue(h slog.Handler, r slog.Record) {
	l.mu.Lock()
	l.queue = append(l.queue, queued{h, r.Clone()})
	n := len(l.queue)
	l.mu.Unlock()
	switch {
	case n >= logMaxQueued:
		l.flush()
	case n == logKickAt:
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// flush formats the records queued so far and writes them out.
func (l *serverLog) flush() {
	if l.out == nil {
		return
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	batch := l.queue
	l.queue = l.spare
	l.mu.Unlock()
	ctx := context.Background()
	for i := range batch {
		// A write error stays in l.out, which writes nothing after it:
		// logging stops rather than fail requests.
		_ = batch[i].h.Handle(ctx, batch[i].r)
		batch[i] = queued{}
	}
	l.spare = batch[:0]
	_ = l.out.Flush()
}

func (l *serverLog) flushLoop(ctx context.Context) {
	if l.out == nil {
		return
	}
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
		l.flush()
	}
}

// queueHandler queues records for serverLog.flush, which formats them
// through next.
type queueHandler struct {
	l    *serverLog
	next slog.Handler
}

func (h queueHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h queueHandler) Handle(_ context.Context, r slog.Record) error {
	h.l.enqueue(h.next, r)
	return nil
}

func (h queueHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return queueHandler{h.l, h.next.WithAttrs(as)}
}

func (h queueHandler) WithGroup(name string) slog.Handler {
	return queueHandler{h.l, h.next.WithGroup(name)}
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
