// Package portable is the file format of `apikey export` and `apikey import`:
// JSON Lines, one record per line, each with a "type", in the order import
// replays them: a header, the companies, the keys with their secrets, the
// events, and an end record that counts them, so that a file cut short is
// told from a whole one. docs/export.md describes every field.
//
// It also reads the CSV of legacy keys (`import --plaintext`). It knows
// nothing of databases: the store streams records into a Writer and takes
// them from a Reader.
package portable

import (
	"time"
)

// Format names the format in the header record.
const Format = "apikey-export"

// Version is the version of the format this apikey writes, and the newest
// it reads.
const Version = 1

// MaxLine bounds a line of an export: a key with every scope, metadata
// entry and allowlist entry it may have fits many times over.
const MaxLine = 1 << 20

// Record types.
const (
	TypeHeader  = "header"
	TypeCompany = "company"
	TypeKey     = "key"
	TypeEvent   = "event"
	TypeEnd     = "end"
)

// Header is the first record of an export.
type Header struct {
	Type       string    `json:"type"`
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
	// Source is the engine of the store exported: sqlite or postgres.
	Source string `json:"source"`
	// Apikey is the version of apikey that wrote the file.
	Apikey string `json:"apikey"`
	// Companies are the ids of the companies exported, null for the whole
	// store.
	Companies []string `json:"companies"`
}

type companyRecord struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Ref       *string   `json:"ref"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type keyRecord struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	CompanyID  string            `json:"company_id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
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
	Secrets    []secretRecord    `json:"secrets"`
}

type secretRecord struct {
	Hash      string     `json:"hash"` // SHA-256 of the secret, base64
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Sealed    *string    `json:"sealed"` // AES-256-GCM under the master key, base64
	Legacy    bool       `json:"legacy"`
}

type eventRecord struct {
	Type    string         `json:"type"`
	Seq     int64          `json:"seq"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	DBRole  *string        `json:"db_role"`
	Action  string         `json:"action"`
	Company *refRecord     `json:"company"`
	Key     *refRecord     `json:"key"`
	Details map[string]any `json:"details"`
}

type refRecord struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// End is the last record of an export: how many records of each type it
// holds.
type End struct {
	Type      string `json:"type"`
	Companies int    `json:"companies"`
	Keys      int    `json:"keys"`
	Events    int    `json:"events"`
}
