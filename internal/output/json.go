package output

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// The JSON documents apikey prints. Their field names are the contract that
// docs/json.md documents; timestamps are RFC 3339 in UTC, unset ones null.

// CompanyJSON is a company.
type CompanyJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Ref       *string   `json:"ref"`
	Keys      int       `json:"keys"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CompanyDetailJSON is a company with its keys (company show).
type CompanyDetailJSON struct {
	CompanyJSON
	KeyList []KeyJSON `json:"key_list"`
}

// CompanyRefJSON is how a key names its company.
type CompanyRefJSON struct {
	ID   string  `json:"id"`
	Name string  `json:"name"`
	Ref  *string `json:"ref"`
}

// KeyJSON is a key. Its secret is never part of it.
type KeyJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Status     apikey.Status     `json:"status"`
	Company    CompanyRefJSON    `json:"company"`
	Hint       string            `json:"hint"`
	Scopes     []string          `json:"scopes"`
	Metadata   map[string]string `json:"metadata"`
	CreatedAt  time.Time         `json:"created_at"`
	CreatedBy  string            `json:"created_by"`
	UpdatedAt  time.Time         `json:"updated_at"`
	ExpiresAt  *time.Time        `json:"expires_at"`
	LastUsedAt *time.Time        `json:"last_used_at"`
	RateLimit  *string           `json:"rate_limit"`
	AllowedIPs []string          `json:"allowed_ips"`
	Legacy     bool              `json:"legacy"`
}

// IssuedKeyJSON is a key with its secret, printed once by create and rotate
// (and by show --reveal).
type IssuedKeyJSON struct {
	KeyJSON
	Key     string            `json:"key"`
	Headers map[string]string `json:"headers"`
}

// EventJSON is an entry of the audit trail.
type EventJSON struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	// DBRole is the database role that made the change, as PostgreSQL
	// recorded it; null on SQLite, which has no roles.
	DBRole  *string        `json:"db_role"`
	Action  string         `json:"action"`
	Company *EventRefJSON  `json:"company"`
	Key     *EventRefJSON  `json:"key"`
	Details map[string]any `json:"details"`
}

// EventRefJSON names the company or key of an event as it was.
type EventRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// VerifyJSON is the answer of verify.
type VerifyJSON struct {
	Valid  bool     `json:"valid"`
	Key    *KeyJSON `json:"key,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// CompanyView is the JSON form of a company.
func CompanyView(c apikey.Company) CompanyJSON {
	return CompanyJSON{ID: c.ID, Name: c.Name, Ref: optString(c.Ref), Keys: c.Keys, CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt)}
}

// KeyView is the JSON form of a key, its status as of now.
func KeyView(k apikey.Key, now time.Time) KeyJSON {
	v := keyView(k, now)
	v.Company.Ref = optString(k.Company.Ref)
	return v
}

// keyView is KeyView without the company's ref, which costs an allocation
// per key; jsonKeys shares one per company instead.
func keyView(k apikey.Key, now time.Time) KeyJSON {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	meta := k.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	ips := k.AllowedIPs
	if ips == nil {
		ips = []string{}
	}
	var rate *string
	if k.RateLimit != "" {
		rate = &k.RateLimit
	}
	return KeyJSON{
		ID: k.ID, Name: k.Name, Status: k.EffectiveStatus(now),
		Company: CompanyRefJSON{ID: k.Company.ID, Name: k.Company.Name},
		Hint:    k.Hint, Scopes: scopes, Metadata: meta,
		CreatedAt: utc(k.CreatedAt), CreatedBy: k.CreatedBy, UpdatedAt: utc(k.UpdatedAt),
		ExpiresAt: utcPtr(k.ExpiresAt), LastUsedAt: utcPtr(k.LastUsedAt),
		RateLimit: rate, AllowedIPs: ips, Legacy: k.Legacy,
	}
}

// EventView is the JSON form of an event.
func EventView(e apikey.Event) EventJSON {
	v := EventJSON{At: utc(e.At), Actor: e.Actor, Action: e.Action, Details: e.Details}
	if e.DBRole != "" {
		role := e.DBRole
		v.DBRole = &role
	}
	if v.Details == nil {
		v.Details = map[string]any{}
	}
	if e.Company != nil {
		v.Company = &EventRefJSON{ID: e.Company.ID, Name: e.Company.Name}
	}
	if e.Key != nil {
		v.Key = &EventRefJSON{ID: e.Key.ID, Name: e.Key.Name}
	}
	return v
}

// WriteJSON writes v as one indented JSON document.
func WriteJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// jsonArray streams a JSON array one element at a time.
type jsonArray struct {
	w   io.Writer
	n   int
	buf bytes.Buffer
	enc *json.Encoder
	b   []byte // addKey's, reused from key to key
}

func newJSONArray(w io.Writer) *jsonArray {
	a := &jsonArray{w: w}
	a.enc = json.NewEncoder(&a.buf)
	a.enc.SetEscapeHTML(false)
	a.enc.SetIndent("  ", "  ")
	return a
}

func (a *jsonArray) add(v any) error {
	a.buf.Reset()
	if a.n == 0 {
		a.buf.WriteString("[\n  ")
	} else {
		a.buf.WriteString(",\n  ")
	}
	if err := a.enc.Encode(v); err != nil {
		return err
	}
	a.buf.Truncate(a.buf.Len() - 1) // the encoder's newline
	a.n++
	_, err := a.w.Write(a.buf.Bytes())
	return err
}

// addKey adds a key as add would, through appendKeyJSON.
func (a *jsonArray) addKey(v *KeyJSON) error {
	b := append(a.b[:0], ",\n  "...)
	if a.n == 0 {
		b = append(a.b[:0], "[\n  "...)
	}
	b, err := appendKeyJSON(b, v, "  ")
	if err != nil {
		return err
	}
	a.b = b
	a.n++
	_, err = a.w.Write(b)
	return err
}

func (a *jsonArray) close() error {
	if a.n == 0 {
		_, err := io.WriteString(a.w, "[]\n")
		return err
	}
	_, err := io.WriteString(a.w, "\n]\n")
	return err
}
