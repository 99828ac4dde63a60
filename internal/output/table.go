package output

import (
	"bytes"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
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
	h := make([]any, len(headers))
	for i, s := range headers {
		h[i] = s
	}
	t.tw.Header(h...)
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
