package scan

import (
	"bytes"
	"io"

	"github.com/apikeyhq/apikey/internal/apikey"
)

const (
	// bufSize is what one stream holds in memory, however long its lines:
	// a minified file or a log of one line is read through it all the same.
	bufSize = 64 << 10
	// binarySniff: as git and grep do, a file with a NUL byte among its
	// first 8000 bytes is binary.
	binarySniff = 8000
)

// stream finds the secrets in one stream, reading it through a buffer of
// fixed size. What a secret still to be found may need of the text read
// so far (its prefix, an underscore, part of its random part: fewer than
// 64 bytes) is kept from one buffer to the next, so that a secret cut by
// the edge of a buffer is found, and none twice.
type stream struct {
	buf  []byte
	name string
	emit func(Finding)

	n         int // bytes in buf
	line      int // the line number of buf[lineStart:]
	lineStart int // where in buf the current line starts (or goes on)
	col0      int // characters of the current line before buf[lineStart]
	counted   int // newlines before buf[counted] are counted in line
}

// scanStream reads r to its end and emits its findings. With sniff, a
// binary stream is left unread after its first buffer, and binary is true.
func scanStream(r io.Reader, name string, buf []byte, sniff bool, emit func(Finding)) (binary bool, read int64, err error) {
	s := &stream{buf: buf, name: name, emit: emit, line: 1}
	from := 0
	for {
		m, rerr := io.ReadFull(r, buf[s.n:])
		s.n += m
		read += int64(m)
		eof := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !eof {
			return false, read, rerr
		}
		if sniff {
			sniff = false
			if bytes.IndexByte(buf[:min(s.n, binarySniff)], 0) >= 0 {
				return true, read, nil
			}
		}
		data := buf[:s.n]
		next := find(data, from, func(start, end int, secret string) {
			s.advance(start)
			s.emit(Finding{
				Path: s.name, Line: s.line, Column: s.col0 + chars(data[s.lineStart:start]) + 1, Length: end - start,
				Hash: apikey.HashSecret(secret), Hint: apikey.HintOf(secret),
			})
		})
		if eof {
			return false, read, nil
		}
		// Keep the underscore find stopped at and the prefix that may
		// stand before it.
		keep := max(next-maxPrefixLen, 0)
		s.shift(keep)
		from = next - keep
	}
}

// advance counts the lines that end before buf[to].
func (s *stream) advance(to int) {
	if to <= s.counted {
		return
	}
	seg := s.buf[s.counted:to]
	if c := bytes.Count(seg, []byte{'\n'}); c > 0 {
		s.line += c
		s.lineStart = s.counted + bytes.LastIndexByte(seg, '\n') + 1
		s.col0 = 0
	}
	s.counted = to
}

// shift drops buf[:keep], remembering how many characters of the current
// line it held.
func (s *stream) shift(keep int) {
	s.advance(keep)
	s.col0 += chars(s.buf[s.lineStart:keep])
	s.n = copy(s.buf, s.buf[keep:s.n])
	s.lineStart, s.counted = 0, 0
}

// chars counts the characters (Unicode code points) of UTF-8 text: its
// bytes that do not continue a character. A character cut in two by the
// edge of a buffer is counted once, with its first byte; an invalid byte
// counts as a character, as editors show it.
func chars(b []byte) int {
	n := 0
	for _, c := range b {
		if c&0xC0 != 0x80 {
			n++
		}
	}
	return n
}
