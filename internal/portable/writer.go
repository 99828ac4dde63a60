package portable

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// Writer writes an export. It is a store.ExportSink: the store streams the
// records into it, and Close writes the end record.
type Writer struct {
	w      *bufio.Writer
	enc    *json.Encoder
	header Header
	end    End
	err    error
}

var _ store.ExportSink = (*Writer)(nil)

// NewWriter returns a Writer of an export to w with the given header; its
// Type, Format, Version and Companies are filled in.
func NewWriter(w io.Writer, h Header) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	h.Type, h.Format, h.Version = TypeHeader, Format, Version
	h.ExportedAt = h.ExportedAt.UTC().Truncate(time.Microsecond)
	return &Writer{w: bw, enc: enc, header: h, end: End{Type: TypeEnd}}
}

func (w *Writer) write(v any) error {
	if w.err != nil {
		return w.err
	}
	if err := w.enc.Encode(v); err != nil {
		w.err = apikey.Runtimef("cannot write the export: %v", err)
	}
	return w.err
}

// Begin writes the header.
func (w *Writer) Begin(companyIDs []string) error {
	w.header.Companies = companyIDs
	return w.write(w.header)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Company writes a company.
func (w *Writer) Company(c apikey.Company) error {
	w.end.Companies++
	return w.write(companyRecord{Type: TypeCompany, ID: c.ID, Name: c.Name, Ref: nullable(c.Ref), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()})
}

// Key writes a key with its secrets.
func (w *Writer) Key(r store.KeyRecord) error {
	w.end.Keys++
	k := r.Key
	rec := keyRecord{
		Type: TypeKey, ID: k.ID, CompanyID: k.Company.ID, Name: k.Name, Status: string(k.Status), Hint: k.Hint,
		Scopes: k.Scopes, Metadata: k.Metadata, CreatedAt: k.CreatedAt.UTC(), CreatedBy: k.CreatedBy, UpdatedAt: k.UpdatedAt.UTC(),
		ExpiresAt: utcPtr(k.ExpiresAt), LastUsedAt: utcPtr(k.LastUsedAt), RateLimit: nullable(k.RateLimit), AllowedIPs: k.AllowedIPs,
		Legacy: k.Legacy, Secrets: make([]secretRecord, 0, len(r.Secrets)),
	}
	if rec.Scopes == nil {
		rec.Scopes = []string{}
	}
	if rec.Metadata == nil {
		rec.Metadata = map[string]string{}
	}
	if rec.AllowedIPs == nil {
		rec.AllowedIPs = []string{}
	}
	for _, s := range r.Secrets {
		sr := secretRecord{Hash: base64.StdEncoding.EncodeToString(s.Hash[:]), CreatedAt: s.CreatedAt.UTC(), ExpiresAt: utcPtr(s.ExpiresAt), Legacy: s.Legacy}
		if s.Sealed != nil {
			sealed := base64.StdEncoding.EncodeToString(s.Sealed)
			sr.Sealed = &sealed
		}
		rec.Secrets = append(rec.Secrets, sr)
	}
	return w.write(rec)
}

// Event writes an event.
func (w *Writer) Event(e apikey.Event) error {
	w.end.Events++
	rec := eventRecord{Type: TypeEvent, Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, DBRole: nullable(e.DBRole), Action: e.Action, Details: e.Details}
	if e.Company != nil {
		rec.Company = &refRecord{ID: e.Company.ID, Name: e.Company.Name}
	}
	if e.Key != nil {
		rec.Key = &refRecord{ID: e.Key.ID, Name: e.Key.Name}
	}
	if rec.Details == nil {
		rec.Details = map[string]any{}
	}
	return w.write(rec)
}

// Close writes the end record and flushes; without it, import takes the
// file for one cut short. It returns what was written.
func (w *Writer) Close() (End, error) {
	if err := w.write(w.end); err != nil {
		return w.end, err
	}
	if err := w.w.Flush(); err != nil {
		w.err = apikey.Runtimef("cannot write the export: %v", err)
	}
	return w.end, w.err
}
