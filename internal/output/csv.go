package output

import (
	"encoding/csv"
	"io"
)

// CSVWriter writes CSV that a spreadsheet opens as text. Names, refs, actors
// and scopes are typed by whoever asks for a key, and a spreadsheet runs a
// cell that starts with =, +, - or @ (or a tab or carriage return, which some
// strip first) as a formula: =HYPERLINK(...) leaks data, =cmd|... runs a
// program. As OWASP's "CSV Injection" page recommends, such a cell is written
// with a single quote in front, which makes it text; everything else is
// written as encoding/csv writes it, so the file stays valid CSV. JSON
// carries the values unchanged.
type CSVWriter struct {
	w     *csv.Writer
	cells []string // reused from record to record
}

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes one record, neutralising its cells.
func (c *CSVWriter) Write(record []string) error {
	c.cells = c.cells[:0]
	for _, s := range record {
		c.cells = append(c.cells, csvCell(s))
	}
	return c.w.Write(c.cells)
}

// Flush writes what is buffered to the underlying writer.
func (c *CSVWriter) Flush() { c.w.Flush() }

// Error reports an error of an earlier Write or Flush.
func (c *CSVWriter) Error() error { return c.w.Error() }

// csvCell returns s as a CSV cell: with a single quote in front when a
// spreadsheet would take it for a formula.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
