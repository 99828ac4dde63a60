package apikey

import (
	"strings"
	"time"
)

// Reason says why a presented key was refused. The reasons are part of the
// contract of verify and serve.
type Reason string

const (
	ReasonNone       Reason = ""
	ReasonMissingKey Reason = "missing_key"
	ReasonMalformed  Reason = "malformed"
	ReasonInvalid    Reason = "invalid"
	ReasonInactive   Reason = "inactive"
	ReasonExpired    Reason = "expired"

	// Only serve refuses for these, a key that is good otherwise: used
	// from an address outside its allowlist (403), or over its rate
	// limit (429).
	ReasonIPNotAllowed Reason = "ip_not_allowed"
	ReasonRateLimited  Reason = "rate_limited"
)

// Judge decides whether a key found by its secret's hash may be used now.
// secretExpiresAt is set for an old secret in its grace period after a
// rotation. companyID, when not empty, is the id of the company the client
// claimed (the company header, or the one company that verify --company
// names): a key of another company is answered exactly as an unknown one,
// so that one tenant cannot learn of another's keys. Only ids are compared:
// a name or ref is resolved to one company first, so that a company named
// after another's id can never pass for it.
func Judge(k Key, secretExpiresAt *time.Time, companyID string, now time.Time) Reason {
	if secretExpiresAt != nil && !now.Before(*secretExpiresAt) {
		return ReasonInvalid
	}
	if companyID != "" && !strings.EqualFold(companyID, k.Company.ID) {
		return ReasonInvalid
	}
	switch k.EffectiveStatus(now) {
	case StatusExpired:
		return ReasonExpired
	case StatusInactive:
		return ReasonInactive
	}
	return ReasonNone
}
