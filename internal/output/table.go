package output

import (
	"bytes"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// table draws a borderless table like `kubectl get`: upper-case headers as
// given, columns separated by three spaces, no trailing blanks.
type table struct {
	w  io.Writer
	tw *tablewriter.Table
	b  bytes.Buffer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{w: w}
	t.tw = tablewriter.NewTable(&t.b,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off, ShowTop: tw.Off, ShowBottom: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "   ", Overwrite: true}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	if len(headers) > 0 {
		h := make([]any, len(headers))
		for i, s := range headers {
			h[i] = s
		}
		t.tw.Header(h...)
	}
	return t
}

func (t *table) row(cells ...string) error {
	r := make([]any, len(cells))
	for i, s := range cells {
		r[i] = s
	}
	return t.tw.Append(r...)
}

func (t *table) render() error {
	if err := t.tw.Render(); err != nil {
		return err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(t.b.String(), "\n") {
		if line == "" {
			continue
		}
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// WriteTable draws rows of plain cells under headers.
func WriteTable(w io.Writer, headers []string, rows [][]string) error {
	t := newTable(w, headers...)
	for _, r := range rows {
		if err := t.row(r...); err != nil {
			return err
		}
	}
	return t.render()
}

// streamChunk is how many rows a streamed table holds at once.
const streamChunk = 500

// streamTable draws a table of any length in chunks, so that memory does not
// grow with the number of rows. Columns are as wide as the widest cell seen so
// far: a later chunk may widen a column, never narrow it.
type streamTable struct {
	w       io.Writer
	headers []string
	rows    [][]string
	widths  []int
	started bool
}

func newStreamTable(w io.Writer, headers ...string) *streamTable {
	return &streamTable{w: w, headers: headers, widths: make([]int, len(headers))}
}

func (s *streamTable) row(cells ...string) error {
	s.rows = append(s.rows, cells)
	if len(s.rows) >= streamChunk {
		return s.flush()
	}
	return nil
}

func (s *streamTable) flush() error {
	measure := func(cells []string) {
		for i, c := range cells {
			if w := twwidth.Width(c); w > s.widths[i] {
				s.widths[i] = w
			}
		}
	}
	if !s.started {
		measure(s.headers)
	}
	for _, r := range s.rows {
		measure(r)
	}
	pad := func(cells []string) []string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = c + strings.Repeat(" ", s.widths[i]-twwidth.Width(c))
		}
		return out
	}
	var t *table
	if s.started {
		t = newTable(s.w)
	} else {
		t = newTable(s.w, pad(s.headers)...)
		s.started = true
	}
	for _, r := range s.rows {
		if err := t.row(pad(r)...); err != nil {
			return err
		}
	}
	s.rows = s.rows[:0]
	return t.render()
}

func (s *streamTable) close() error {
	if len(s.rows) == 0 && s.started {
		return nil
	}
	return s.flush()
}
