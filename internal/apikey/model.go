package apikey

import (
	"time"
)

// Company is a customer of the service; its ID is the value of the company
// header that API clients send.
type Company struct {
	ID        string
	Name      string
	Ref       string // optional external identifier (a tax id, say); "" when unset
	Keys      int    // number of keys it owns, filled by queries that count them
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CompanyRef is how a key or an event names its company.
type CompanyRef struct {
	ID   string
	Name string
	Ref  string
}

// Status is the state an administrator sets on a key.
type Status string

const (
	StatusActive   Status = "active"
	StatusInactive Status = "inactive"
	// StatusExpired is never stored: it is how an active or inactive key
	// whose expiry has passed is shown and filtered.
	StatusExpired Status = "expired"
)

// ParseStatus accepts the statuses a user may filter by.
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case StatusActive, StatusInactive, StatusExpired:
		return Status(s), nil
	}
	return "", Usagef("invalid status %q", s).WithHint("use active, inactive or expired")
}

// Key is an API key. Its secret is never part of it: only the hint is.
type Key struct {
	ID         string
	Company    CompanyRef
	Name       string
	Status     Status // stored status: active or inactive
	Hint       string
	Scopes     []string
	Metadata   map[string]string
	CreatedAt  time.Time
	CreatedBy  string
	UpdatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	Sealed     bool     // a sealed copy of the current secret is stored
	RateLimit  string   // canonical N/s, N/m or N/h (RateLimit.String); "" for none
	AllowedIPs []string // canonical CIDRs (ParseAllowedIPs); empty: any address
	// Legacy is set on a key imported from another system: its secret is
	// not of apikey's format, and a rotation gives it one that is.
	Legacy bool
}

// Expired reports whether the key's expiry has passed at now.
func (k Key) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// EffectiveStatus is the status shown to users: expired once the expiry has
// passed, else the stored status.
func (k Key) EffectiveStatus(now time.Time) Status {
	if k.Expired(now) {
		return StatusExpired
	}
	return k.Status
}

// Event is one entry of the audit trail. It keeps the names of its company and
// key as they were, so it outlives them.
type Event struct {
	Seq     int64
	At      time.Time
	Actor   string
	Action  string
	Company *CompanyRef // nil for events about no company
	Key     *KeyRef     // nil for company events
	Details map[string]any
	// DBRole is the database role that made the change, as the database
	// itself recorded it (PostgreSQL); "" where the engine has no roles.
	DBRole string
}

// KeyRef is how an event names its key.
type KeyRef struct {
	ID   string
	Name string
}

// Actions recorded in the audit trail.
const (
	ActionCompanyCreate = "company.create"
	ActionCompanyUpdate = "company.update"
	ActionCompanyDelete = "company.delete"
	ActionKeyCreate     = "key.create"
	ActionKeyEnable     = "key.enable"
	ActionKeyDisable    = "key.disable"
	ActionKeyUpdate     = "key.update"
	ActionKeyRotate     = "key.rotate"
	ActionKeyDelete     = "key.delete"
	ActionKeyReveal     = "key.reveal"
)
